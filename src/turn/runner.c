/* runner.c - the turn runner: the one thread that waits on the lock. */
#define _GNU_SOURCE	/* kill, sched_yield */

#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "log.h"
#include "runner.h"
#include "work.h"
#include "work_sleep.h"
#include "worklog.h"

#define STACK_SIZE	(64 * 1024)	/* bytes; the default is 8 MiB */

/* The process's queue, in ticket order. The loop thread adds and
 * removes; the runner takes the head. One mutex guards it all. */
static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* the queue is no longer empty */
	struct source	*head, *tail;
	struct source	*working;	/* taken, until finished */
	int		 busy;		/* the runner is in a turn */
	int		 stopping;
	uint64_t	 waiting;	/* the ticket the runner waits for
					 * (its number + 1), or 0 */
	int		 cancel_fd;	/* eventfd: call that wait off */
	_Atomic int	 rewait;	/* an earlier ticket was queued (an
					 * adopted job): wait for it instead */
	const struct config *cfg;
	struct lock	*lk;		/* the runner's alone */
	struct work	 work;		/* the work in progress (s->work) */
} q = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	.cancel_fd = -1 };

static void
unlink_source(struct source *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		q.head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		q.tail = s->prev;
	s->prev = s->next = NULL;
	s->state = SOURCE_NEW;
}

/* With q.mu held: put s in the queue in ticket order. New arrivals go
 * last; an adopted job's older ticket goes before them. */
static void
insert(struct source *s)
{
	struct source *at = q.tail;

	while (at != NULL && at->turn.ticket > s->turn.ticket)
		at = at->prev;
	s->prev = at;
	s->next = at != NULL ? at->next : q.head;
	if (s->next != NULL)
		s->next->prev = s;
	else
		q.tail = s;
	if (at != NULL)
		at->next = s;
	else
		q.head = s;
}

int
runner_park(struct source *s)
{
	int idle;

	pthread_mutex_lock(&q.mu);
	idle = q.head == NULL && !q.busy;
	s->state = SOURCE_PARKED;
	s->gone = 0;
	insert(s);
	if (q.head == s && s->next != NULL && q.waiting != 0) {
		/* The runner waits for a later ticket on the board: have it
		 * wait for this one (board_wait_turn). */
		atomic_store(&q.rewait, 1);
		board_nudge(q.waiting - 1);
	}
	if (q.head == s) {
		/* Nothing ahead in this process and the runner idle: if the
		 * lock is free, take it now, on the loop's thread. The work
		 * is a deadline (work.h), so it runs from this moment even
		 * though the runner wakes some microseconds later. */
		if (!q.busy && !q.stopping)
			(void)turn_try(&s->turn, q.lk);
		pthread_cond_signal(&q.cv);
	}
	pthread_mutex_unlock(&q.mu);
	return idle;
}

/* With q.mu held: if the runner waits in the lock for ticket+1 (or any,
 * with 0), call the wait off through its eventfd, so that a head that
 * queues in the engine leaves the engine's queue at once. */
static void
cancel_wait(uint64_t ticket1)
{
	uint64_t one = 1;

	if (q.waiting != 0 && (ticket1 == 0 || q.waiting == ticket1))
		(void)!write(q.cancel_fd, &one, sizeof(one));
}

int
runner_leave(struct source *s)
{
	int mine = 0;

	pthread_mutex_lock(&q.mu);
	if (s->state == SOURCE_PARKED) {
		cancel_wait(s->turn.ticket + 1);
		unlink_source(s);
		/* Wakes the runner if it waits for this very ticket; lets
		 * go of the lock if runner_park() took it. */
		turn_end(&s->turn, q.lk, TURN_SKIPPED);
		mine = 1;
	} else
		s->gone = 1;
	pthread_mutex_unlock(&q.mu);
	return mine;
}

struct source *
runner_drain(int *working)
{
	struct source *list = NULL, *s;

	pthread_mutex_lock(&q.mu);
	q.stopping = 1;
	while ((s = q.tail) != NULL) {
		unlink_source(s);
		/* A stored job's ticket stays queued: once this process is
		 * gone, another adopts it in its place (board_adopt). */
		if (!s->durable || s->turn.held)
			turn_end(&s->turn, q.lk, TURN_STOPPING);
		s->next = list;
		list = s;
	}
	*working = q.working != NULL;
	cancel_wait(0);
	pthread_cond_signal(&q.cv);
	pthread_mutex_unlock(&q.mu);
	return list;
}

