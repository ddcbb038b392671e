/* privfile.c - small private files the responders share: privfile.h. */
#define _GNU_SOURCE	/* O_NOFOLLOW */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privfile.h"

ssize_t
privfile_read(const char *path, char *buf, size_t cap, char *why,
    size_t len)
{
	struct stat st;
	ssize_t got;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		e = errno;
		snprintf(why, len, "%s", e == ELOOP ? "is a symlink" :
		    strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		snprintf(why, len, "must be a regular file of ours, mode "
		    "0600 or 0400");
		close(fd);
		errno = EPERM;
		return -1;
	}
	got = read(fd, buf, cap - 1);
	e = errno;
	close(fd);
	if (got == -1) {
		snprintf(why, len, "%s", strerror(e));
		errno = e;
		return -1;
	}
	buf[got] = '\0';
	return got;
}

int
privfile_create(const char *path, const void *data, size_t n, char *why,
    size_t len)
{
	char tmp[4200];
	int fd, rc = -1, e = 0;

	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || write(fd, data, n) != (ssize_t)n || fsync(fd) == -1 ||
	    (link(tmp, path) == -1 && errno != EEXIST)) {
		e = errno;
		snprintf(why, len, "%.100s: %s", fd == -1 ? tmp : path,
		    strerror(e));
	} else
		rc = 0;
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	errno = e;
	return rc;
}
