/*
 * jobrun.c - a stored job as a source of turns (source.h): parked with
 * the runner like a request, but nobody waits on a connection. Before
 * its work the runner has it marked running in the store (begin), the
 * one write that makes it run at most once; after, the outcome is
 * stored and its callback falls due.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "clock.h"
#include "jobrun.h"
#include "jobs.h"
#include "log.h"
#include "runner.h"

struct job_source {
	struct source	 src;		/* first: the runner sees this */
	struct job	 job;		/* as stored when parked */
	struct job_source *prev, *next;	/* this process's jobs */
};

/* This process's jobs, parked or working: the loop adds and cancels,
 * the runner releases. And ends the store could not take yet (a lock
 * held too long, an engine away): the janitor tries them again, so a
 * job whose responder lives never stays running. */
struct unsaved {
	struct job	 job;
	struct unsaved	*next;
};

#define START_LOG_EVERY	10.0	/* s between logs of failed starts */

static struct {
	pthread_mutex_t	 mu;
	struct job_source *mine;	/* parked or working */
	struct unsaved	*unsaved;	/* ends to store again */
	double		 next_log;	/* mono s; the runner's alone */
} jr = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct job_source *
find(const char *id)
{
	struct job_source *js;

	for (js = jr.mine; js != NULL; js = js->next)
		if (strcmp(js->job.id, id) == 0)
			return js;
	return NULL;
}

static void
forget(struct job_source *js)
{
	pthread_mutex_lock(&jr.mu);
	if (js->prev != NULL)
		js->prev->next = js->next;
	else
		jr.mine = js->next;
	if (js->next != NULL)
		js->next->prev = js->prev;
	pthread_mutex_unlock(&jr.mu);
	free(js);
}

static int
js_gone(struct source *s)
{
	(void)s;	/* a cancel shows in begin(): the store says no */
	return 0;
}

static int
js_begin(struct source *s)
{
	struct job_source *js = (struct job_source *)s;
	int rc;

	if ((rc = store_start(&js->job, clock_wall_at(s->turn.t1))) == 1)
		return 0;
	if (rc == 0) {
		log_msg("job=%s skipped at its turn: canceled", js->job.id);
		return -1;
	}
	/* It stays queued; the janitor parks it again, once a second
	 * while the store fails (a full disk refuses every try): said
	 * once in START_LOG_EVERY, not at every try. */
	jobs_restart();
	if (clock_now() >= jr.next_log) {
		log_err("job=%s not started: job store: %s (parked again "
		    "until the store takes it)", js->job.id, store_error());
		jr.next_log = clock_now() + START_LOG_EVERY;
	}
	return -1;
}

/* Keep j's end to store later; before the source is released, so the
 * janitor finds j here or there, never nowhere. */
static void
keep_unsaved(const struct job *j)
{
	struct unsaved *u;

	if ((u = malloc(sizeof(*u))) == NULL)
		return;		/* the janitor then calls it interrupted */
	u->job = *j;
	pthread_mutex_lock(&jr.mu);
	u->next = jr.unsaved;
	jr.unsaved = u;
	pthread_mutex_unlock(&jr.mu);
	jobs_kick();
}

/* Store how the job ended: succeeded, or failed with code and why. */
static void
end(struct job_source *js, enum job_status st, const char *code,
    const char *why)
{
	struct job *j = &js->job;
	const struct turn *t = &js->src.turn;

	j->status = st;
	j->finished = clock_wall();
	if (st == JOB_SUCCEEDED) {
		j->elapsed = clock_round_us(t->t2 - t->t0);
		j->wait = clock_round_us(t->t1 - t->t0);
		j->work = clock_round_us(t->t2 - t->t1);
		j->fence = t->token;
	}
	snprintf(j->error_code, sizeof(j->error_code), "%s", code);
	snprintf(j->error_message, sizeof(j->error_message), "%s", why);
	switch (store_end(j)) {
	case 1:
		if (j->cb_url[0])
			jobs_kick();	/* its callback is due */
		log_msg("job=%s %s%s%s", j->id, store_status_name(st),
		    *code ? ": " : "", code);
		break;
	case 0:
		log_warn("job=%s ended %s, but the store no longer has it as "
		    "ours", j->id, store_status_name(st));
		break;
	default:
		log_err("job=%s ended %s, but the store failed: %s (tried "
		    "again)", j->id, store_status_name(st), store_error());
		keep_unsaved(j);
	}
}

