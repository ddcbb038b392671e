/*
 * jobrun.c - a stored job as a source of turns (source.h): parked with
 * the runner like a request, but nobody waits on a connection. Before
 * its work the runner has it marked running in the store (begin), the
 * one write that makes it run at most once; after, the outcome is
 * stored and its callback falls due.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board.h"
#include "cgi.h"
#include "clock.h"
#include "jobrun.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "runner.h"
#include "store_work.h"
#include "work_env.h"

struct job_source {
	struct source	 src;		/* first: the runner sees this */
	struct job	 job;		/* as stored when parked */
	struct job_source *prev, *next;	/* this process's jobs */
	/* A job of real work, from prepare() to release(): */
	char		**env;		/* its program's environment */
	int		 stdin_fd;	/* its request's body, or -1 */
	int		 abort_fd;	/* eventfd: a cancel stops it */
	/* Under jr.mu: it works now; a cancel was asked; its last
	 * progress line, not stored yet if dirty. */
	int		 working, asked, dirty;
	double		 progress;
	char		 note[JOB_NOTE_MAX];
};

/* This process's jobs, parked or working: the loop adds and cancels,
 * the runner releases. And ends the store could not take yet (a lock
 * held too long, an engine away): the janitor tries them again, so a
 * job whose responder lives never stays running. */
struct unsaved {
	struct job	 job;
	struct job_blob	 result;
	struct unsaved	*next;
};

#define START_LOG_EVERY	10.0	/* s between logs of failed starts */
/* While a job of real work of this process runs, the loop looks, every
 * WATCH_WORKING s, for a cancel asked through another responder or
 * host (the store's cancel_asked), and stores its progress at most
 * every PROGRESS_EVERY s; while one is only queued, every WATCH_QUEUED
 * s, to see it start should the runner's word (started) be missing. */
#define WATCH_WORKING	0.02
#define WATCH_QUEUED	0.25
#define PROGRESS_EVERY	0.2

static struct {
	pthread_mutex_t	 mu;
	struct job_source *mine;	/* parked or working */
	struct unsaved	*unsaved;	/* ends to store again */
	double		 next_log;	/* mono s; the runner's alone */
	struct loop_timer watch;	/* the loop's alone */
	struct loop_fd	 started;	/* eventfd: one of ours started */
	double		 progress_at;	/* mono s: the next store of it */
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
	if (js->abort_fd != -1)
		close(js->abort_fd);
	if (js->stdin_fd != -1)
		close(js->stdin_fd);
	free(js->env);
	free(js);
}

/* Stop js's work, if it runs now (with jr.mu held). */
static void
stop_work(struct job_source *js)
{
	uint64_t one = 1;

	js->asked = 1;
	if (js->working && js->abort_fd != -1)
		/* Fails only when the counter is full: it is set. */
		(void)!write(js->abort_fd, &one, sizeof(one));
}

/* A line its program wrote on fd 3 (work.h): kept, for the loop to
 * store (watch). The runner's thread. */
static void
on_progress(struct work *w, double fraction, const char *note)
{
	struct job_source *js = w->progress_arg;

	pthread_mutex_lock(&jr.mu);
	js->progress = fraction;
	snprintf(js->note, sizeof(js->note), "%s", note);
	js->dirty = 1;
	pthread_mutex_unlock(&jr.mu);
}

/* Why a job of real work did not start, for its error. Returns -1. */
static int
not_prepared(struct work *w, const char *what, const char *why)
{
	snprintf(w->why, sizeof(w->why), "%s: %s", what, why);
	return -1;
}

/* The lock is held, the job marked running: its request, as it was
 * kept, made the program's (or the upstream's) again, with what only
 * its turn knows. The sleep's jobs have nothing to prepare. */
