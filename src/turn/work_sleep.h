/* work_sleep.h - the work as a sleep of a set length: GET /test's, and
 * every work's without WORK_COMMAND. */
#ifndef SERIALCGI_WORK_SLEEP_H
#define SERIALCGI_WORK_SLEEP_H

#include "work.h"

#define WORK_SPIN	200e-6	/* seconds spun before a deadline */

/*
 * The backend: the work lasts until start + seconds (work_sleep_init)
 * on CLOCK_MONOTONIC: a sleep to WORK_SPIN before it, then a spin on
 * the clock, since a wake-up alone is tens of microseconds late. While
 * it sleeps, watch_fd is polled: when it turns readable and the lock
 * is no longer held, the work stops (WORK_LOST).
 */
extern const struct work_backend work_sleep;

/* work_sleep_init: the length of one sleep, seconds. */
void work_sleep_init(double seconds);

#endif
