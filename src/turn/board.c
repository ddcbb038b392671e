/* board.c - the scoreboard all responders share. */
#define _GNU_SOURCE	/* F_OFD_GETLK, F_OFD_SETLK */

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "clock.h"

#define BOARD_MAGIC	0x3630445242494353ULL	/* "SCIBRD06" */

const double board_bucket_le[BOARD_BUCKETS] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
	__builtin_inf()
};

/* A queue entry goes WAITING -> NEXT -> DONE (its work began: the
 * holder moves out of the ring, so the ring's head never waits on a
 * long work), or to GONE when its client leaves or its process dies.
 * A durable one (a stored job) whose process dies becomes an ORPHAN
 * instead: it keeps its place, and the queue waits there, until
 * another process adopts it (WAITING again) or abandons it (GONE). */
enum { E_FREE, E_WAITING, E_NEXT, E_GONE, E_DONE, E_ORPHAN };

struct entry {
	_Atomic uint64_t ticket;
	_Atomic int32_t	 proc;		/* index in pid[] */
	_Atomic int32_t	 pid;		/* its owner then: a respawned
					 * responder may reuse the index */
	_Atomic uint32_t state;		/* also the futex word */
	_Atomic uint32_t durable;	/* a stored job's */
};

/* Who a ticket is, for board_queue: written once by board_enter, read
 * under the mutex. Kept apart from the ring, which advance() walks at
 * every handoff: a ring entry stays 24 bytes, 2.7 to a cache line. */
struct arrival {
	double		 arrived;	/* mono s */
	char		 id[BOARD_ID_LEN];	/* NUL-padded; no NUL
						 * when full */
};

struct holder {
	_Atomic uint64_t ticket;
	_Atomic int32_t	 proc, pid;	/* as in struct entry */
	_Atomic int32_t	 active;
	_Atomic double	 since;		/* start of work */
};

struct shared {
	uint64_t	 magic;
	uint64_t	 gen;		/* random, per board file */
	pthread_mutex_t	 mutex;		/* robust, process-shared */
	uint64_t	 next;		/* next ticket to hand out */
	uint64_t	 head;		/* oldest unfinished ticket */
	_Atomic uint64_t served, skipped, rejected;
	_Atomic uint64_t hist[BOARD_BUCKETS];
	_Atomic uint64_t wait_count, wait_ns;
	_Atomic int32_t	 engine;	/* as board_stats: 1, 0, or 0 for
					 * none (stored plus one) */
	_Atomic uint64_t fence, lock_lost, engine_errors;
	_Atomic uint64_t jobs;		/* jobs queued here, ever */
	_Atomic int32_t	 first_slot;	/* the janitor's first round: 0 not
					 * begun, slot + 1 at it, -1 done */
	_Atomic int32_t	 first_pid;
	_Atomic int32_t	 pid[BOARD_PROCS];
	struct holder	 holder[2];	/* the current one, and the one
					 * finishing during a handoff */
	struct entry	 ring[BOARD_RING];
	struct arrival	 arrival[BOARD_RING];	/* by ticket, as ring */
};

static struct shared *b;
static int bfd = -1;
static int me = -1;			/* our index in pid[] */

/* Is responder i alive? It holds an OFD lock on byte i of the file for
 * as long as it lives; the kernel drops it at exit, so neither zombies
 * nor reused pids can fool this (fcntl(2), open file description
 * locks). Our own lock never conflicts with us: we are alive. */
static int
alive(int i, signed char *seen)
{
	struct flock fl;

	if (i == me)
		return 1;
	if (i < 0 || i >= BOARD_PROCS)
		return 0;
	if (seen[i] == 0) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = i;
		fl.l_len = 1;
		seen[i] = fcntl(bfd, F_OFD_GETLK, &fl) == 0 &&
		    fl.l_type != F_UNLCK ? 1 : -1;
	}
	return seen[i] > 0;
}

static void
futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void
lock(void)
{
	/* A responder killed inside this short section leaves plain
	 * counters behind, still usable: make the mutex usable again. */
	if (pthread_mutex_lock(&b->mutex) == EOWNERDEAD)
		pthread_mutex_consistent(&b->mutex);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&b->mutex);
}

/* Is process index i alive, and still the one that had pid? */
static int
owner_alive(int i, int32_t pid, signed char *seen)
{
	return alive(i, seen) && atomic_load(&b->pid[i]) == pid;
}

static int
live_state(struct entry *e, signed char *seen)
{
	uint32_t st = atomic_load(&e->state);

	if ((st == E_WAITING || st == E_NEXT) &&
	    !owner_alive(atomic_load(&e->proc), atomic_load(&e->pid), seen)) {
		st = atomic_load(&e->durable) ? E_ORPHAN : E_GONE;
		atomic_store(&e->state, st);
	}
	return (int)st;
}

