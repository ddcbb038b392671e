/* board_stats.c - the scoreboard's figures and views: board_stats.h. */
#define _POSIX_C_SOURCE 200809L

#include <sys/wait.h>

#include <errno.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "board_shm.h"
#include "board_stats.h"
#include "clock.h"

const double board_stats_le[BOARD_BUCKETS] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
	__builtin_inf()
};

void
board_stats_wait(double seconds)
{
	struct shared *b = board_shm.s;
	int i = 0;

	while (i < BOARD_BUCKETS - 1 && seconds > board_stats_le[i])
		i++;
	atomic_fetch_add(&b->hist[i], 1);
	atomic_fetch_add(&b->wait_count, 1);
	atomic_fetch_add(&b->wait_ns, (uint64_t)(seconds * 1e9));
}

void
board_stats_rejected(void)
{
	struct shared *b = board_shm.s;

	atomic_fetch_add(&b->rejected, 1);
}

void
board_stats_engine(int reachable)
{
	struct shared *b = board_shm.s;

	atomic_store(&b->engine, reachable ? 2 : 1);
	if (!reachable)
		atomic_fetch_add(&b->engine_errors, 1);
}

int
board_stats_fence(uint64_t token, uint64_t *before)
{
	struct shared *b = board_shm.s;
	uint64_t old = atomic_load(&b->fence);

	while (old < token &&
	    !atomic_compare_exchange_weak(&b->fence, &old, token))
		;
	*before = old;
	return old < token ? 0 : -1;
}

void
board_stats_work(int end, int status)
{
	struct shared *b = board_shm.s;

	if (end >= 0 && end < BOARD_WORK_ENDS)
		atomic_fetch_add(&b->work_ends[end], 1);
	if (status != -1)
		atomic_fetch_add(&b->exits[WIFSIGNALED(status) ? 2 :
		    WEXITSTATUS(status) != 0], 1);
}

void
board_stats_length(double seconds)
{
	struct shared *b = board_shm.s;
	uint32_t i = atomic_fetch_add(&b->recent_n, 1) % BOARD_RECENT;

	atomic_store(&b->recent[i], seconds >= 4000 ? UINT32_MAX :
	    (uint32_t)(seconds * 1e6));
}

static int
by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

double
board_stats_typical(void)
{
	struct shared *b = board_shm.s;
	uint32_t v[BOARD_RECENT], n, i;

	if (b == NULL || (n = atomic_load(&b->recent_n)) == 0)
		return 0;
	if (n > BOARD_RECENT)
		n = BOARD_RECENT;
	for (i = 0; i < n; i++)
		v[i] = atomic_load(&b->recent[i]);
	qsort(v, n, sizeof(v[0]), by_value);
	return (double)v[n / 2] / 1e6;
}

void
board_stats_lock_lost(void)
{
	struct shared *b = board_shm.s;

	atomic_fetch_add(&b->lock_lost, 1);
}

void
board_stats_store(int state, int failed)
{
	struct shared *b = board_shm.s;

	if (b == NULL)
		return;
	/* Read first: the line stays shared while nothing changes. */
	if (atomic_load(&b->store_state) != state)
		atomic_store(&b->store_state, state);
	if (failed)
		atomic_fetch_add(&b->store_failures, 1);
}

int
board_stats_store_state(void)
{
	struct shared *b = board_shm.s;

	return b != NULL ? atomic_load(&b->store_state) : 0;
}

/* The one working now: two holders overlap for a moment at a handoff,
 * and the later ticket is the one at work. A dead holder is no holder
 * (its record is cleared). Returns it, or NULL. */
static struct holder *
live_holder(signed char *seen)
{
	struct shared *b = board_shm.s;
	struct holder *h, *at = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		h = &b->holder[i];
		if (!atomic_load(&h->active))
			continue;
		if (!board_shm_owner_alive(atomic_load(&h->proc),
		    atomic_load(&h->inc), seen)) {
			atomic_store(&h->active, 0);
			continue;
		}
		if (at == NULL ||
		    atomic_load(&h->ticket) > atomic_load(&at->ticket))
			at = h;
	}
	return at;
}

static void
scan(struct board_stats *st, signed char *seen)
{
	struct shared *b = board_shm.s;
	struct holder *h;
	struct entry *e;
	uint64_t u;
	int s, i;

	st->waiters = 0;
	st->holder_pid = -1;
	st->holder_since = 0;
	for (u = b->head; u < b->next; u++) {
		e = &b->ring[u % BOARD_RING];
		s = board_shm_live_state(e, seen);
		if (s == E_WAITING || s == E_NEXT || s == E_ORPHAN)
			st->waiters++;
	}
	if ((h = live_holder(seen)) != NULL) {
		st->holder_pid = atomic_load(&h->pid);
		st->holder_since = atomic_load(&h->since);
	}
	st->processes = 0;
	for (i = 0; i < BOARD_PROCS; i++)
		st->processes += board_shm_alive(i, seen);
}

