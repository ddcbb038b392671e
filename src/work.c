/* work.c - the serialized work and the monotonic clock. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "work.h"

double
mono_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return -1.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
work(double start, double seconds)
{
	struct timespec until;
	double end = start + seconds;
	int rc;

	until.tv_sec = (time_t)floor(end);
	until.tv_nsec = (long)((end - floor(end)) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	/* An absolute deadline makes a restart after EINTR exact. */
	do
		rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
		    NULL);
	while (rc == EINTR);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

int
worklog_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

int
worklog_write(int fd, const char *event, double t, const char *id,
    double arrived)
{
	char line[160];
	int n;

	if (fd < 0)
		return 0;
	n = snprintf(line, sizeof(line), "%s %.9f %ld %.64s %.9f\n", event, t,
	    (long)getpid(), id, arrived);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = EOVERFLOW;
		return -1;
	}
	return write(fd, line, (size_t)n) == n ? 0 : -1;
}
