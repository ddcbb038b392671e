/* runner.c - the turn runner: the one thread that waits on the lock. */
#define _GNU_SOURCE	/* kill */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "runner.h"
#include "work.h"

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
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL,
	NULL, 0, 0 };

static const struct config *cfg;
static struct lock *lk;

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

int
runner_park(struct source *s)
{
	int idle;

	pthread_mutex_lock(&q.mu);
	idle = q.head == NULL && !q.busy;
	s->state = SOURCE_PARKED;
	s->gone = 0;
	s->next = NULL;
	s->prev = q.tail;
	if (q.tail != NULL)
		q.tail->next = s;
	else
		q.head = s;
	q.tail = s;
	if (q.head == s) {
		/* Nothing ahead in this process and the runner idle: if the
		 * lock is free, take it now, on the loop's thread. The work
		 * is a deadline (work.h), so it runs from this moment even
		 * though the runner wakes some microseconds later. */
		if (!q.busy && !q.stopping)
			(void)turn_try(&s->turn, lk);
		pthread_cond_signal(&q.cv);
	}
	pthread_mutex_unlock(&q.mu);
	return idle;
}

int
runner_leave(struct source *s)
{
	int mine = 0;

	pthread_mutex_lock(&q.mu);
	if (s->state == SOURCE_PARKED) {
		unlink_source(s);
		/* Wakes the runner if it waits for this very ticket; lets
		 * go of the lock if runner_park() took it. */
		turn_end(&s->turn, lk, TURN_SKIPPED);
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
		turn_end(&s->turn, lk, TURN_STOPPING);
		s->next = list;
		list = s;
	}
	*working = q.working != NULL;
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
	pthread_mutex_lock(&q.mu);
	q.working = NULL;
	pthread_mutex_unlock(&q.mu);
	s->ops->release(s);
}

static void
finish(struct source *s, enum turn_outcome how)
{
	turn_end(&s->turn, lk, how);
	hand_back(s, how);
}

static void
log_slow(const struct source *s)
{
	double wait = s->turn.t1 - s->turn.t0;

	/* php-fpm's request_slowlog_timeout, for the queue. */
	if (cfg->slow_wait > 0 && wait > cfg->slow_wait)
		logmsg("req=%s slow: waited %.3f s, %ld ahead at arrival",
		    s->id, wait, s->turn.ahead);
}

/* Just after a work: if this process has the next ticket, take the
 * lock and begin that turn now, before answering, so the handoff within
 * a process costs no answer's time. */
static void
begin_next(void)
{
	pthread_mutex_lock(&q.mu);
	if (!q.stopping && q.head != NULL && !q.head->turn.held)
		(void)turn_try(&q.head->turn, lk);
	pthread_mutex_unlock(&q.mu);
}

/* Holding the lock: run the work, then let go before answering. */
static void
run_work(struct source *s)
{
	struct turn *t = &s->turn;

	if (!t->begun)		/* else begun by turn_try() */
		turn_begin(t);
	log_slow(s);
	if (worklog_write(cfg->worklog_fd, "start", t->t1, s->id, t->t0) ==
	    -1)
		logmsg("req=%s work log: %s", s->id, strerror(errno));
	if (work(t->t1, cfg->work_seconds) == -1)
		logmsg("req=%s clock_nanosleep: %s", s->id, strerror(errno));
	t->t2 = mono_now();
	/* Let go first: the next waiter is already queued in the lock.
	 * Never hold the lock while answering. */
	turn_end(t, lk, TURN_SERVED);
	begin_next();
	if (worklog_write(cfg->worklog_fd, "end", t->t2, s->id, t->t0) == -1)
		logmsg("req=%s work log: %s", s->id, strerror(errno));
	hand_back(s, TURN_SERVED);
}

/* One turn: the earliest ticket of this process, from wait to answer. */
static void
one_turn(struct turn *t)
{
	struct source *s;
	int waited = !t->held;	/* else runner_park() or begin_next()
				 * took the lock for it */

	if (waited && turn_wait(t, lk, -1) == -1) {
		if (errno == ECANCELED)		/* finished by the loop */
			return;
		logmsg("lock %s %s: %s", lk->be->name, lk->where,
		    strerror(t->error));
		if ((s = take(t)) != NULL) {
			s->turn.held = 0;
			s->turn.error = t->error;
			finish(s, TURN_FAILED);
		}
		return;
	}
	if ((s = take(t)) == NULL) {
		/* Its requester left while we waited in the lock. A lock
		 * taken for it beforehand was let go by whoever removed it
		 * (runner_leave, runner_drain). */
		if (waited)
			(void)lock_release(lk);
		return;
	}
	if (!lock_still_held(lk)) {
		logmsg("req=%s lock file %s was unlinked or replaced while "
		    "running; stopping this responder", s->id, lk->where);
		finish(s, TURN_REPLACED);
		kill(getpid(), SIGTERM);	/* multiwatch starts anew */
		return;
	}
	if (s->ops->gone(s)) {
		logmsg("req=%s skipped: client gone at its turn after %.3f s",
		    s->id, mono_now() - s->turn.t0);
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

	cfg = c;
	lk = l;
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