/* With the mutex held: drop finished and dead entries at the head, and
 * let the first waiter queue in flock(2), right behind the holder. */
static void
advance(void)
{
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e;
	uint64_t u;
	int st;

	for (u = b->head; u < b->next; u++) {
		e = &b->ring[u % BOARD_RING];
		st = live_state(e, seen);
		if (st == E_GONE || st == E_DONE || st == E_FREE) {
			if (u == b->head)
				b->head++;
			continue;
		}
		if (st == E_WAITING) {
			atomic_store(&e->state, E_NEXT);
			futex_wake(&e->state);
		}
		break;		/* NEXT, or an ORPHAN: the queue waits */
	}
}

/* Does any responder registered in the file live? Under the set-up
 * flock, before this process claims its entry. */
static int
anyone_alive(void)
{
	signed char seen[BOARD_PROCS] = { 0 };
	int i;

	for (i = 0; i < BOARD_PROCS; i++)
		if (alive(i, seen))
			return 1;
	return 0;
}

static int
map(int fd)
{
	pthread_mutexattr_t ma;
	struct stat st;
	void *p;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((size_t)st.st_size != sizeof(*b) &&
	    ftruncate(fd, sizeof(*b)) == -1)
		return -1;
	p = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	b = p;
	if (b->magic == BOARD_MAGIC && (size_t)st.st_size == sizeof(*b) &&
	    anyone_alive())
		return 0;
	/* New, or left by responders all gone (a file that outlived a
	 * reboot, say: its robust mutex may name a thread of another
	 * boot, which the kernel can no longer release). Start it anew:
	 * cut to nothing and grown again, it reads as zeros
	 * (ftruncate(2)); clearing it by hand would touch, and keep in
	 * memory, every page of the ring. */
	if (st.st_size != 0 && (ftruncate(fd, 0) == -1 ||
	    ftruncate(fd, sizeof(*b)) == -1))
		return -1;
	if (getrandom(&b->gen, sizeof(b->gen), 0) != sizeof(b->gen))
		b->gen = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&b->mutex, &ma);
	pthread_mutexattr_destroy(&ma);
	b->magic = BOARD_MAGIC;
	return 0;
}

static int
claim(void)
{
	struct flock fl;
	int i;

	for (i = 0; i < BOARD_PROCS; i++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = i;
		fl.l_len = 1;
		if (fcntl(bfd, F_OFD_SETLK, &fl) == 0) {
			me = i;
			atomic_store(&b->pid[i], (int32_t)getpid());
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES)
			return -1;
	}
	errno = ENOSPC;
	return -1;
}

int
board_open(const char *path)
{
	int rc = -1, saved;

	bfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (bfd == -1)
		return -1;
	/* Responders start together: one sets the file up at a time. */
	while (flock(bfd, LOCK_EX) == -1)
		if (errno != EINTR)
			goto out;
	rc = map(bfd) == 0 && claim() == 0 ? 0 : -1;
	saved = errno;
	flock(bfd, LOCK_UN);
	errno = saved;
out:
	if (rc == -1) {
		saved = errno;
		board_close();
		errno = saved;
	}
	return rc;
}

void
board_close(void)
{
	if (b != NULL && me >= 0)
		atomic_store(&b->pid[me], 0);
	if (b != NULL)
		munmap(b, sizeof(*b));
	if (bfd != -1)
		close(bfd);
	b = NULL;
	bfd = -1;
	me = -1;
}

/* With the mutex held: keep who ticket t is. */
static void
keep_arrival(uint64_t t, double arrived, const char *id)
{
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
	struct entry *e;
	uint64_t t;

	lock();
	*arrived = mono_now();
	advance();
	if (b->next - b->head >= BOARD_RING) {
		unlock();
		errno = EAGAIN;
		return -1;
	}
	t = b->next++;
	e = &b->ring[t % BOARD_RING];
	atomic_store(&e->ticket, t);
	atomic_store(&e->proc, me);
	atomic_store(&e->pid, atomic_load(&b->pid[me]));
	atomic_store(&e->durable, durable != 0);
	keep_arrival(t, *arrived, id);
	atomic_store(&e->state, E_WAITING);
	*ticket = t;
	/* Queued before it, and the one at work, if any. */
	*ahead = (long)(t - b->head) + (atomic_load(&b->holder[0].active) ||
	    atomic_load(&b->holder[1].active));
	advance();
	unlock();
	return 0;
}

