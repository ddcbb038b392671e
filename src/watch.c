/* watch.c - notice waiters whose client has gone. */
#define _GNU_SOURCE	/* epoll_pwait */

#include <sys/epoll.h>

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "watch.h"

#define EVENTS	64

static int epfd = -1;

int
watch_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd == -1 ? -1 : 0;
}

void
watch_close(void)
{
	if (epfd != -1)
		close(epfd);
	epfd = -1;
}

/* The slot and its request number ride in the event: the fd may be
 * closed and reused by another request before the event is read. */
int
watch_add(struct slot *slots, long i)
{
	struct epoll_event ev;

	ev.events = EPOLLRDHUP | EPOLLONESHOT;
	ev.data.u64 = (uint64_t)i << 32 | atomic_load(&slots[i].seq);
	return epoll_ctl(epfd, EPOLL_CTL_ADD, atomic_load(&slots[i].conn_fd),
	    &ev);
}

void
watch_del(struct slot *slots, long i)
{
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, atomic_load(&slots[i].conn_fd),
	    NULL);
}

static void
cancel(struct slot *s, unsigned seq)
{
	atomic_store(&s->cancel, cancel_key(seq));
	pthread_kill(s->tid, SIGUSR2);
}

/* A SIGUSR2 can land just before its thread blocks; kick again every
 * few ms while a cancelled waiter has not left. Returns how many. */
static int
rekick(struct slot *slots, long n)
{
	long i;
	int left = 0;

	for (i = 0; i < n; i++)
		if (atomic_load(&slots[i].state) == SLOT_WAITING &&
		    atomic_load(&slots[i].cancel) ==
		    cancel_key(atomic_load(&slots[i].seq))) {
			pthread_kill(slots[i].tid, SIGUSR2);
			left++;
		}
	return left;
}

int
watch_run(struct slot *slots, long n, const sigset_t *mask,
    volatile sig_atomic_t *stop)
{
	struct epoll_event ev[EVENTS];
	int k, j, timeout = -1;
	unsigned seq;
	long i;

	while (!*stop) {
		k = epoll_pwait(epfd, ev, EVENTS, timeout, mask);
		if (k == -1 && errno != EINTR)
			return -1;
		for (j = 0; j < k; j++) {
			i = (long)(ev[j].data.u64 >> 32);
			seq = (unsigned)(ev[j].data.u64 & 0xffffffffu);
			if (i < 0 || i >= n || atomic_load(&slots[i].seq) !=
			    seq || atomic_load(&slots[i].state) != SLOT_WAITING)
				continue;
			/* Keyed by seq: if the slot moved on meanwhile, this
			 * cancel matches nothing. */
			cancel(&slots[i], seq);
		}
		timeout = rekick(slots, n) > 0 ? 20 : -1;
	}
	return 0;
}