static int
js_prepare(struct source *s, struct work *w)
{
	struct job_source *js = (struct job_source *)s;
	const struct turn *t = &s->turn;
	struct job_blob env, in;
	uint64_t one = 1;
	int rc;

	if (js->job.kind != JOB_WORK)
		return 0;
	if (jobs.work_be == NULL)
		return not_prepared(w, "not run", "no WORK_COMMAND or "
		    "WORK_URL here now");
	if ((rc = store_work_request(js->job.id, &env, &in)) != 1)
		return not_prepared(w, "its request", rc == 0 ? "not in the "
		    "store" : store_error());
	js->env = work_env_turn((const char *)env.p, env.len, NULL,
	    t->t1 - t->t0, t->token, js->job.id);
	if (in.len > 0)
		js->stdin_fd = work_stdin_fd(in.p, in.len);
	free(env.p);
	free(in.p);
	if (js->env == NULL || (in.len > 0 && js->stdin_fd == -1) ||
	    (js->abort_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return not_prepared(w, "its program", strerror(errno));
	w->be = jobs.work_be;
	w->env = js->env;
	w->stdin_fd = js->stdin_fd;
	w->abort_fd = js->abort_fd;
	w->on_progress = on_progress;
	w->progress_arg = js;
	pthread_mutex_lock(&jr.mu);
	js->working = 1;
	if (js->asked)		/* canceled between its start and now */
		stop_work(js);
	pthread_mutex_unlock(&jr.mu);
	/* The loop watches it from now on, not at its next look for
	 * queued ones: a cancel through the store, and its first progress
	 * line, then wait WATCH_WORKING at most, not WATCH_QUEUED. Armed
	 * before any job of real work was parked (jobrun_park). */
	if (jr.started.armed)
		(void)!write(jr.started.fd, &one, sizeof(one));
	return 0;
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

/* Keep j's end (and its answer, taken) to store later; before the
 * source is released, so the janitor finds j here or there, never
 * nowhere. */
static void
keep_unsaved(const struct job *j, struct job_blob *result)
{
	struct unsaved *u;

	if ((u = malloc(sizeof(*u))) == NULL)
		return;		/* the janitor then calls it interrupted */
	u->job = *j;
	u->result = *result;
	*result = (struct job_blob){ NULL, 0 };
	pthread_mutex_lock(&jr.mu);
	u->next = jr.unsaved;
	jr.unsaved = u;
	pthread_mutex_unlock(&jr.mu);
	jobs_kick();
}

/* What a job of real work gives its row: the answer (all of it, or
 * what a stopped program had written), its status and type, the
 * program's exit, its last progress. */
static void
work_result(struct job_source *js, struct job_blob *result)
{
	struct job *j = &js->job;
	/* An answer only comes from a work that began: then the runner's
	 * struct work is the source's. */
	struct work *w = js->src.work;

	j->exit_status = runner_work(&js->src)->exit_status;
	pthread_mutex_lock(&jr.mu);
	j->progress = js->progress;
	snprintf(j->progress_note, sizeof(j->progress_note), "%s",
	    js->note);
	pthread_mutex_unlock(&jr.mu);
	if (w == NULL || w->answer_len == 0)
		return;
	j->partial = w->end != WORK_DONE;
	j->result_status = w->end == WORK_DONE ? w->status : 0;
	if (w->end == WORK_DONE)
		(void)cgi_field(w->answer, w->head_len, "Content-Type",
		    j->result_type, sizeof(j->result_type));
	j->result_size = (long long)w->answer_len;
	/* Taken from the work: the runner frees what is left of it. */
	result->p = w->answer;
	result->len = w->answer_len;
	w->answer = NULL;
	w->answer_len = w->head_len = 0;
}

/* Store how the job ended: succeeded, or failed with code and why. */
static void
end(struct job_source *js, enum job_status st, const char *code,
    const char *why)
{
	struct job *j = &js->job;
	const struct turn *t = &js->src.turn;
	struct job_blob result = { NULL, 0 };

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
	if (j->kind == JOB_WORK)
		work_result(js, &result);
	switch (store_end(j, &result)) {
	case 1:
		if (j->cb_url[0])
			jobs_kick();	/* its callback is due */
		log_msg("job=%s %s%s%s", j->id, job_status_name(st),
		    *code ? ": " : "", code);
		break;
	case 0:
		log_warn("job=%s ended %s, but the store no longer has it as "
		    "ours", j->id, job_status_name(st));
		break;
	default:
		log_err("job=%s ended %s, but the store failed: %s (tried "
		    "again)", j->id, job_status_name(st), store_error());
		keep_unsaved(j, &result);
	}
	free(result.p);
}

/* A job of real work that ran: how its work ended. */
static void
work_ended(struct job_source *js)
{
	const struct work *w = runner_work(&js->src);
	char why[200];

	switch (w->end) {
	case WORK_DONE:
		end(js, JOB_SUCCEEDED, "", "");
		break;
	case WORK_ABORTED:
		end(js, JOB_CANCELED, "", "");
		break;
	case WORK_TIMEOUT:
		end(js, JOB_FAILED, "timeout", w->why);
		break;
	case WORK_BAD:
		snprintf(why, sizeof(why), "the answer is no CGI response: "
		    "%s", w->why);
		end(js, JOB_FAILED, "bad_answer", why);
		break;
	default:
		end(js, JOB_FAILED, "work_failed", w->why);
	}
}

static void
js_answer(struct source *s, enum turn_outcome how)
{
	struct job_source *js = (struct job_source *)s;

	if (js->job.kind == JOB_WORK)	/* as /work's, for /metrics */
		runner_count_work(s, how);

	switch (how) {
	case TURN_SERVED:
		if (js->job.kind == JOB_WORK)
			work_ended(js);
		else
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
		if (runner_work(s)->end == WORK_FAILED) /* prepare() said no */
			end(js, JOB_FAILED, "work_failed", runner_work(s)->why);
		else
			end(js, JOB_FAILED, "lock_failed", "the lock could "
			    "not be taken; work() did not run");
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
	.prepare = js_prepare,
	.answer = js_answer,
	.release = js_release,
};

/* What the loop learns of this process's job of real work that runs:
 * its id, and its progress line if not stored yet. Returns 1 if one
 * runs, 0 if one is only queued, -1 if there is none. */
static int
working(struct job *out, int *dirty)
{
	struct job_source *js;
	int rc = -1;

	pthread_mutex_lock(&jr.mu);
	for (js = jr.mine; js != NULL && rc != 1; js = js->next) {
		if (js->job.kind != JOB_WORK)
			continue;
		rc = js->working;
		if (!rc)
			continue;
		*out = js->job;
		out->progress = js->progress;
		snprintf(out->progress_note, sizeof(out->progress_note), "%s",
		    js->note);
		*dirty = js->dirty && clock_now() >= jr.progress_at;
		if (*dirty)
			js->dirty = 0;
	}
	pthread_mutex_unlock(&jr.mu);
	return rc;
}

/* The loop's look at a job of real work while it runs: its progress
 * into the store, for every host's GET /jobs/{id}; a cancel asked
 * through another responder or host, from the store, to its eventfd.
 * Not armed again once this process has no such job. */
static void
watch(struct loop_timer *t, double now)
{
	struct job j;
	int dirty = 0, rc;

	if ((rc = working(&j, &dirty)) == -1)
		return;
	if (rc == 1 && dirty) {
		jr.progress_at = now + PROGRESS_EVERY;
		if (store_work_progress(&j) == -1)
			log_warn("job=%s progress not stored: %s", j.id,
			    store_error());
	}
	if (rc == 1 && store_work_cancel_asked(j.id) == 1)
		(void)jobrun_abort(j.id);
	loop_timer_set(t, now + (rc == 1 ? WATCH_WORKING : WATCH_QUEUED),
	    watch, NULL);
}

/* The runner started a job of real work of ours: watch it now. */
static void
on_started(struct loop_fd *e, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(e->fd, &n, sizeof(n)) == sizeof(n))
		loop_timer_set(&jr.watch, clock_now(), watch, NULL);
}

/* The runner's word that a job of real work started, opened once.
 * Without it, the watch of queued jobs sees the start. */
static void
started_open(void)
{
	int fd;

	if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return;
	if (loop_fd_add(&jr.started, fd, EPOLLIN, on_started, NULL) == -1)
		close(fd);
}

int
jobrun_abort(const char *id)
{
	struct job_source *js;
	int found;

	pthread_mutex_lock(&jr.mu);
	if ((found = (js = find(id)) != NULL) && !js->asked) {
		log_msg("job=%s cancel: its work is stopped", id);
		stop_work(js);
	}
	pthread_mutex_unlock(&jr.mu);
	return found;
}

int
jobrun_park(const struct job *j, uint64_t ticket, double t0)
{
	struct job_source *js;

	if ((js = calloc(1, sizeof(*js))) == NULL)
		return -1;
	js->job = *j;
	js->job.ticket = ticket;
	js->stdin_fd = js->abort_fd = -1;
	js->progress = -1;
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
	if (j->kind == JOB_WORK && !jr.started.armed)
		started_open();
	/* Off is when == 0: a timer that ran and was not set again stays
	 * listed, and a watch that lapsed must start again. */
	if (j->kind == JOB_WORK && jr.watch.when == 0)
		loop_timer_set(&jr.watch, clock_now() + WATCH_QUEUED, watch,
		    NULL);
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
		if ((rc = store_end(&u->job, &u->result)) == -1) {
			pthread_mutex_lock(&jr.mu);
			u->next = jr.unsaved;
			jr.unsaved = u;
			pthread_mutex_unlock(&jr.mu);
			left++;
			continue;
		}
		log_msg("job=%s %s, stored at last", u->job.id,
		    rc == 1 ? job_status_name(u->job.status) :
		    "ended, but the store no longer has it as ours,");
		free(u->result.p);
		free(u);
	}
	return left;
}
