/*
 * jobs_http.h - the HTTP resources of asynchronous jobs (RFC 9110
 * 15.3.3: a 202 points to a status monitor):
 *   POST /jobs                submit: 202 Accepted, Location, Retry-After
 *   GET|HEAD /jobs            list, newest first (this host's clients)
 *   GET|HEAD /jobs/{id}       the status monitor
 *   POST /jobs/{id}/cancel    a queued job becomes canceled
 */
#ifndef SERIALCGI_JOBS_HTTP_H
#define SERIALCGI_JOBS_HTTP_H

#include "conn.h"

/*
 * jobs_http_route: answer a request for /jobs or below. stopping: the
 * responder takes no new job. Returns 1 when a job it queued gave this
 * idle process work, else 0; c may be closed either way: a job is
 * never tied to the connection that submitted it.
 */
int jobs_http_route(struct conn *c, int stopping);

#endif