int
runner_working(void)
{
	int w;

	pthread_mutex_lock(&q.mu);
	w = q.working != NULL;
	pthread_mutex_unlock(&q.mu);
	return w;
}

/* The next ticket to wait for, or 0 to stop. Blocks while the queue is
 * empty. */
static uint64_t
next_ticket(struct turn *t)
{
	uint64_t ticket = 0;

	pthread_mutex_lock(&q.mu);
	while (!q.stopping && q.head == NULL)
		pthread_cond_wait(&q.cv, &q.mu);
	if (!q.stopping) {
		*t = q.head->turn;
		ticket = t->ticket + 1;		/* never 0 */
		q.busy = 1;
	}
	pthread_mutex_unlock(&q.mu);
	return ticket;
}

/* Is t's ticket still this process's earliest, and not stopping? */
static int
still_queued(const struct turn *t)
{
	int yes;

	pthread_mutex_lock(&q.mu);
	yes = !q.stopping && q.head != NULL &&
	    q.head->turn.ticket == t->ticket;
	pthread_mutex_unlock(&q.mu);
	return yes;
}

/* With the lock held for t's ticket: take its source, unless it left
 * or we stop meanwhile. Returns it, or NULL. */
static struct source *
take(const struct turn *t)
{
	struct source *s = NULL;

	pthread_mutex_lock(&q.mu);
	if (!q.stopping && q.head != NULL &&
	    q.head->turn.ticket == t->ticket) {
		s = q.head;
		unlink_source(s);
		s->state = SOURCE_WORKING;
		s->turn.held = 1;
		s->turn.begun = t->begun;
		s->turn.token = t->token;
		if (s->turn.t1 == 0)
			s->turn.t1 = t->t1;
		q.working = s;
	}
	pthread_mutex_unlock(&q.mu);
	return s;
}

/* The turn is over: answer, then, no work being in progress any more,
 * give the source back. In that order, so an owner that waits for the
 * end of the work (a stop) never frees what is still being answered. */
static void
hand_back(struct source *s, enum turn_outcome how)
{
	s->ops->answer(s, how);
	if (s->work != NULL)
		work_clear(s->work);
	s->work = NULL;
	pthread_mutex_lock(&q.mu);
	q.working = NULL;
	pthread_mutex_unlock(&q.mu);
	s->ops->release(s);
}

const struct work *
runner_work(const struct source *s)
{
	static const struct work none;

	return s->work != NULL ? s->work : &none;
}

void
runner_count_work(const struct source *s, enum turn_outcome how)
{
	const struct work *w = runner_work(s);

	board_stats_work(how == TURN_SERVED || how == TURN_LOST ||
	    w->end == WORK_FAILED ? (int)w->end : -1, w->exit_status);
}

static void
finish(struct source *s, enum turn_outcome how)
{
	turn_end(&s->turn, q.lk, how);
	hand_back(s, how);
}

static void
log_slow(const struct source *s)
{
	double wait = s->turn.t1 - s->turn.t0;

	/* php-fpm's request_slowlog_timeout, for the queue. */
	if (q.cfg->slow_wait > 0 && wait > q.cfg->slow_wait)
		log_msg("req=%s slow: waited %.3f s, %ld ahead at arrival",
		    s->id, wait, s->turn.ahead);
}

/* Just after a work: if this process has the next ticket, take the
 * lock and begin that turn now, before answering, so the handoff within
 * a process costs no answer's time. Returns 1 if it did. */
static int
begin_next(void)
{
	int took = 0;

	pthread_mutex_lock(&q.mu);
	if (!q.stopping && q.head != NULL && !q.head->turn.held)
		took = turn_try(&q.head->turn, q.lk) == 0;
	pthread_mutex_unlock(&q.mu);
	return took;
}

/* Is the lock still ours? For a work that watches it while it runs. */
static int
held(void *arg)
{
	return lock_still_held(arg);
}

/* The work, watching the lock while it runs: a lost engine session
 * stops it at once. Returns 0, or -1 with errno ENOLCK, or EPERM when
 * the source could not set it up. */
