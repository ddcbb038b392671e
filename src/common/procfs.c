/* procfs.c - small reads of proc(5): see procfs.h. */
#define _GNU_SOURCE	/* O_NOFOLLOW */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

ssize_t
procfs_read(const char *path, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	while (used < len - 1 &&
	    ((n = read(fd, buf + used, len - 1 - used)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			used += (size_t)n;
	saved = errno;
	close(fd);
	buf[used] = '\0';
	if (n == -1) {
		errno = saved;
		return -1;
	}
	if (used == len - 1) {
		errno = EOVERFLOW;
		return -1;
	}
	return (ssize_t)used;
}

char *
procfs_stat_after(long pid, char *buf, size_t len)
{
	char path[64], *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (procfs_read(path, buf, len) == -1)
		return NULL;
	if ((p = strrchr(buf, ')')) == NULL) {
		errno = EPROTO;
		return NULL;
	}
	return p + 1;
}

int
procfs_start(long pid, unsigned long long *ticks)
{
	char buf[1024], *p, state;

	if ((p = procfs_stat_after(pid, buf, sizeof(buf))) == NULL)
		return -1;
	/* From field 3 (state) on, 22 starttime is the 20th. */
	if (sscanf(p, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
	    "%*d %*d %*d %*d %*d %*d %llu", &state, ticks) != 2) {
		errno = EPROTO;
		return -1;
	}
	/* A zombie has exited: only its parent's wait(2) is missing. */
	if (state == 'Z' || state == 'X') {
		errno = ESRCH;
		return -1;
	}
	return 0;
}
