/* clock.h - the one clock of the responder: CLOCK_MONOTONIC seconds. */
#ifndef SERIALCGI_CLOCK_H
#define SERIALCGI_CLOCK_H

/*
 * clock_now: CLOCK_MONOTONIC now, in seconds (clock_gettime(2)). Every
 * stamp (arrival, start and end of work, deadlines, the work log) comes
 * from here, so all of them compare, across processes too.
 * Never fails on Linux; returns -1.0 if the clock is unavailable.
 */
double clock_now(void);

/*
 * clock_sleep_until: sleep until `when` (mono s) with TIMER_ABSTIME, so
 * a signal cannot stretch the sleep (clock_nanosleep(2)).
 * Returns 0, or -1 with errno set.
 */
int clock_sleep_until(double when);

/* clock_ms_until: milliseconds from now until `when` (mono s), rounded
 * up, 0 if it has passed: an epoll_wait(2) timeout. */
int clock_ms_until(double when);

/* clock_wall: CLOCK_REALTIME now, in seconds since the epoch: only for
 * dates shown to people (a job's created_at); durations never use it.
 * clock_wall_at: the wall time of the mono instant m (mono s). */
double clock_wall(void);
double clock_wall_at(double m);

/* clock_round_us: seconds rounded to the nearest microsecond, for answers
 * that stay short and exact. */
double clock_round_us(double seconds);

#endif