int
board_stats(struct board_stats *st)
{
	struct shared *b = board_shm.s;
	signed char seen[BOARD_PROCS] = { 0 };
	uint64_t sum = 0;
	int i;

	if (b == NULL) {
		errno = EINVAL;
		return -1;
	}
	board_shm_lock();
	board_shm_advance();
	scan(st, seen);
	board_shm_unlock();
	st->served = atomic_load(&b->served);
	st->skipped = atomic_load(&b->skipped);
	st->rejected = atomic_load(&b->rejected);
	for (i = 0; i < BOARD_BUCKETS; i++) {
		sum += atomic_load(&b->hist[i]);
		st->buckets[i] = sum;
	}
	st->wait_count = atomic_load(&b->wait_count);
	st->wait_sum = (double)atomic_load(&b->wait_ns) / 1e9;
	st->engine = atomic_load(&b->engine) - 1;
	st->fence = atomic_load(&b->fence);
	st->lock_lost = atomic_load(&b->lock_lost);
	st->engine_errors = atomic_load(&b->engine_errors);
	for (i = 0; i < BOARD_WORK_ENDS; i++)
		st->work_ends[i] = atomic_load(&b->work_ends[i]);
	for (i = 0; i < 3; i++)
		st->exits[i] = atomic_load(&b->exits[i]);
	st->typical = board_stats_typical();
	st->store_state = atomic_load(&b->store_state);
	st->store_failures = atomic_load(&b->store_failures);
	return 0;
}

/* With the mutex held: ticket t, of responder pid, into w. */
static void
describe(struct board_waiter *w, uint64_t t, long pid)
{
	struct shared *b = board_shm.s;
	const struct arrival *a = &b->arrival[t % BOARD_RING];
	size_t n = strnlen(a->id, BOARD_ID_LEN);

	w->ticket = t;
	w->pid = pid;
	w->job = atomic_load(&b->ring[t % BOARD_RING].durable) != 0;
	w->orphan = 0;
	w->since = 0;
	w->arrived = a->arrived;
	memcpy(w->id, a->id, n);
	w->id[n] = '\0';
}

/* With the mutex held: the request the lock holder works for, as
 * live_holder() finds it. */
static void
describe_holder(struct board_waiter *w, signed char *seen)
{
	struct shared *b = board_shm.s;
	struct holder *at = live_holder(seen);
	uint64_t t;

	memset(w, 0, sizeof(*w));
	w->pid = -1;
	if (at == NULL)
		return;
	t = atomic_load(&at->ticket);
	/* Its ring entry is done, so it may be reused by a later ticket:
	 * then who it was is gone too. */
	if (atomic_load(&b->ring[t % BOARD_RING].ticket) == t)
		describe(w, t, atomic_load(&at->pid));
	w->ticket = t;
	w->pid = atomic_load(&at->pid);
	w->since = atomic_load(&at->since);
}

long
board_stats_queue(struct board_waiter *holder, struct board_waiter *out,
    size_t max)
{
	struct shared *b = board_shm.s;
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e;
	uint64_t u;
	size_t n = 0;
	int st;

	if (b == NULL) {
		errno = EINVAL;
		return -1;
	}
	board_shm_lock();
	board_shm_advance();
	for (u = b->head; u < b->next && n < max; u++) {
		e = &b->ring[u % BOARD_RING];
		st = board_shm_live_state(e, seen);
		if (st != E_WAITING && st != E_NEXT && st != E_ORPHAN)
			continue;
		describe(&out[n], u, atomic_load(&e->pid));
		out[n++].orphan = st == E_ORPHAN;
	}
	if (holder != NULL)
		describe_holder(holder, seen);
	board_shm_unlock();
	return (long)n;
}

double
board_stats_eta(const struct board_waiter *holder, long ahead,
    double typical, double now)
{
	double left = 0;

	if (holder->pid >= 0 && (left = typical - (now - holder->since)) < 0)
		left = 0;
	return clock_round_us(left + (double)ahead * typical);
}

long
board_stats_pids(long *out, size_t max)
{
	struct shared *b = board_shm.s;
	signed char seen[BOARD_PROCS] = { 0 };
	size_t n = 0;
	int32_t pid;
	int i;

	if (b == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < BOARD_PROCS && n < max; i++)
		if ((pid = atomic_load(&b->pid[i])) > 0 &&
		    board_shm_alive(i, seen))
			out[n++] = pid;
	return (long)n;
}

