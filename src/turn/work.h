/* work.h - the serialized work and its log. */
#ifndef SERIALCGI_WORK_H
#define SERIALCGI_WORK_H

#include <stdint.h>

#define WORK_SPIN	200e-6	/* seconds spun before a deadline */

/*
 * work: the critical section. Lasts until `start + seconds` on
 * CLOCK_MONOTONIC (clock.h): a sleep to WORK_SPIN before it, then a
 * spin on the clock, since a wake-up alone is tens of microseconds
 * late. `start` is the mono_now() taken when the work began.
 * watch_fd, if not -1, is polled during the sleep (lock_watch_fd): the
 * work stops early when it turns readable, and the caller decides
 * whether to go on (call again with the same start).
 * Returns 0 at the end, 1 if watch_fd turned readable first, or -1
 * with errno set if the clock fails.
 */
int work(double start, double seconds, int watch_fd);

/*
 * worklog_open: open the opt-in work log for appending, 0600,
 * O_NOFOLLOW|O_CLOEXEC. Returns the fd, or -1 with errno set.
 */
int worklog_open(const char *path);

/*
 * worklog_write: append one line "<event> <mono seconds> <pid> <id>
 * <arrival mono seconds> <fencing token, 0 with flock>" with a
 * single write(2), so lines from many processes never mix (O_APPEND,
 * write(2)). Does nothing if fd < 0. Returns 0, or -1 with errno set.
 */
int worklog_write(int fd, const char *event, double t, const char *id,
    double arrived, uint64_t token);

#endif
