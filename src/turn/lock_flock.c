/*
 * lock_flock.c - the flock(2) backend: an exclusive lock on one shared
 * file. The kernel queues blocked waiters in arrival order (fs/locks.c,
 * Linux 4.19 and later) and drops the lock the moment its holder dies,
 * so the next waiter, already blocked here, starts within microseconds.
 */
#define _DEFAULT_SOURCE

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "lock.h"
#include "lock_flock.h"

/* The descriptor goes to LOCK_FD_LOW or above: a program's spawn
 * copies it to WORK_HOLD_FD after its progress pipe to 3 (work_cgi.c),
 * and neither copy may overwrite the other's source. */
static int
flock_open(struct lock *l)
{
	int fd, e;

	if ((fd = lock_file_open(l->where)) == -1)
		return -1;
	if ((l->fd = fcntl(fd, F_DUPFD_CLOEXEC, LOCK_FD_LOW)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

static int
cancelled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd != -1 && poll(&p, 1, 0) == 1;
}

/* flock(2) cannot wait on an fd as well: the cancel is seen before the
 * wait and, should a signal end it (EINTR), after. A runner whose
 * request left while it waits here takes the lock at its turn, sees
 * the request gone and lets go at once (runner.c). */
static int
flock_acquire(struct lock *l, int cancel_fd)
{
	for (;;) {
		if (cancelled(cancel_fd)) {
			errno = ECANCELED;
			return -1;
		}
		if (flock(l->fd, LOCK_EX) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
flock_try(struct lock *l)
{
	int rc;

	do
		rc = flock(l->fd, LOCK_EX | LOCK_NB);
	while (rc == -1 && errno == EINTR);
	return rc;
}

/* Still the file at the path? Not if it was unlinked or replaced while
 * we ran: a responder started since then locks another inode, and the
 * two no longer exclude each other (stat(2)). */
static int
flock_still_held(struct lock *l)
{
	struct stat a, b;

	if (fstat(l->fd, &a) == 0 && a.st_nlink > 0 &&
	    stat(l->where, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return 1;
	errno = ESTALE;
	return 0;
}

static int
flock_release(struct lock *l)
{
	int rc;

	do
		rc = flock(l->fd, LOCK_UN);
	while (rc == -1 && errno == EINTR);
	return rc;
}

static void
flock_close(struct lock *l)
{
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
}

const struct lock_backend lock_flock = {
	.name = "flock",
	.open = flock_open,
	.acquire = flock_acquire,
	.try_acquire = flock_try,
	.still_held = flock_still_held,
	.release = flock_release,
	.close = flock_close,
};
