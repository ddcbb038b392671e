/*
 * loop.h - the responder's event loop (epoll(7)): accepts FastCGI
 * connections on fd 0, reads each request until it is whole, routes it,
 * watches parked ones for a client that leaves, times out slow senders,
 * and stops on a signal (signalfd(2)). One per process.
 */
#ifndef SERIALCGI_LOOP_H
#define SERIALCGI_LOOP_H

#include "http.h"
#include "settings.h"

/*
 * loop_init: the epoll set, the signalfd for the stop signals (TERM,
 * INT, HUP, QUIT, blocked in every thread from here on) and the eventfd
 * the runner hands connections back through. Returns 0, or -1 with
 * errno set.
 */
int loop_init(void);

/*
 * loop_run: serve until a stop signal, then drain: parked requests get
 * 503 with Retry-After, the work in progress finishes and is answered.
 * Returns the signal number that stopped it, or -1 with errno set if
 * epoll_wait(2) failed.
 */
int loop_run(const struct config *cfg);

/*
 * loop_done: the runner is done with c (answered or not): the loop
 * closes and frees it. Safe from the runner's thread.
 */
void loop_done(struct conn *c);

#endif
