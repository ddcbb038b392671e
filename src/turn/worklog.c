/* worklog.c - the opt-in work log. */
#define _GNU_SOURCE	/* dup3 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "worklog.h"

int
worklog_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

int
worklog_reopen(const char *path, int fd)
{
	int nfd, rc = 0, e;

	if ((nfd = worklog_open(path)) == -1)
		return -1;
	if (dup3(nfd, fd, O_CLOEXEC) == -1)
		rc = -1;
	e = errno;
	close(nfd);
	errno = e;
	return rc;
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
