/* watch.c - notice waiters whose client has gone. */
#define _GNU_SOURCE	/* POLLRDHUP, ppoll */

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "watch.h"

static int efd = -1;

int
watch_init(void)
{
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return efd == -1 ? -1 : 0;
}

void
watch_notify(void)
{
	uint64_t one = 1;

	(void)!write(efd, &one, sizeof(one));
}

void
watch_close(void)
{
	if (efd != -1)
		close(efd);
	efd = -1;
}

/* Fill p[1..] with the waiters still worth watching. A cancelled
 * waiter is left out (its hang-up stays readable and would spin the
 * loop) but is kicked again: the first SIGUSR2 may have landed just
 * before it entered flock(2). Returns the count; *retry is set if a
 * kick was repeated. */
static long
collect(struct slot *slots, long n, struct pollfd *p, long *idx,
    unsigned *seq, int *retry)
{
	long i, k = 1;

	*retry = 0;
	for (i = 0; i < n; i++) {
		struct slot *s = &slots[i];

		if (atomic_load(&s->state) != SLOT_WAITING)
			continue;
		if (atomic_load(&s->cancel)) {
			pthread_kill(s->tid, SIGUSR2);
			*retry = 1;
			continue;
		}
		seq[k] = atomic_load(&s->seq);
		idx[k] = i;
		p[k].fd = atomic_load(&s->conn_fd);
		p[k].events = POLLRDHUP;
		p[k].revents = 0;
		k++;
	}
	return k;
}

static void
cancel_gone(struct slot *slots, struct pollfd *p, long *idx,
    unsigned *seq, long k)
{
	long j;

	for (j = 1; j < k; j++) {
		struct slot *s = &slots[idx[j]];

		if ((p[j].revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0)
			continue;
		/* The fd may have been closed and reused meanwhile. */
		if (atomic_load(&s->seq) != seq[j] ||
		    atomic_load(&s->state) != SLOT_WAITING)
			continue;
		atomic_store(&s->cancel, 1);
		pthread_kill(s->tid, SIGUSR2);
	}
}

int
watch_run(struct slot *slots, long n, const sigset_t *mask,
    volatile sig_atomic_t *stop)
{
	const struct timespec again = { 0, 20 * 1000 * 1000 };
	struct pollfd *p = calloc((size_t)n + 1, sizeof(*p));
	long *idx = calloc((size_t)n + 1, sizeof(*idx));
	unsigned *seq = calloc((size_t)n + 1, sizeof(*seq));
	uint64_t count;
	int retry, rc = -1;
	long k;

	if (p == NULL || idx == NULL || seq == NULL)
		goto out;
	p[0].fd = efd;
	p[0].events = POLLIN;
	while (!*stop) {
		k = collect(slots, n, p, idx, seq, &retry);
		if (ppoll(p, (nfds_t)k, retry ? &again : NULL, mask) == -1) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (p[0].revents & POLLIN)
			(void)!read(efd, &count, sizeof(count));
		cancel_gone(slots, p, idx, seq, k);
	}
	rc = 0;
out:
	free(seq);
	free(idx);
	free(p);
	return rc;
}
