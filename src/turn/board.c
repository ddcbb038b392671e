/* board.c - the scoreboard's arrival tickets: see board.h. */
#define _GNU_SOURCE	/* syscall */

#include <sys/syscall.h>

#include <linux/futex.h>

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "board_shm.h"
#include "clock.h"

int
board_open(const char *path)
{
	return board_shm_open(path);
}

void
board_close(void)
{
	board_shm_close();
}

int
board_replaced(void)
{
	return board_shm_replaced();
}

/* With the mutex held: keep who ticket t is. */
static void
keep_arrival(uint64_t t, double arrived, const char *id)
{
	struct shared *b = board_shm.s;
	struct arrival *a = &b->arrival[t % BOARD_RING];
	size_t n;

	if (id == NULL)
		id = "";
	n = strnlen(id, BOARD_ID_LEN);
	a->arrived = arrived;
	memcpy(a->id, id, n);
	memset(a->id + n, 0, BOARD_ID_LEN - n);
}

int
board_enter(const char *id, double *arrived, uint64_t *ticket, long *ahead,
    int durable)
{
	struct shared *b = board_shm.s;
	int me = board_shm.me;
	struct entry *e;
	uint64_t t;

	board_shm_lock();
	*arrived = clock_now();
	board_shm_advance();
	if (b->next - b->head >= BOARD_RING) {
		board_shm_unlock();
		errno = EAGAIN;
		return -1;
	}
	t = b->next++;
	e = &b->ring[t % BOARD_RING];
	atomic_store(&e->ticket, t);
	atomic_store(&e->proc, me);
	atomic_store(&e->pid, atomic_load(&b->pid[me]));
	atomic_store(&e->inc, board_shm.inc);
	atomic_store(&e->durable, durable != 0);
	keep_arrival(t, *arrived, id);
	atomic_store(&e->state, E_WAITING);
	*ticket = t;
	/* Queued before it, and the one at work, if any. */
	*ahead = (long)(t - b->head) + (atomic_load(&b->holder[0].active) ||
	    atomic_load(&b->holder[1].active));
	board_shm_advance();
	board_shm_unlock();
	return 0;
}

/*
 * How long a waiter sleeps before it looks again itself: wake-ups are
 * direct, and this only bounds a stall behind a process that died at
 * the wrong moment. The ticket right behind the next one (its owner
 * about to take the lock, or just granted it and marking itself the
 * holder) looks every 10 ms, so that such a death costs the queue at
 * most that; so does the one right behind an orphan, passed over
 * within 10 ms of its grace (board_shm_advance); the others every
 * 200 ms.
 */
static const struct timespec *
recheck(uint64_t ticket)
{
	static const struct timespec soon = { 0, 10 * 1000 * 1000 };
	static const struct timespec later = { 0, 200 * 1000 * 1000 };
	struct shared *b = board_shm.s;
	struct entry *before = &b->ring[(ticket - 1) % BOARD_RING];
	uint32_t st = atomic_load(&before->state);

	return ticket > 0 && atomic_load(&before->ticket) == ticket - 1 &&
	    (st == E_NEXT || st == E_ORPHAN) ? &soon : &later;
}

int
board_wait_turn(uint64_t ticket, const _Atomic int *rewait)
{
	struct shared *b = board_shm.s;
	struct entry *e = &b->ring[ticket % BOARD_RING];
	uint32_t st;

	for (;;) {
		st = atomic_load(&e->state);
		if (atomic_load(&e->ticket) != ticket ||
		    (st != E_WAITING && st != E_NEXT)) {
			errno = ECANCELED;
			return -1;
		}
		if (st == E_NEXT)
			return 0;
		if (rewait != NULL && *rewait) {
			errno = EAGAIN;
			return -1;
		}
		if (syscall(SYS_futex, &e->state, FUTEX_WAIT, E_WAITING,
		    recheck(ticket), NULL, 0) == -1 && errno == ETIMEDOUT) {
			board_shm_lock();
			board_shm_advance();
			board_shm_unlock();
		}
	}
}

void
board_nudge(uint64_t ticket)
{
	struct shared *b = board_shm.s;

	board_shm_wake(&b->ring[ticket % BOARD_RING].state);
}

int
board_turn_now(uint64_t ticket)
{
	struct shared *b = board_shm.s;
	struct entry *e = &b->ring[ticket % BOARD_RING];

	return atomic_load(&e->ticket) == ticket &&
	    atomic_load(&e->state) == E_NEXT;
}

