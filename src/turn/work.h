/* work.h - the serialized work: a sleep of a set length. */
#ifndef SERIALCGI_WORK_H
#define SERIALCGI_WORK_H

#define WORK_SPIN	200e-6	/* seconds spun before a deadline */

/*
 * work_sleep: the critical section, as a sleep. Lasts until `start +
 * seconds` on CLOCK_MONOTONIC (clock.h): a sleep to WORK_SPIN before, a
 * spin on the clock, since a wake-up alone is tens of microseconds
 * late. `start` is the clock_now() taken when the work began.
 * watch_fd, if not -1, is polled during the sleep (lock_watch_fd): the
 * work stops early when it turns readable, and the caller decides
 * whether to go on (call again with the same start).
 * Returns 0 at the end, 1 if watch_fd turned readable first, or -1
 * with errno set if the clock fails.
 */
int work_sleep(double start, double seconds, int watch_fd);

#endif
