/* work.c - the serialized work and its log. */
#define _GNU_SOURCE	/* ppoll */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "work.h"

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
		if ((now = mono_now()) < 0)
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

int
work(double start, double seconds, int watch_fd)
{
	double end = start + seconds, now;
	int rc;

	/* Waking a thread costs about 60 us here (a VM leaving idle),
	 * timer slack or not: sleep to just short of the deadline, then
	 * spin the rest, so the work ends on time to the microsecond. */
	if (seconds > WORK_SPIN) {
		rc = watch_fd < 0 ? mono_sleep_until(end - WORK_SPIN) :
		    sleep_watching(end - WORK_SPIN, watch_fd);
		if (rc != 0)
			return rc;
	}
	do
		if ((now = mono_now()) < 0)
			return -1;
	while (now < end);
	return 0;
}

int
worklog_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

int
worklog_write(int fd, const char *event, double t, const char *id,
    double arrived, uint64_t token)
{
	char line[192];
	int n;

	if (fd < 0)
		return 0;
	n = snprintf(line, sizeof(line), "%s %.9f %ld %.64s %.9f %llu\n",
	    event, t, (long)getpid(), id, arrived, (unsigned long long)token);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = EOVERFLOW;
		return -1;
	}
	return write(fd, line, (size_t)n) == n ? 0 : -1;
}
