/*
 * lock.h - mutual exclusion of work() across processes and hosts: one
 * type, several backends, in the manner of nginx's ngx_shmtx. flock(2)
 * on a shared file is the first backend and the embedded default.
 */
#ifndef SERIALCGI_LOCK_H
#define SERIALCGI_LOCK_H

#include <stddef.h>
#include <stdint.h>

struct lock;
struct engine;

struct lock_backend {
	const char	*name;
	int		(*open)(struct lock *);
	int		(*connect)(struct lock *);	/* or NULL */
	int		(*acquire)(struct lock *, int cancel_fd);
	int		(*try_acquire)(struct lock *);	/* or NULL */
	int		(*still_held)(struct lock *);
	int		(*watch_fd)(struct lock *);	/* or NULL */
	int		(*release)(struct lock *);
	void		(*close)(struct lock *);
};

/* The lowest descriptor a lock file gets: the ones below are a
 * program's (work.h's WORK_HOLD_FD and under). */
#define LOCK_FD_LOW	10

struct lock {
	const struct lock_backend *be;
	const char	*where;		/* the lock file's path */
	int		 fd;		/* flock: our own open description */
	const char	*url;		/* postgresql: the engine, libpq's
					 * URL or conninfo */
	long		 key;		/* postgresql: advisory lock key */
	struct engine	*engine;	/* postgresql: the session */
	uint64_t	 token;		/* fencing token of the last grant;
					 * 0 with flock alone */
	char		 error[200];	/* the engine's last complaint */
};

/* The backends: flock(2) alone (lock_flock.h), and a cohort lock
 * across hosts through PostgreSQL (lock_pg.h). */

/*
 * lock_open: set l up for backend be: `where` is the lock file's path;
 * url and key are the engine's (NULL and 0 for flock alone). Each turn
 * runner needs its own: a flock belongs to the open file description,
 * and an advisory lock to the session, so two holders sharing one
 * would not exclude each other. Connects to no engine yet.
 * Returns 0, or -1 with errno set (ELOOP: a symlink).
 */
int lock_open(struct lock *l, const struct lock_backend *be,
    const char *where, const char *url, long key);

/*
 * lock_connect: open the engine's session ahead of the first turn, so
 * /status can tell at once whether it is reachable. Never waits longer
 * than a connect (1 s). Returns 0 (also for backends without an
 * engine), or -1 with errno ENOTCONN (unreachable) or EPERM (reachable,
 * but not as the lock needs it: its fencing sequence) and l->error
 * set.
 */
int lock_connect(struct lock *l);

/*
 * lock_acquire: wait until l is ours. cancel_fd, if not -1, is an fd
 * that turns readable to call the wait off; backends that wait on a
 * socket poll it too, flock(2) looks at it before and after its wait.
 * With an engine, l->token is the grant's fencing token afterwards.
 * Returns 0, or -1 with errno set: ECANCELED (called off; nothing is
 * held), ENOTCONN (engine unreachable: fail closed), EIO (the engine
 * refused, l->error says why).
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
 * Returns 1, or 0 with errno ESTALE (the file was unlinked or replaced:
 * a responder started since then locks another inode) or ENOLCK (the
 * engine's session is gone, and the advisory lock with it).
 */
int lock_still_held(struct lock *l);

/*
 * lock_watch_fd: an fd that turns readable when the lock may have been
 * lost while held (the engine's socket: an error, a termination, EOF),
 * for the holder to poll during its work and then ask
 * lock_still_held(). Returns the fd, or -1 when nothing can be lost.
 */
int lock_watch_fd(struct lock *l);

/*
 * lock_release: let go. Returns 0, or -1 with errno set: ENOLCK when
 * the engine did not confirm that we held the lock to the end
 * (pg_advisory_unlock returned false, or the session was lost): the
 * work may have overlapped another's and must not be reported done.
 */
int lock_release(struct lock *l);

/*
 * lock_hold_fd: the descriptor whose open file description holds the
 * host's lock (flock(2), with either backend), for a work's program to
 * inherit. A flock belongs to the description and lasts while any
 * descriptor of it is open, in any process (flock(2)): so the lock
 * outlives a holder killed while what it started still runs, and the
 * next work waits for the last of those to end. Returns the fd, or -1
 * when none is open.
 */
int lock_hold_fd(struct lock *l);

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