static int
watched_work(struct source *s)
{
	struct work *w = &q.work;

	memset(w, 0, sizeof(*w));
	s->work = w;
	w->be = &work_sleep;
	w->start = s->turn.t1;
	w->watch_fd = lock_watch_fd(q.lk);
	w->held = held;
	w->held_arg = q.lk;
	w->hold_fd = lock_hold_fd(q.lk);
	w->id = s->id;
	w->stdin_fd = w->abort_fd = -1;
	if (s->ops->prepare != NULL && s->ops->prepare(s, w) == -1) {
		w->end = WORK_FAILED;
		errno = EPERM;
		return -1;
	}
	if (work_run(w) == -1)
		log_err("req=%s work %s: %s", s->id, w->be->name,
		    strerror(errno));
	if (w->end == WORK_LOST) {
		errno = ENOLCK;
		return -1;
	}
	return 0;
}

static void
log_lost(const struct source *s, const char *when)
{
	const struct turn *t = &s->turn;

	log_warn("req=%s lock lost %s (fence %llu): %s; answering 503", s->id,
	    when, (unsigned long long)t->token, q.lk->error);
}

/* Holding the lock: run the work, then let go before answering. */
static void
run_work(struct source *s)
{
	struct turn *t = &s->turn;
	enum turn_outcome how = TURN_SERVED;
	char when[48];

	if (!t->begun)		/* else begun when the lock was taken */
		turn_begin(t);
	board_stats_wait(t->t1 - t->t0);
	log_slow(s);
	if (worklog_write(q.cfg->worklog_fd, "start", t->t1, s->id, t->t0,
	    t->token) == -1)
		log_warn("req=%s work log: %s", s->id, strerror(errno));
	if (watched_work(s) == -1)
		how = errno == ENOLCK ? TURN_LOST : TURN_FAILED;
	t->t2 = clock_now();
	board_stats_length(t->t2 - t->t1);
	/* Let go first: the next waiter is already queued in the lock.
	 * Never hold the lock while answering. */
	if (turn_release(t, q.lk) == -1)
		how = TURN_LOST;
	turn_end(t, q.lk, how);
	/* The next turn is ours, and begun; else its runner, in another
	 * process, is runnable now, most likely on this CPU (the scheduler
	 * packs wake-ups): let it go first. Yielding to our own next turn
	 * would hand the CPU to whatever else waits (a journal commit after
	 * a job's fsync), for a whole slice. */
	if (!begin_next())
		sched_yield();
	if (worklog_write(q.cfg->worklog_fd, "end", t->t2, s->id, t->t0,
	    t->token) == -1)
		log_warn("req=%s work log: %s", s->id, strerror(errno));
	if (how == TURN_LOST) {
		snprintf(when, sizeof(when), "after %.3f s of work",
		    t->t2 - t->t1);
		log_lost(s, when);
	}
	hand_back(s, how);
}

/* t's ticket was finished on the board by another process (a job
 * canceled through it): take its source out of the queue, hand it
 * back. */
static void
drop_finished(const struct turn *t)
{
	struct source *s = NULL;

	pthread_mutex_lock(&q.mu);
	if (q.head != NULL && q.head->turn.ticket == t->ticket) {
		s = q.head;
		unlink_source(s);
		s->state = SOURCE_WORKING;
		q.working = s;
	}
	pthread_mutex_unlock(&q.mu);
	if (s != NULL)
		hand_back(s, TURN_SKIPPED);
}

/* Before a wait: note which ticket the runner waits for, unless an
 * earlier one came meanwhile (then start over from the head). Returns
 * 0, or -1 to start over. */
static int
mark_waiting(const struct turn *t)
{
	uint64_t n;
	int rc = 0;

	pthread_mutex_lock(&q.mu);
	(void)!read(q.cancel_fd, &n, sizeof(n));  /* stale ones */
	atomic_store(&q.rewait, 0);
	if (q.head != NULL && q.head->turn.ticket != t->ticket)
		rc = -1;
	else
		q.waiting = t->ticket + 1;
	pthread_mutex_unlock(&q.mu);
	return rc;
}