int
board_wait_turn(uint64_t ticket, const _Atomic int *rewait)
{
	/* The timeout only bounds how long a waiter behind a process that
	 * died at the wrong moment can stall; wake-ups are direct. */
	const struct timespec recheck = { 0, 200 * 1000 * 1000 };
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
		    &recheck, NULL, 0) == -1 && errno == ETIMEDOUT) {
			lock();
			advance();
			unlock();
		}
	}
}

void
board_nudge(uint64_t ticket)
{
	futex_wake(&b->ring[ticket % BOARD_RING].state);
}

int
board_turn_now(uint64_t ticket)
{
	struct entry *e = &b->ring[ticket % BOARD_RING];

	return atomic_load(&e->ticket) == ticket &&
	    atomic_load(&e->state) == E_NEXT;
}

/* The holder record not in use, or else the older one: its holder is
 * dead or finishing, since the caller holds the flock now. */
static struct holder *
free_holder(void)
{
	struct holder *h = b->holder;

	if (!atomic_load(&h[0].active))
		return &h[0];
	if (!atomic_load(&h[1].active))
		return &h[1];
	return atomic_load(&h[0].ticket) < atomic_load(&h[1].ticket) ?
	    &h[0] : &h[1];
}

void
board_holding(uint64_t ticket, double now)
{
	struct entry *e = &b->ring[ticket % BOARD_RING];
	struct holder *h;

	lock();
	h = free_holder();
	atomic_store(&h->ticket, ticket);
	atomic_store(&h->proc, atomic_load(&e->proc));
	atomic_store(&h->pid, atomic_load(&e->pid));
	atomic_store(&h->since, now);
	atomic_store(&h->active, 1);
	atomic_store(&e->state, E_DONE);
	advance();
	unlock();
}

static void
count(enum board_outcome how)
{
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
	futex_wake(&e->state);
}

void
board_finish(uint64_t ticket, enum board_outcome how)
{
	struct entry *e = &b->ring[ticket % BOARD_RING];
	int i, done = 0;

	lock();
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
	advance();
	unlock();
	if (done)
		count(how);
}

int
board_cancel(uint64_t ticket)
{
	struct entry *e = &b->ring[ticket % BOARD_RING];
	int was;

	lock();
	if ((was = queued(e, ticket)))
		gone(e);
	advance();
	unlock();
	if (was)
		count(BOARD_SKIPPED);
	return was;
}

uint64_t
board_gen(void)
{
	return b->gen;
}

void
board_self(int *slot, long *pid)
{
	*slot = me;
	*pid = (long)atomic_load(&b->pid[me]);
}

int
board_owner_alive(int slot, long pid)
{
	signed char seen[BOARD_PROCS] = { 0 };

	return slot >= 0 && slot < BOARD_PROCS &&
	    owner_alive(slot, (int32_t)pid, seen);
}

int
board_adopt(uint64_t ticket)
{
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e = &b->ring[ticket % BOARD_RING];
	int ok;

	lock();
	ok = atomic_load(&e->ticket) == ticket &&
	    live_state(e, seen) == E_ORPHAN;
	if (ok) {
		atomic_store(&e->proc, me);
		atomic_store(&e->pid, atomic_load(&b->pid[me]));
		atomic_store(&e->state, E_WAITING);
		advance();
	}
	unlock();
	if (!ok)
		errno = ESRCH;
	return ok ? 0 : -1;
}

int
board_abandon(uint64_t ticket)
{
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e = &b->ring[ticket % BOARD_RING];
	int was;

	lock();
	was = atomic_load(&e->ticket) == ticket &&
	    live_state(e, seen) == E_ORPHAN;
	if (was)
		gone(e);
	advance();
	unlock();
	if (was)
		count(BOARD_FAILED);
	return was;
}

size_t
board_orphans(uint64_t *out, size_t max)
{
	signed char seen[BOARD_PROCS] = { 0 };
	size_t n = 0;
	uint64_t u;

	lock();
	advance();
	for (u = b->head; u < b->next && n < max; u++)
		if (live_state(&b->ring[u % BOARD_RING], seen) == E_ORPHAN)
			out[n++] = u;
	unlock();
	return n;
}

int
board_first_round(void)
{
	signed char seen[BOARD_PROCS] = { 0 };
	int32_t cur = atomic_load(&b->first_slot);
	int mine = 0;

	if (cur == -1 || cur == me + 1)
		return cur == me + 1;
	lock();
	cur = atomic_load(&b->first_slot);
	/* Not begun, or begun by a process that died at it. */
	if (cur == 0 || (cur > 0 && !owner_alive(cur - 1,
	    atomic_load(&b->first_pid), seen))) {
		atomic_store(&b->first_pid, atomic_load(&b->pid[me]));
		atomic_store(&b->first_slot, me + 1);
		mine = 1;
	}
	unlock();
	return mine;
}

