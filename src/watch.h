/* watch.h - notice waiters whose client has gone. */
#ifndef SERIALCGI_WATCH_H
#define SERIALCGI_WATCH_H

#include <signal.h>

#include "serialcgi.h"

/* watch_init: create the wake-up eventfd(2). Returns 0, or -1 with
 * errno set. */
int watch_init(void);

/* watch_notify: tell the watcher that a thread became a waiter.
 * Async-signal-safe; errors are ignored (the fd is non-blocking). */
void watch_notify(void);

/*
 * watch_run: until *stop is set, poll(2) the connections of all
 * waiters for POLLRDHUP. When nginx closes one (its client went away),
 * set that slot's cancel flag and interrupt its flock(2) with SIGUSR2,
 * so the waiter leaves the queue instead of working for nobody.
 * mask is the signal mask during ppoll(2): it must let the stop
 * signals in. Returns 0 when *stop is set, or -1 with errno set.
 */
int watch_run(struct slot *slots, long n, const sigset_t *mask,
    volatile sig_atomic_t *stop);

/* watch_close: release the eventfd. */
void watch_close(void);

#endif
