/*
 * work_async.h - a /work request that prefers an answer at once
 * (Prefer: respond-async, RFC 7240 4.1) becomes a job of real work
 * (jobs_http.c queues it): what the job keeps of the request, to run it
 * later with the very same environment; and its answer once it ran,
 * GET /jobs/{id}/result.
 */
#ifndef SERIALCGI_WORK_ASYNC_H
#define SERIALCGI_WORK_ASYNC_H

#include <stddef.h>

#include "conn.h"
#include "store.h"

#define WORK_ASYNC_BODY_MAX	(1 << 20)	/* bytes of a request body
						 * a job keeps: nginx's
						 * client_max_body_size of
						 * /work */
#define WORK_ASYNC_PRINT_LEN	72	/* bytes of a request's print */

/* work_async_wanted: is c a /work request to queue as a job (it asks
 * respond-async, and there are jobs and work here)? Else it runs in
 * its turn as any other: a preference may be ignored (RFC 7240 2).
 * Returns 1 or 0. */
int work_async_wanted(const struct conn *c);

/*
 * work_async_keep: what the job keeps of c: the program's environment
 * as the request makes it (cgi_env.h), less the respond-async it asked
 * and got here, with its request id, into env;
 * its body, into in (both malloc'd: free p); and print, a digest of
 * its method, URI, type and body (at least WORK_ASYNC_PRINT_LEN bytes
 * of plen) that an Idempotency-Key's replay compares; and the URL of
 * its callback, if it asks one with Serialcgi-Callback-Url (checked as
 * POST /jobs's callback_url), into url (ulen bytes, at least
 * JOB_URL_MAX + 1; "" for none). Returns 0, or -1 with the status to
 * answer (400, 413, 500, 503) and why (at most wlen bytes).
 */
int work_async_keep(struct conn *c, struct job_blob *env,
    struct job_blob *in, char *print, size_t plen, char *url,
    size_t ulen, int *status, char *why, size_t wlen);

/*
 * work_async_result: answer GET /jobs/{id}/result for j, final: the
 * program's answer as it made it (status, header fields, body), or
 * what a stopped one had written (200, application/octet-stream,
 * Serialcgi-Result: partial); a job of the sleep, its /test answer;
 * else 404 saying why. Returns 0, or -1 (the store failed: errno).
 */
int work_async_result(struct conn *c, const struct job *j);

#endif
