/* job_reply.c - the answers of the job resources: see job_reply.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>

#include "job_json.h"
#include "job_reply.h"
#include "log.h"
#include "reply.h"

int
job_reply_final(const struct job *j)
{
	return j->status != JOB_QUEUED && j->status != JOB_RUNNING;
}

/* A job, with Retry-After while it is not final (the monitor's poll
 * interval) and extra headers. */
int
job_reply(struct conn *c, int status, const char *extra, const struct job *j)
{
	char hdr[256];
	cJSON *o = job_json(j);
	int rc;

	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\n%s%s", extra,
	    job_reply_final(j) ? "" : reply_retry_after());
	rc = reply_json(c, status, hdr, o);
	cJSON_Delete(o);
	return rc;
}

/* A store failure, in words that name the cause (errno as the store
 * set it: store.h): full, lost, or otherwise unavailable. */
void
job_reply_cause(int error, char *msg, size_t len)
{
	if (error == ENOSPC)	/* SQLite's words for SQLITE_FULL */
		snprintf(msg, len, "job store full: database or disk is "
		    "full");
	else if (error == ESTALE)
		snprintf(msg, len, "%s", store_error());
	else if (store_error()[0] != '\0')
		snprintf(msg, len, "job store unavailable: %s",
		    store_error());
	else	/* an engine being reached again has no error yet */
		snprintf(msg, len, "job store unavailable: it cannot be "
		    "reached now");
}

int
job_reply_unavailable_msg(struct conn *c, const char *msg)
{
	log_err("req=%s 503 %s", c->id, msg);
	return reply_error(c, 503, reply_retry_after(), msg);
}

/* 503 with Retry-After for the store failure that just happened. */
int
job_reply_unavailable(struct conn *c)
{
	char msg[256];

	job_reply_cause(errno, msg, sizeof(msg));
	return job_reply_unavailable_msg(c, msg);
}

int
job_reply_not_allowed(struct conn *c, const char *allow)
{
	char hdr[64];

	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
	return reply_error(c, 405, hdr, "method not allowed");
}

int
job_reply_bad(struct conn *c, int status, const char *why)
{
	log_msg("req=%s %d %s", c->id, status, why);
	return reply_error(c, status, "", why);
}
