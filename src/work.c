/* work.c - the serialized work and its log. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "work.h"

int
work(double start, double seconds)
{
	double end = start + seconds, now;

	/* Waking a thread costs about 60 us here (a VM leaving idle),
	 * timer slack or not: sleep to just short of the deadline, then
	 * spin the rest, so the work ends on time to the microsecond. */
	if (seconds > WORK_SPIN && mono_sleep_until(end - WORK_SPIN) == -1)
		return -1;
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
    double arrived)
{
	char line[160];
	int n;

	if (fd < 0)
		return 0;
	n = snprintf(line, sizeof(line), "%s %.9f %ld %.64s %.9f\n", event, t,
	    (long)getpid(), id, arrived);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = EOVERFLOW;
		return -1;
	}
	return write(fd, line, (size_t)n) == n ? 0 : -1;
}
