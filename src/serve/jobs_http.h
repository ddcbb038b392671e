/*
 * jobs_http.h - the HTTP resources of asynchronous jobs (RFC 9110
 * 15.3.3: a 202 points to a status monitor):
 *   POST /jobs                submit: 202 Accepted, Location, Retry-After
 *   GET|HEAD /jobs            list, newest first (this host's clients)
 *   GET|HEAD /jobs/{id}       the status monitor
 *   GET|HEAD /jobs/{id}/result  the answer of a final job
 *   POST /jobs/{id}/cancel    a queued job becomes canceled, a running
 *                             job of real work is stopped
 */
#ifndef SERIALCGI_JOBS_HTTP_H
#define SERIALCGI_JOBS_HTTP_H

#include "conn.h"

/*
 * jobs_http_route: answer a request for /jobs or below. stopping: the
 * responder takes no new job. A submission is held for its batch: the
 * submissions whose requests came whole in one round of the event loop
 * are stored in one transaction after that round, then answered, and
 * their connections handed back through c->done. Returns 1 if c is
 * held so, or 0 if it was answered and may be closed.
 */
int jobs_http_route(struct conn *c, int stopping);

#endif