void
board_first_done(void)
{
	atomic_store(&b->first_slot, -1);
}

void
board_jobs_bump(void)
{
	atomic_fetch_add(&b->jobs, 1);
}

uint64_t
board_jobs(void)
{
	return atomic_load(&b->jobs);
}

long
board_position(uint64_t ticket)
{
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e = &b->ring[ticket % BOARD_RING];
	long ahead = -1;
	uint64_t u;
	int st;

	lock();
	advance();
	if (queued(e, ticket)) {
		ahead = atomic_load(&b->holder[0].active) ||
		    atomic_load(&b->holder[1].active);
		for (u = b->head; u < ticket; u++) {
			st = live_state(&b->ring[u % BOARD_RING], seen);
			ahead += st == E_WAITING || st == E_NEXT ||
			    st == E_ORPHAN;
		}
	}
	unlock();
	return ahead;
}

void
board_observe_wait(double seconds)
{
	int i = 0;

	while (i < BOARD_BUCKETS - 1 && seconds > board_bucket_le[i])
		i++;
	atomic_fetch_add(&b->hist[i], 1);
	atomic_fetch_add(&b->wait_count, 1);
	atomic_fetch_add(&b->wait_ns, (uint64_t)(seconds * 1e9));
}

void
board_rejected(void)
{
	atomic_fetch_add(&b->rejected, 1);
}

void
board_engine(int reachable)
{
	atomic_store(&b->engine, reachable ? 2 : 1);
	if (!reachable)
		atomic_fetch_add(&b->engine_errors, 1);
}

void
board_fence(uint64_t token)
{
	uint64_t old = atomic_load(&b->fence);

	while (old < token &&
	    !atomic_compare_exchange_weak(&b->fence, &old, token))
		;
}

void
board_lock_lost(void)
{
	atomic_fetch_add(&b->lock_lost, 1);
}

/* The one working now: two holders overlap for a moment at a handoff,
 * and the later ticket is the one at work. A dead holder is no holder
 * (its record is cleared). Returns it, or NULL. */
static struct holder *
live_holder(signed char *seen)
{
	struct holder *h, *at = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		h = &b->holder[i];
		if (!atomic_load(&h->active))
			continue;
		if (!owner_alive(atomic_load(&h->proc), atomic_load(&h->pid),
		    seen)) {
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
	struct holder *h;
	struct entry *e;
	uint64_t u;
	int s, i;

	st->waiters = 0;
	st->holder_pid = -1;
	st->holder_since = 0;
	for (u = b->head; u < b->next; u++) {
		e = &b->ring[u % BOARD_RING];
		s = live_state(e, seen);
		if (s == E_WAITING || s == E_NEXT || s == E_ORPHAN)
			st->waiters++;
	}
	if ((h = live_holder(seen)) != NULL) {
		st->holder_pid = atomic_load(&h->pid);
		st->holder_since = atomic_load(&h->since);
	}
	st->processes = 0;
	for (i = 0; i < BOARD_PROCS; i++)
		st->processes += alive(i, seen);
}

int
board_stats(struct board_stats *st)
{
	signed char seen[BOARD_PROCS] = { 0 };
	uint64_t sum = 0;
	int i;

	if (b == NULL) {
		errno = EINVAL;
		return -1;
	}
	lock();
	advance();
	scan(st, seen);
	unlock();
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
	return 0;
}

/* With the mutex held: ticket t, of responder pid, into w. */
static void
describe(struct board_waiter *w, uint64_t t, long pid)
{
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
board_queue(struct board_waiter *holder, struct board_waiter *out,
    size_t max)
{
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e;
	uint64_t u;
	size_t n = 0;
	int st;

	if (b == NULL) {
		errno = EINVAL;
		return -1;
	}
	lock();
	advance();
	for (u = b->head; u < b->next && n < max; u++) {
		e = &b->ring[u % BOARD_RING];
		st = live_state(e, seen);
		if (st != E_WAITING && st != E_NEXT && st != E_ORPHAN)
			continue;
		describe(&out[n], u, atomic_load(&e->pid));
		out[n++].orphan = st == E_ORPHAN;
	}
	if (holder != NULL)
		describe_holder(holder, seen);
	unlock();
	return (long)n;
}

long
board_pids(long *out, size_t max)
{
	signed char seen[BOARD_PROCS] = { 0 };
	size_t n = 0;
	int32_t pid;
	int i;

	if (b == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < BOARD_PROCS && n < max; i++)
		if ((pid = atomic_load(&b->pid[i])) > 0 && alive(i, seen))
			out[n++] = pid;
	return (long)n;
}
