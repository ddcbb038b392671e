/* watch.h - notice waiters whose client has gone. */
#ifndef SERIALCGI_WATCH_H
#define SERIALCGI_WATCH_H

#include <signal.h>

#include "serialcgi.h"

/* watch_init: create the epoll(7) instance. Returns 0, or -1 with
 * errno set. */
int watch_init(void);

/*
 * watch_add: watch slot `i`'s connection while it waits: epoll(7)
 * EPOLLRDHUP, one-shot. O(1), so a burst of arrivals costs nothing
 * more per request. Returns 0, or -1 with errno set.
 */
int watch_add(struct slot *slots, long i);

/* watch_del: stop watching slot `i`'s connection (before it closes). */
void watch_del(struct slot *slots, long i);

/*
 * watch_run: until *stop is set, wait for nginx to close a waiter's
 * connection (its client went away); then set that slot's cancel flag
 * and interrupt its wait with SIGUSR2, so the waiter leaves the queue
 * instead of working for nobody. mask is the signal mask during
 * epoll_pwait(2): it must let the stop signals in.
 * Returns 0 when *stop is set, or -1 with errno set.
 */
int watch_run(struct slot *slots, long n, const sigset_t *mask,
    volatile sig_atomic_t *stop);

/* watch_close: release the epoll instance. */
void watch_close(void);

#endif
