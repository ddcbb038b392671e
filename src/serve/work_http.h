/*
 * work_http.h - /work and everything under it: with WORK_COMMAND, each
 * request takes its turn exactly as GET /test does, and its work is the
 * program, run as CGI/1.1 (RFC 3875) with the request (cgi_env.h, the
 * body on stdin); the answer is the program's CGI response, with
 * Server-Timing and, with a lock engine, X-Fence-Token. A missing or
 * malformed header block, or an answer over WORK_OUTPUT_MAX, is a 502;
 * no end within WORK_TIMEOUT a 504; a lost lock a 503. Without
 * WORK_COMMAND, /work is 404.
 */
#ifndef SERIALCGI_WORK_HTTP_H
#define SERIALCGI_WORK_HTTP_H

#include "conn.h"
#include "settings.h"
#include "source.h"

/* work_http_init: whether there is a program, and WORK_ON_ABORT. */
void work_http_init(const struct config *cfg);

/* work_http_ops: for a request to /work: the source operations to park
 * c with, or NULL when it is answered already (404 without a program,
 * 503 for one nginx's limit_conn refused). */
const struct source_ops *work_http_ops(struct conn *c);

/* work_http_backend: the work of /work (work_cgi, work_upstream), or
 * NULL for none; after work_http_init. */
const struct work_backend *work_http_backend(void);

#endif