/* The backend could not take the lock for t: answer its source. */
static void
failed(struct turn *t)
{
	struct source *s;
	int e = t->error;

	log_err("lock %s %s: %s", q.lk->be->name, q.lk->error[0] ? q.lk->error :
	    q.lk->where, strerror(e));
	if ((s = take(t)) == NULL)
		return;
	s->turn.held = 0;
	s->turn.error = e;
	finish(s, e == ENOTCONN || e == EIO ? TURN_UNAVAILABLE :
	    TURN_FAILED);
}

/* Wait for t's turn and the lock, the wait open to a cancel from the
 * loop (runner_leave). Returns 0 with the lock held, or -1 when the
 * turn is over: finished by the loop, or answered here. */
static int
wait_turn(struct turn *t)
{
	int ok, e;

	for (;;) {
		if (mark_waiting(t) == -1)
			return -1;
		t->error = 0;
		ok = turn_wait(t, q.lk, q.cancel_fd, &q.rewait) == 0;
		e = errno;
		pthread_mutex_lock(&q.mu);
		q.waiting = 0;
		pthread_mutex_unlock(&q.mu);
		if (ok)
			return 0;
		if (t->error == 0 && e == EAGAIN)  /* an earlier ticket */
			return -1;
		if (t->error == 0) {	/* finished by the loop, or by */
			drop_finished(t);	/* another process */
			return -1;
		}
		if (t->error != ECANCELED) {
			failed(t);
			return -1;
		}
		if (!still_queued(t))	/* called off for it */
			return -1;
	}
}

/* One turn: the earliest ticket of this process, from wait to answer. */
static void
one_turn(struct turn *t)
{
	struct source *s;
	int waited = !t->held;	/* else runner_park() or begin_next()
				 * took the lock for it */

	if (waited && wait_turn(t) == -1)
		return;
	if ((s = take(t)) == NULL) {
		/* Its requester left while we waited in the lock. A lock
		 * taken for it beforehand was let go by whoever removed it
		 * (runner_leave, runner_drain). */
		if (waited)
			(void)lock_release(q.lk);
		return;
	}
	if (!lock_still_held(q.lk)) {
		if (errno == ENOLCK) {
			log_lost(s, "before its work");
			finish(s, TURN_LOST);
			return;
		}
		log_warn("req=%s lock file %s was unlinked or replaced while "
		    "running; stopping this responder", s->id, q.lk->where);
		finish(s, TURN_REPLACED);
		kill(getpid(), SIGTERM);	/* multiwatch starts anew */
		return;
	}
	if (board_replaced()) {
		log_warn("req=%s board file was unlinked or replaced while "
		    "running; stopping this responder", s->id);
		finish(s, TURN_REPLACED);
		kill(getpid(), SIGTERM);	/* onto the new board */
		return;
	}
	if (s->ops->gone(s)) {
		log_msg("req=%s skipped: client gone at its turn after %.3f s",
		    s->id, clock_now() - s->turn.t0);
		finish(s, TURN_SKIPPED);
		return;
	}
	if (s->ops->begin != NULL && s->ops->begin(s) == -1) {
		finish(s, TURN_SKIPPED);
		return;
	}
	run_work(s);
}

static void *
run(void *arg)
{
	struct turn t;

	(void)arg;
	/* Open the engine's session now, so /status knows at once. */
	if (lock_connect(q.lk) == -1) {
		log_warn("lock %s: %s (failing closed until it answers)",
		    q.lk->be->name, q.lk->error);
		board_stats_engine(0);
	} else if (q.lk->engine != NULL)
		board_stats_engine(1);
	while (next_ticket(&t) != 0) {
		one_turn(&t);
		pthread_mutex_lock(&q.mu);
		q.busy = 0;
		pthread_mutex_unlock(&q.mu);
	}
	return NULL;
}

int
runner_start(const struct config *c, struct lock *l)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	q.cfg = c;
	q.lk = l;
	work_sleep_init(c->work_seconds);
	if ((q.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return -1;
	if ((rc = pthread_attr_init(&attr)) != 0)
		goto out;
	if ((rc = pthread_attr_setstacksize(&attr, STACK_SIZE)) != 0 ||
	    (rc = pthread_attr_setdetachstate(&attr,
	    PTHREAD_CREATE_DETACHED)) != 0)
		goto attr;
	/* Signals are the loop's business (signalfd): none reach the
	 * runner, so none interrupts a wait in the lock. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, run, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
attr:
	pthread_attr_destroy(&attr);
out:
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}
