/* clock.c - the one clock of the responder: CLOCK_MONOTONIC seconds. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <time.h>

#include "clock.h"

double
mono_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return -1.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
mono_sleep_until(double when)
{
	struct timespec until;
	int rc;

	until.tv_sec = (time_t)floor(when);
	until.tv_nsec = (long)((when - floor(when)) * 1e9);
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
mono_ms_until(double when)
{
	double ms = (when - mono_now()) * 1e3;

	if (ms <= 0)
		return 0;
	return ms > 1e9 ? 1000000000 : (int)ceil(ms);
}
