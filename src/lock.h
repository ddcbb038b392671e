/* lock.h - mutual exclusion of work() across threads and processes. */
#ifndef SERIALCGI_LOCK_H
#define SERIALCGI_LOCK_H

#include <stdatomic.h>
#include <stddef.h>

/*
 * lock_check: create the lock file if missing and refuse it if it is a
 * symlink, not a regular file, owned by another user, or group- or
 * world-accessible: anyone who can open it can hold the lock forever.
 * Returns 0, or -1 with errno set and a reason such as "is a symlink"
 * written to why (at most len bytes).
 */
int lock_check(const char *path, char *why, size_t len);

/*
 * lock_open: one open file description for flock(2). Each thread needs
 * its own: a flock belongs to the description, so two threads sharing
 * one fd would not exclude each other. O_NOFOLLOW|O_CLOEXEC, mode 0600.
 * Returns the fd, or -1 with errno set (ELOOP: a symlink).
 */
int lock_open(const char *path);

/*
 * lock_acquire: flock(fd, LOCK_EX), blocking. A signal interrupts the
 * wait (EINTR); the wait resumes unless *cancel equals key, in which
 * case it fails with ECANCELED. The kernel queues blocked flock waiters in
 * arrival order (fs/locks.c) and drops the lock when its holder dies.
 * Returns 0, or -1 with errno set.
 */
int lock_acquire(int fd, atomic_uint *cancel, unsigned key);

/*
 * lock_same: is fd still the file at path? Not if the lock file was
 * unlinked or replaced while we ran: a responder started since then
 * locks another inode, and flock no longer excludes it (stat(2)).
 * Returns 1 or 0.
 */
int lock_same(int fd, const char *path);

/* lock_release: flock(fd, LOCK_UN). Returns 0, or -1 with errno set. */
int lock_release(int fd);

#endif