/* The holder record not in use, or else the older one: its holder is
 * dead or finishing, since the caller holds the flock now. */
static struct holder *
free_holder(void)
{
	struct shared *b = board_shm.s;
	struct holder *h = b->holder;

	if (!atomic_load(&h[0].active))
		return &h[0];
	if (!atomic_load(&h[1].active))
		return &h[1];
	return atomic_load(&h[0].ticket) < atomic_load(&h[1].ticket) ?
	    &h[0] : &h[1];
}

int
board_holding(uint64_t ticket, double now)
{
	struct shared *b = board_shm.s;
	struct entry *e = &b->ring[ticket % BOARD_RING];
	struct holder *h;

	board_shm_lock();
	if (atomic_load(&e->ticket) != ticket ||
	    atomic_load(&e->state) != E_NEXT) {
		board_shm_unlock();
		return 0;	/* finished meanwhile: no holder */
	}
	h = free_holder();
	atomic_store(&h->ticket, ticket);
	atomic_store(&h->proc, atomic_load(&e->proc));
	atomic_store(&h->pid, atomic_load(&e->pid));
	atomic_store(&h->inc, atomic_load(&e->inc));
	atomic_store(&h->since, now);
	atomic_store(&h->active, 1);
	atomic_store(&e->state, E_DONE);
	board_shm_advance();
	board_shm_unlock();
	return 1;
}

static void
count(enum board_outcome how)
{
	struct shared *b = board_shm.s;

	if (how == BOARD_SERVED)
		atomic_fetch_add(&b->served, 1);
	else if (how == BOARD_SKIPPED)
		atomic_fetch_add(&b->skipped, 1);
}

/* With the mutex held: is ticket's entry still in the queue (not
 * finished, not yet holding)? */
static int
queued(const struct entry *e, uint64_t ticket)
{
	uint32_t st = atomic_load(&e->state);

	return atomic_load(&e->ticket) == ticket &&
	    (st == E_WAITING || st == E_NEXT || st == E_ORPHAN);
}

/* With the mutex held: finish a queued entry and wake its runner. */
static void
gone(struct entry *e)
{
	atomic_store(&e->state, E_GONE);
	board_shm_wake(&e->state);
}

void
board_finish(uint64_t ticket, enum board_outcome how)
{
	struct shared *b = board_shm.s;
	struct entry *e = &b->ring[ticket % BOARD_RING];
	int i, done = 0;

	board_shm_lock();
	for (i = 0; i < 2; i++)
		if (atomic_load(&b->holder[i].active) &&
		    atomic_load(&b->holder[i].ticket) == ticket) {
			atomic_store(&b->holder[i].active, 0);
			done = 1;
		}
	/* A ticket that never held is still in the ring, unfinished, so
	 * its entry cannot have been reused. */
	if (!done && queued(e, ticket)) {
		gone(e);
		done = 1;
	}
	board_shm_advance();
	board_shm_unlock();
	if (done)
		count(how);
}

int
board_cancel(uint64_t ticket, uint64_t inc)
{
	struct shared *b = board_shm.s;
	struct entry *e = &b->ring[ticket % BOARD_RING];
	int was;

	board_shm_lock();
	if ((was = queued(e, ticket) && atomic_load(&e->inc) == inc))
		gone(e);
	board_shm_advance();
	board_shm_unlock();
	if (was)
		count(BOARD_SKIPPED);
	return was;
}

uint64_t
board_gen(void)
{
	struct shared *b = board_shm.s;

	return b->gen;
}

void
board_self(int *slot, long *pid)
{
	struct shared *b = board_shm.s;
	int me = board_shm.me;

	*slot = me;
	*pid = (long)atomic_load(&b->pid[me]);
}

int
board_owner_here(int slot, uint64_t inc)
{
	signed char seen[BOARD_PROCS] = { 0 };

	return board_shm_owner_alive(slot, inc, seen);
}

/* With the mutex held: ticket's entry if it is an orphan (of
 * incarnation *inc, unless inc is NULL), else NULL. */
static struct entry *
orphan(uint64_t ticket, const uint64_t *inc)
{
	struct entry *e = &board_shm.s->ring[ticket % BOARD_RING];
	signed char seen[BOARD_PROCS] = { 0 };

	return atomic_load(&e->ticket) == ticket && (inc == NULL ||
	    atomic_load(&e->inc) == *inc) &&
	    board_shm_live_state(e, seen) == E_ORPHAN ? e : NULL;
}

