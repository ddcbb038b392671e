/* lock.c - the lock type, its backends' entry points, file checks. */
#define _DEFAULT_SOURCE

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"

int
lock_open(struct lock *l, const struct lock_backend *be, const char *where,
    const char *url, long key)
{
	memset(l, 0, sizeof(*l));
	l->be = be;
	l->where = where;
	l->url = url;
	l->key = key;
	l->fd = -1;
	return be->open(l);
}

int
lock_connect(struct lock *l)
{
	return l->be->connect != NULL ? l->be->connect(l) : 0;
}

int
lock_watch_fd(struct lock *l)
{
	return l->be->watch_fd != NULL ? l->be->watch_fd(l) : -1;
}

int
lock_hold_fd(struct lock *l)
{
	return l->fd;
}

int
lock_acquire(struct lock *l, int cancel_fd)
{
	return l->be->acquire(l, cancel_fd);
}

int
lock_try(struct lock *l)
{
	if (l->be->try_acquire == NULL) {
		errno = EWOULDBLOCK;
		return -1;
	}
	return l->be->try_acquire(l);
}

int
lock_still_held(struct lock *l)
{
	return l->be->still_held(l);
}

int
lock_release(struct lock *l)
{
	return l->be->release(l);
}

void
lock_close(struct lock *l)
{
	if (l->be != NULL)
		l->be->close(l);
	l->be = NULL;
}

int
lock_file_open(const char *path)
{
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static int
refuse(char *why, size_t len, int error, const char *fmt, long arg)
{
	snprintf(why, len, fmt, arg);
	errno = error;
	return -1;
}

/* Judge what lstat(2) or fstat(2) saw. Returns 0 or -1 as lock_check. */
static int
judge(const struct stat *st, char *why, size_t len)
{
	if (S_ISLNK(st->st_mode))
		return refuse(why, len, ELOOP, "is a symlink", 0);
	if (!S_ISREG(st->st_mode))
		return refuse(why, len, EINVAL, "is not a regular file", 0);
	if (st->st_uid != geteuid())
		return refuse(why, len, EPERM,
		    "is owned by another user (uid %ld)", (long)st->st_uid);
	if (st->st_mode & 077)
		return refuse(why, len, EPERM,
		    "is group- or world-accessible (mode %04lo), want 0600",
		    (long)(st->st_mode & 07777));
	return 0;
}

int
lock_check(const char *path, char *why, size_t len)
{
	struct stat st;
	int fd, rc;

	/* Judge an existing file before open(2), for a precise reason;
	 * then again through the fd, which no rename can swap. */
	if (lstat(path, &st) == 0 && judge(&st, why, len) == -1)
		return -1;
	if ((fd = lock_file_open(path)) == -1) {
		rc = errno;
		snprintf(why, len, "%s", rc == ELOOP ? "is a symlink" :
		    strerror(rc));
		errno = rc;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		rc = refuse(why, len, errno, "fstat failed", 0);
	else
		rc = judge(&st, why, len);
	close(fd);
	return rc;
}
