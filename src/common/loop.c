/* loop.c - an event loop that knows none of its users: see loop.h. */
#define _GNU_SOURCE	/* EPOLLEXCLUSIVE */

#include <sys/epoll.h>

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

#define EVENTS	64	/* file events taken per epoll_wait(2) */

static struct {
	int		 epfd;
	struct loop_timer *timers;	/* every timer ever set */
	int		 stopping;
	int		 code;		/* for loop_run to return */
} loop = { -1, NULL, 0, 0 };

int
loop_init(void)
{
	if ((loop.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	return 0;
}

static int
ctl(struct loop_fd *e, int op, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = e;
	return epoll_ctl(loop.epfd, op, e->fd, &ev);
}

int
loop_fd_add(struct loop_fd *e, int fd, uint32_t events, loop_fd_fn fn,
    void *arg)
{
	e->fd = fd;
	e->fn = fn;
	e->arg = arg;
	e->armed = ctl(e, EPOLL_CTL_ADD, events) == 0;
	return e->armed ? 0 : -1;
}

int
loop_fd_mod(struct loop_fd *e, uint32_t events)
{
	return ctl(e, EPOLL_CTL_MOD, events);
}

void
loop_fd_del(struct loop_fd *e)
{
	if (e->armed)
		(void)epoll_ctl(loop.epfd, EPOLL_CTL_DEL, e->fd, NULL);
	e->armed = 0;
}

void
loop_timer_set(struct loop_timer *t, double when, loop_timer_fn fn,
    void *arg)
{
	t->when = when;
	t->fn = fn;
	t->arg = arg;
	if (!t->listed) {
		t->next = loop.timers;
		loop.timers = t;
		t->listed = 1;
	}
}

void
loop_timer_del(struct loop_timer *t)
{
	struct loop_timer **p;

	for (p = &loop.timers; *p != NULL; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->listed = 0;
	t->when = 0;
}

void
loop_stop(int code)
{
	loop.stopping = 1;
	loop.code = code;
}

/* The epoll_wait(2) timeout until the earliest timer, in ms; -1 for
 * none. */
static int
timeout(void)
{
	struct loop_timer *t;
	double next = 0;

	for (t = loop.timers; t != NULL; t = t->next)
		if (t->when != 0 && (next == 0 || t->when < next))
			next = t->when;
	return next != 0 ? clock_ms_until(next) : -1;
}

/* Every timer due at now, once: a timer its callback sets again, or a
 * timer set meanwhile (put at the head, behind this walk), runs in a
 * later round. */
static void
fire(double now)
{
	struct loop_timer *t, *next;

	for (t = loop.timers; t != NULL; t = next) {
		next = t->next;
		if (t->when == 0 || t->when > now)
			continue;
		t->when = 0;
		t->fn(t, now);
	}
}

int
loop_run(void)
{
	struct epoll_event ev[EVENTS];
	struct loop_fd *e;
	int n, i;

	while (!loop.stopping) {
		n = epoll_wait(loop.epfd, ev, EVENTS, timeout());
		if (n == -1 && errno != EINTR)
			return -1;
		for (i = 0; i < n; i++) {
			e = ev[i].data.ptr;
			e->fn(e, ev[i].events);
		}
		fire(clock_now());
	}
	return loop.code;
}