int
board_adopt(uint64_t ticket, uint64_t inc)
{
	struct shared *b = board_shm.s;
	int me = board_shm.me;
	struct entry *e;
	int ok;

	board_shm_lock();
	ok = (e = orphan(ticket, &inc)) != NULL;
	if (ok) {
		atomic_store(&e->proc, me);
		atomic_store(&e->pid, atomic_load(&b->pid[me]));
		atomic_store(&e->inc, board_shm.inc);
		b->arrival[ticket % BOARD_RING].orphaned = 0;
		atomic_store(&e->state, E_WAITING);
		board_shm_advance();
	}
	board_shm_unlock();
	if (!ok)
		errno = ESRCH;
	return ok ? 0 : -1;
}

int
board_orphan_grace(uint64_t ticket, uint64_t inc, double seconds)
{
	struct shared *b = board_shm.s;
	int was;

	board_shm_lock();
	was = orphan(ticket, &inc) != NULL;
	/* board_shm_advance passes it over BOARD_ORPHAN_GRACE after this
	 * mark, so the mark moves. */
	if (was)
		b->arrival[ticket % BOARD_RING].orphaned = clock_now() +
		    seconds - BOARD_ORPHAN_GRACE;
	if (was && seconds <= 0)
		board_shm_advance();
	board_shm_unlock();
	return was;
}

int
board_abandon(uint64_t ticket)
{
	struct entry *e;
	int was;

	board_shm_lock();
	if ((was = (e = orphan(ticket, NULL)) != NULL))
		gone(e);
	board_shm_advance();
	board_shm_unlock();
	if (was)
		count(BOARD_FAILED);
	return was;
}

size_t
board_orphans(uint64_t *out, uint64_t *inc, size_t max)
{
	struct shared *b = board_shm.s;
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e;
	size_t n = 0;
	uint64_t u;

	board_shm_lock();
	board_shm_advance();
	for (u = b->head; u < b->next && n < max; u++) {
		e = &b->ring[u % BOARD_RING];
		if (board_shm_live_state(e, seen) != E_ORPHAN)
			continue;
		inc[n] = atomic_load(&e->inc);
		out[n++] = u;
	}
	board_shm_unlock();
	return n;
}

int
board_first_round(void)
{
	struct shared *b = board_shm.s;
	int me = board_shm.me;
	signed char seen[BOARD_PROCS] = { 0 };
	int32_t cur = atomic_load(&b->first_slot);
	int mine = 0;

	if (cur == -1 || cur == me + 1)
		return cur == me + 1;
	board_shm_lock();
	cur = atomic_load(&b->first_slot);
	/* Not begun, or begun by a process that died at it. */
	if (cur == 0 || (cur > 0 && !board_shm_owner_alive(cur - 1,
	    atomic_load(&b->first_inc), seen))) {
		atomic_store(&b->first_inc, board_shm.inc);
		atomic_store(&b->first_slot, me + 1);
		mine = 1;
	}
	board_shm_unlock();
	return mine;
}

void
board_first_done(void)
{
	struct shared *b = board_shm.s;

	atomic_store(&b->first_slot, -1);
}

void
board_jobs_bump(void)
{
	struct shared *b = board_shm.s;

	atomic_fetch_add(&b->jobs, 1);
}

uint64_t
board_jobs(void)
{
	struct shared *b = board_shm.s;

	return atomic_load(&b->jobs);
}

long
board_position(uint64_t ticket, uint64_t inc)
{
	struct shared *b = board_shm.s;
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e = &b->ring[ticket % BOARD_RING];
	long ahead = -1;
	uint64_t u;
	int st;

	board_shm_lock();
	board_shm_advance();
	if (atomic_load(&e->ticket) == ticket && atomic_load(&e->inc) == inc)
		ahead = 0;	/* its turn came, if not waiting still */
	if (ahead == 0 && queued(e, ticket)) {
		ahead = atomic_load(&b->holder[0].active) ||
		    atomic_load(&b->holder[1].active);
		for (u = b->head; u < ticket; u++) {
			st = board_shm_live_state(&b->ring[u % BOARD_RING],
			    seen);
			ahead += st == E_WAITING || st == E_NEXT ||
			    st == E_ORPHAN;
		}
	}
	board_shm_unlock();
	return ahead;
}

