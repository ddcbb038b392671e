/*
 * job_body.h - the body of POST /jobs, judged whole before anything is
 * queued: nothing, or one JSON object (RFC 8259) whose only member is
 * "callback_url", with nothing after it, in UTF-8, with no NUL in any
 * string (a C string would end there, and the stored URL with it).
 */
#ifndef SERIALCGI_JOB_BODY_H
#define SERIALCGI_JOB_BODY_H

#include <stddef.h>

/*
 * job_body_judge: the len bytes of body (with a NUL at body[len], as
 * conn.h keeps it). Returns 0 with the callback URL, or "" for none,
 * in url (ulen bytes, at least JOB_URL_MAX + 1); -1 with why, the
 * request's fault (a 400); or -2 with why, ours (the URL cannot be
 * checked now: a 503).
 */
int job_body_judge(const char *body, size_t len, char *url, size_t ulen,
    char *why, size_t wlen);

#endif
