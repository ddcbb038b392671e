/* work_sleep.c - the work as a sleep: see work_sleep.h. */
#define _GNU_SOURCE	/* ppoll */

#include <errno.h>
#include <poll.h>
#include <time.h>

#include "clock.h"
#include "work_sleep.h"

/* Sleep until `until` (mono s) or until fd turns readable (ppoll(2),
 * nanoseconds). Returns 0 at the time, 1 if fd is ready, or -1. */
static int
sleep_watching(double until, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	struct timespec ts;
	double left, now;
	int rc;

	for (;;) {
		if ((now = clock_now()) < 0)
			return -1;
		if ((left = until - now) <= 0)
			return 0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		rc = ppoll(&p, 1, &ts, NULL);
		if (rc == 1)
			return 1;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

static double length;	/* s, one sleep */

/* Until start + seconds; 1 if watch_fd turned readable first. */
static int
until(double start, double seconds, int watch_fd)
{
	double end = start + seconds, now;
	int rc;

	/* Waking a thread costs about 60 us here (a VM leaving idle),
	 * timer slack or not: sleep to just short of the deadline, then
	 * spin the rest, so the work ends on time to the microsecond. */
	if (seconds > WORK_SPIN) {
		rc = watch_fd < 0 ? clock_sleep_until(end - WORK_SPIN) :
		    sleep_watching(end - WORK_SPIN, watch_fd);
		if (rc != 0)
			return rc;
	}
	do
		if ((now = clock_now()) < 0)
			return -1;
	while (now < end);
	return 0;
}

static int
sleep_run(struct work *w)
{
	int rc;

	while ((rc = until(w->start, length, w->watch_fd)) == 1)
		if (!w->held(w->held_arg)) {
			w->end = WORK_LOST;
			return 0;
		}
	return rc;
}

void
work_sleep_init(double seconds)
{
	length = seconds;
}

const struct work_backend work_sleep = {
	.name = "sleep",
	.run = sleep_run,
};
