/* clock.c - the one clock of the responder: CLOCK_MONOTONIC seconds. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <time.h>

#include "clock.h"

double
clock_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return -1.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
clock_wall(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
clock_wall_at(double m)
{
	return clock_wall() - (clock_now() - m);
}

int
clock_sleep_until(double when)
{
	struct timespec until;
	int rc;

	/* when > 0: the cast truncates, as floor(3) would (and the
	 * responder needs no libm). */
	until.tv_sec = (time_t)when;
	until.tv_nsec = (long)((when - (double)until.tv_sec) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	/* An absolute deadline makes a restart after EINTR exact. */
	do
		rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
		    NULL);
	while (rc == EINTR);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

int
clock_ms_until(double when)
{
	double ms = (when - clock_now()) * 1e3;

	if (ms <= 0)
		return 0;
	if (ms > 1e9)
		return 1000000000;
	return (int)ms + ((double)(int)ms < ms);
}

double
clock_round_us(double seconds)
{
	double us = seconds * 1e6;

	return (double)(long long)(us + (us < 0 ? -0.5 : 0.5)) / 1e6;
}
