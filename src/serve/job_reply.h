/*
 * job_reply.h - the answers the job resources share (jobs_http.c,
 * jobs_submit.c): a job as JSON, and the errors, each with its status
 * and one line why, a store failure naming its cause.
 */
#ifndef SERIALCGI_JOB_REPLY_H
#define SERIALCGI_JOB_REPLY_H

#include <stddef.h>

#include "conn.h"
#include "store.h"

/* job_reply_final: is j final (succeeded, failed, canceled)? 1 or 0. */
int job_reply_final(const struct job *j);

/* job_reply: answer c with status and j (job_json), Cache-Control:
 * no-store, Retry-After while j is not final (the monitor's poll
 * interval, RFC 9110 10.2.3) and extra header lines (CRLF-ended, or
 * ""). Returns as reply_json. */
int job_reply(struct conn *c, int status, const char *extra,
    const struct job *j);

/* job_reply_cause: a store failure (error: errno as store.h sets it)
 * in words that name its cause, into msg (len bytes): full, lost, or
 * otherwise unavailable. */
void job_reply_cause(int error, char *msg, size_t len);

/* job_reply_unavailable_msg: 503 with Retry-After and msg, logged;
 * job_reply_unavailable: the same for the store failure that just
 * happened (errno). job_reply_not_allowed: 405 with Allow: allow.
 * job_reply_bad: status (4xx) with why, logged. Return as reply_json. */
int job_reply_unavailable_msg(struct conn *c, const char *msg);
int job_reply_unavailable(struct conn *c);
int job_reply_not_allowed(struct conn *c, const char *allow);
int job_reply_bad(struct conn *c, int status, const char *why);

#endif
