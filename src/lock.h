/*
 * lock.h - mutual exclusion of work() across processes and hosts: one
 * type, several backends, in the manner of nginx's ngx_shmtx. flock(2)
 * on a shared file is the first backend and the embedded default.
 */
#ifndef SERIALCGI_LOCK_H
#define SERIALCGI_LOCK_H

#include <stddef.h>

struct lock;

struct lock_backend {
	const char	*name;
	int		(*open)(struct lock *);
	int		(*acquire)(struct lock *, int cancel_fd);
	int		(*try_acquire)(struct lock *);	/* or NULL */
	int		(*still_held)(struct lock *);
	int		(*release)(struct lock *);
	void		(*close)(struct lock *);
};

struct lock {
	const struct lock_backend *be;
	const char	*where;		/* flock: the lock file's path */
	int		 fd;		/* flock: our own open description */
};

/* flock(2) on a shared file: lock_flock.c. */
extern const struct lock_backend lock_flock;

/*
 * lock_open: set l up for backend be at `where` (a path for flock).
 * Each turn runner needs its own: a flock belongs to the open file
 * description, so two holders sharing one would not exclude each
 * other. Returns 0, or -1 with errno set (ELOOP: a symlink).
 */
int lock_open(struct lock *l, const struct lock_backend *be,
    const char *where);

/*
 * lock_acquire: wait until l is ours. cancel_fd, if not -1, is an fd
 * that turns readable to call the wait off; backends that wait on a
 * socket poll it too, flock(2) looks at it before and after its wait.
 * Returns 0, or -1 with errno set (ECANCELED: called off).
 */
int lock_acquire(struct lock *l, int cancel_fd);

/*
 * lock_try: take l only if that needs no wait (backends that cannot
 * tell without a round trip say no). Returns 0 with l held, or -1 with
 * errno EWOULDBLOCK.
 */
int lock_try(struct lock *l);

/*
 * lock_still_held: is what we hold still the lock everyone else sees?
 * For flock, not if the file was unlinked or replaced (a responder
 * started since then locks another inode). Returns 1 or 0.
 */
int lock_still_held(struct lock *l);

/* lock_release: let go. Returns 0, or -1 with errno set. */
int lock_release(struct lock *l);

/* lock_close: release what lock_open took. */
void lock_close(struct lock *l);

/*
 * lock_file_open: open a lock file for flock(2): O_RDWR|O_CREAT,
 * O_NOFOLLOW (a symlink fails with ELOOP), O_CLOEXEC, mode 0600.
 * Returns the fd, or -1 with errno set.
 */
int lock_file_open(const char *path);

/*
 * lock_check: create the lock file if missing and refuse it if it is a
 * symlink, not a regular file, owned by another user, or group- or
 * world-accessible: anyone who can open it can hold the lock forever.
 * Returns 0, or -1 with errno set and a reason such as "is a symlink"
 * written to why (at most len bytes).
 */
int lock_check(const char *path, char *why, size_t len);

#endif
