/* http.h - map one FastCGI request to its HTTP response. */
#ifndef SERIALCGI_HTTP_H
#define SERIALCGI_HTTP_H

#include "serialcgi.h"

/*
 * http_serve: answer the request held in s->req (CGI/1.1 variables of
 * RFC 3875 as sent by nginx's fastcgi_params). GET and HEAD /test wait
 * for the lock, run work() and answer 200 {"elapsed": seconds}; other
 * methods get 405 with Allow, other paths 404; /status and /metrics
 * render the scoreboard. "elapsed" runs from the arrival ticket,
 * taken on entry, to the end of the work (CLOCK_MONOTONIC seconds).
 * Returns the HTTP status sent, 0 if the client left and nothing was
 * sent, or -1 with errno set if writing the response failed.
 */
int http_serve(struct slot *s, const struct config *cfg);

#endif
