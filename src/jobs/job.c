/* job.c - a job's names: see job.h. */
#include <string.h>

#include "job.h"

static const char *const status_names[] = {
	"queued", "running", "succeeded", "failed", "canceled"
};

const char *
job_status_name(enum job_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ?
	    status_names[s] : "failed";
}

int
job_status_parse(const char *name, enum job_status *s)
{
	size_t i;

	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(name, status_names[i]) == 0) {
			*s = (enum job_status)i;
			return 0;
		}
	return -1;
}
