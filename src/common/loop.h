/*
 * loop.h - an event loop that knows none of its users, in the manner of
 * redis's ae.c: they register file events (epoll(7)) and timers, each
 * with a callback, and the loop calls them. One per process, on one
 * thread; no call here is safe from another thread (hand work over
 * through an eventfd(2) registered here).
 *
 * Order within one round: epoll_wait(2) until the earliest timer, the
 * file events of that batch, then every timer that is due. A timer set
 * to now from a file event's callback therefore runs after the whole
 * batch: the place for work that frees what later events of the batch
 * may still point at.
 */
#ifndef SERIALCGI_LOOP_H
#define SERIALCGI_LOOP_H

#include <stdint.h>

struct loop_fd;
struct loop_timer;

/* events: epoll(7)'s bits that came (EPOLLIN, EPOLLRDHUP, ...). */
typedef void (*loop_fd_fn)(struct loop_fd *e, uint32_t events);
/* now: mono s (clock.h), the time the loop found it due. */
typedef void (*loop_timer_fn)(struct loop_timer *t, double now);

/* A file event, owned (and usually embedded) by its user, who keeps it
 * alive until loop_fd_del(). */
struct loop_fd {
	int		 fd;
	int		 armed;		/* in the epoll set */
	loop_fd_fn	 fn;
	void		*arg;		/* the user's */
};

/* A timer, owned by its user; when is 0 while it is off. */
struct loop_timer {
	double		 when;		/* mono s */
	loop_timer_fn	 fn;
	void		*arg;
	struct loop_timer *next;	/* the loop's list of timers */
	int		 listed;
};

/* loop_init: the epoll set. Returns 0, or -1 with errno set
 * (epoll_create1(2)). */
int loop_init(void);

/*
 * loop_fd_add: watch fd for events (EPOLLIN, EPOLLEXCLUSIVE, ...) and
 * call fn(e, what came) when they come. Returns 0, or -1 with errno
 * set (epoll_ctl(2)).
 */
int loop_fd_add(struct loop_fd *e, int fd, uint32_t events, loop_fd_fn fn,
    void *arg);

/* loop_fd_mod: watch e for other events from now on. Returns 0, or -1
 * with errno set. EPOLLEXCLUSIVE cannot be changed so (epoll_ctl(2)):
 * delete and add again. */
int loop_fd_mod(struct loop_fd *e, uint32_t events);

/* loop_fd_del: stop watching e (closing its fd is the caller's). */
void loop_fd_del(struct loop_fd *e);

/*
 * loop_timer_set: run fn(t, now) once at `when` (mono s), or never if
 * when is 0; a timer set again moves. A callback sets its timer again
 * for a next time.
 */
void loop_timer_set(struct loop_timer *t, double when, loop_timer_fn fn,
    void *arg);

/* loop_timer_del: take t out of the loop, before its owner frees it. */
void loop_timer_del(struct loop_timer *t);

/* loop_run: serve events until loop_stop(). Returns the code given to
 * loop_stop, or -1 with errno set if epoll_wait(2) failed. */
int loop_run(void);

/* loop_stop: return code from loop_run once this round is over. */
void loop_stop(int code);

#endif
