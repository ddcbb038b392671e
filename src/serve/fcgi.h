/*
 * fcgi.h - the responder's FastCGI connections, in the event loop
 * (loop.h): accepts on fd 0 (the listener spawn-fcgi or systemd
 * passes), reads each request until it is whole, has it routed
 * (http.h), watches a parked one for a client that leaves, closes
 * what the turn runner hands back, and times out slow senders.
 */
#ifndef SERIALCGI_FCGI_H
#define SERIALCGI_FCGI_H

#include "settings.h"

/*
 * fcgi_start: make fd 0 non-blocking and watch it, with the eventfd
 * the runner hands connections back through. Call after loop_init().
 * Returns 0, or -1 with errno set (fcntl(2), eventfd(2), epoll_ctl(2)).
 */
int fcgi_start(const struct config *cfg);

/* fcgi_went_busy: this process went from idle to busy outside a route
 * (a batch of jobs gave its runner work): it moves to the back of the
 * listener's queue, as a parked request does (fcgi.c). */
void fcgi_went_busy(void);

/*
 * fcgi_drain: stop for good: accept no more, close the requests still
 * reading, and answer every parked one 503 (TURN_STOPPING, through the
 * runner's queue: runner_drain), whether an HTTP request or a stored
 * job's turn. The work in progress goes on; runner_working() tells
 * when it is over. Call from a timer, never from a file event: it frees
 * connections that later events of a batch may point at (loop.h).
 */
void fcgi_drain(void);

#endif