static void
js_answer(struct source *s, enum turn_outcome how)
{
	struct job_source *js = (struct job_source *)s;

	switch (how) {
	case TURN_SERVED:
		end(js, JOB_SUCCEEDED, "", "");
		break;
	case TURN_LOST:
		if (s->turn.t2 == 0)
			end(js, JOB_FAILED, "lock_lost", "the lock engine's "
			    "lock was lost before work(), which did not run");
		else
			end(js, JOB_FAILED, "lock_lost", "the lock engine's "
			    "lock was lost during work(), which was stopped; "
			    "it is not run again");
		break;
	case TURN_UNAVAILABLE:
		end(js, JOB_FAILED, "engine_unreachable", "the lock engine "
		    "could not be reached; work() did not run");
		break;
	case TURN_FAILED:
		end(js, JOB_FAILED, "lock_failed", "the lock could not be "
		    "taken; work() did not run");
		break;
	case TURN_SKIPPED:	/* canceled: the canceler stored it */
	case TURN_STOPPING:	/* stays queued for the next start */
	case TURN_REPLACED:	/* stays queued for another process */
		break;
	}
}

static void
js_release(struct source *s)
{
	forget((struct job_source *)s);
}

static const struct source_ops job_ops = {
	.gone = js_gone,
	.begin = js_begin,
	.answer = js_answer,
	.release = js_release,
};

int
jobrun_park(const struct job *j, uint64_t ticket, double t0)
{
	struct job_source *js;

	if ((js = calloc(1, sizeof(*js))) == NULL)
		return -1;
	js->job = *j;
	js->job.ticket = ticket;
	js->src.ops = &job_ops;
	js->src.id = js->job.id;
	js->src.durable = 1;
	js->src.turn.ticket = ticket;
	js->src.turn.t0 = t0;
	pthread_mutex_lock(&jr.mu);
	js->next = jr.mine;
	if (jr.mine != NULL)
		jr.mine->prev = js;
	jr.mine = js;
	pthread_mutex_unlock(&jr.mu);
	board_jobs_bump();	/* the other janitors look from now on */
	return runner_park(&js->src);
}

int
jobrun_leave(const char *id)
{
	struct job_source *js;
	int out = 0;

	pthread_mutex_lock(&jr.mu);
	if ((js = find(id)) != NULL)
		out = runner_leave(&js->src);
	pthread_mutex_unlock(&jr.mu);
	if (out)
		forget(js);
	return out;
}

int
jobrun_has(const char *id)
{
	struct unsaved *u;
	int has;

	pthread_mutex_lock(&jr.mu);
	has = find(id) != NULL;
	for (u = jr.unsaved; !has && u != NULL; u = u->next)
		has = strcmp(u->job.id, id) == 0;
	pthread_mutex_unlock(&jr.mu);
	return has;
}

int
jobrun_retry(void)
{
	struct unsaved *todo, *u, *next;
	int left = 0, rc;

	/* Taken off the list, so the store is never called with jr.mu
	 * held (the store's mutex comes first, everywhere). */
	pthread_mutex_lock(&jr.mu);
	todo = jr.unsaved;
	jr.unsaved = NULL;
	pthread_mutex_unlock(&jr.mu);
	for (u = todo; u != NULL; u = next) {
		next = u->next;
		if ((rc = store_end(&u->job)) == -1) {
			pthread_mutex_lock(&jr.mu);
			u->next = jr.unsaved;
			jr.unsaved = u;
			pthread_mutex_unlock(&jr.mu);
			left++;
			continue;
		}
		log_msg("job=%s %s, stored at last", u->job.id,
		    rc == 1 ? store_status_name(u->job.status) :
		    "ended, but the store no longer has it as ours,");
		free(u);
	}
	return left;
}
