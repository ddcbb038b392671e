/*
 * jobs_submit.c - submissions of jobs: POST /jobs (the sleep), and /work
 * with Prefer: respond-async (a job of real work). See jobs_submit.h.
 * Idempotency-Key as the IETF httpapi draft has it: the same key and
 * body replay the first answer; the key with another body is 422.
 */
#define _GNU_SOURCE	/* strncasecmp */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "incarnation.h"
#include "janitor.h"
#include "job_body.h"
#include "job_reply.h"
#include "jobrun.h"
#include "jobs.h"
#include "jobs_submit.h"
#include "log.h"
#include "loop.h"
#include "reply.h"
#include "store_id.h"
#include "store_work.h"
#include "work_async.h"

/*
 * Submissions are stored in batches: one transaction, and one fsync of
 * the store's log, for every submission whose request came whole in one
 * round of the event loop (loop.h runs a timer set to now after the
 * round's file events). A burst then costs a commit per round, not per
 * job, and the loop is back to accepting within one commit. Each
 * submission takes its ticket when its request is whole, as before;
 * every answer, 202 or not, goes out after the commit.
 */
#define BATCH_MAX	64	/* submissions in one transaction, at most */

struct pending {
	struct conn	*c;
	struct turn	 t;
	struct job	 j;		/* the new job, or the replayed one */
	/* A job of real work (j.kind): the request it keeps, and its
	 * print, for an Idempotency-Key's replay. */
	struct job_blob	 env, in;
	char		 print[WORK_ASYNC_PRINT_LEN + 8];
	int		 status;	/* the answer: 202, or a refusal */
	int		 replayed;	/* an Idempotency-Key replay */
	int		 parked;	/* with the runner: leave on failure */
	int		 ticket_done;	/* finished, or the runner's now */
	char		 why[160];	/* a refusal's message */
	struct pending	*next;
};

static struct {
	struct pending	*head, **tail;
	int		 n;
	struct loop_timer flush;
	void		(*went_busy)(void);	/* jobs_submit_init's */
} batch = { .tail = &batch.head };

void
jobs_submit_init(void (*went_busy)(void))
{
	batch.went_busy = went_busy;
}

static void
pending_free(struct pending *p)
{
	free(p->env.p);
	free(p->in.p);
	free(p);
}

static int
is_json_type(const char *t)
{
	size_t n = strlen("application/json");

	return strncasecmp(t, "application/json", n) == 0 &&
	    (t[n] == '\0' || t[n] == ';' || t[n] == ' ');
}

/* The Idempotency-Key: a Structured Fields string ("...") or a bare
 * token, of visible ASCII. Returns 0 with it in c->key, or -1. */
static int
clean_key(struct conn *c)
{
	char *k = c->key;
	size_t n = strlen(k), i;

	if (c->key_len >= sizeof(c->key))
		return -1;	/* cut: too long even with quotes */
	if (n >= 2 && k[0] == '"' && k[n - 1] == '"') {
		memmove(k, k + 1, n - 2);
		k[n -= 2] = '\0';
	}
	if (n > CONN_KEY_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (k[i] <= ' ' || k[i] > '~' || k[i] == '"')
			return -1;
	return n > 0 ? 0 : -1;
}

/* What refuses any submission: a responder that stops, a malformed
 * Idempotency-Key. Returns 1 if c was answered so. */
static int
refused(struct conn *c, int stopping)
{
	if (stopping)
		reply_error(c, 503, reply_retry_after(), "responder is "
		    "stopping");
	else if (c->key_len && clean_key(c) == -1)
		job_reply_bad(c, 400, "Idempotency-Key: want 1 to 128 "
		    "visible ASCII characters");
	else
		return 0;
	return 1;
}

/* 128 random bits from the kernel's CSPRNG, in hex, as a store's id:
 * ids are the only secret guarding a job, as the service has no
 * authentication. */
static void
new_id(char *id)
{
	_Static_assert(JOB_ID_LEN == STORE_ID_LEN, "a job id is a store id");
	store_id_new(id);
}

/* Within the store's transaction: the row of p's new job, whose ticket
 * p->t holds. Returns 0, or -1 with errno EEXIST (the id or the key is
 * taken) or the store's. */
static int
enqueue(struct pending *p)
{
	struct job *j = &p->j;
	const struct conn *c = p->c;

	new_id(j->id);
	board_self(&j->owner_slot, &j->owner_pid);
	snprintf(j->node, sizeof(j->node), "%s", jobs.node);
	j->gen = incarnation_self();	/* the owner: store.h */
	j->ticket = p->t.ticket;
	j->arrived_mono = p->t.t0;
	j->created = clock_wall_at(p->t.t0);
	j->status = JOB_QUEUED;
	if (j->kind == JOB_WORK)
		return store_insert(j, c->key_len ? c->key : NULL, p->print,
		    &p->env, &p->in);
	return store_insert(j, c->key_len ? c->key : NULL, c->body ?
	    c->body : "", NULL, NULL);
}

/* The same key again, found in the store: replay (same body) or 422.
 * Returns 1 decided, 0 no such key, -1 store error. */
static int
replay(struct pending *p)
{
	static char body[CONN_BODY_MAX + 1];
	struct conn *c = p->c;
	int rc;

	if (!c->key_len || (rc = store_find_key(c->key, &p->j, body,
	    sizeof(body))) == 0)
		return 0;
	if (rc == -1)
		return -1;
	if (strcmp(body, p->j.kind == JOB_WORK ? p->print : c->body ?
	    c->body : "") != 0) {
		p->status = 422;
		snprintf(p->why, sizeof(p->why), "Idempotency-Key: already "
		    "used with another body");
	} else {
		p->status = 202;
		p->replayed = 1;
	}
	return 1;
}

/* Room for a job of real work's body, in what such jobs keep (their
 * bodies and answers, JOB_RESULTS_MAX): *kept is the bytes so far, -1
 * before the batch looked. Returns 1 (room: counted), 0 (no room: p
 * refused), or -1 on a store error. */
static int
room(struct pending *p, long long *kept)
{
	if (p->j.kind != JOB_WORK)
		return 1;
	if (*kept < 0 && (*kept = store_work_bytes()) < 0)
		return -1;
	if (*kept + (long long)p->in.len <= jobs.results_max) {
		*kept += (long long)p->in.len;
		return 1;
	}
	p->status = 503;
	snprintf(p->why, sizeof(p->why), "job results full: jobs of real "
	    "work keep %lld bytes, JOB_RESULTS_MAX is %lld; retention "
	    "frees them", *kept, jobs.results_max);
	return 0;
}

/* One submission, within the batch's transaction: *queued is the queue's
 * length so far, *kept what jobs of real work keep. Returns 0 decided,
 * or -1 on a store error. */
static int
store_one(struct pending *p, long *queued, long long *kept, int *took)
{
	int rc;

	if ((rc = replay(p)) != 0)
		return rc == 1 ? 0 : -1;
	if (*queued >= jobs.queue) {
		p->status = 503;
		snprintf(p->why, sizeof(p->why), "busy: %ld jobs already "
		    "queued", *queued);
		board_stats_rejected();
		return 0;
	}
	if ((rc = room(p, kept)) != 1)
		return rc;
	if (enqueue(p) == -1) {
		if (errno != EEXIST || !p->c->key_len)
			return -1;
		/* Another request with the key is being stored (another
		 * process or host): the IETF draft's 409. */
		p->status = 409;
		snprintf(p->why, sizeof(p->why), "Idempotency-Key: a request "
		    "with this key is in flight; retry");
		return 0;
	}
	/* Parked before the commit, so that its turn never waits for the
	 * fsync: should the turn come first, the runner's store_start()
	 * waits for the store, and finds the job only if it was
	 * committed. */
	if ((rc = jobrun_park(&p->j, p->t.ticket, p->t.t0)) == -1) {
		/* Its ticket must not hold the queue up: the janitor parks
		 * it again with a new one. */
		board_finish(p->t.ticket, BOARD_FAILED);
		janitor_rescan();
		log_err("job=%s queued, but not parked here: out of memory "
		    "(the janitor takes it up)", p->j.id);
	}
	p->parked = rc != -1;
	p->ticket_done = 1;
	*took |= rc == 1;
	p->status = 202;
	(*queued)++;
	return 0;
}

/* The batch's transaction failed: every submission in it gets the
 * cause; none of its new jobs was stored. */
static void
batch_failed(struct pending *list, int error)
{
	char msg[160];
	struct pending *p;

	job_reply_cause(error, msg, sizeof(msg));
	for (p = list; p != NULL; p = p->next) {
		/* Out of the queue; or, taken by the runner already, its
		 * store_start() finds no row and skips it. */
		if (p->parked)
			(void)jobrun_leave(p->j.id);
		p->parked = 0;
		p->replayed = 0;
		p->status = 503;
		snprintf(p->why, sizeof(p->why), "%s", msg);
	}
}

/* Store every submission of the list in one transaction. Returns 1 if
 * a job gave this idle process work. */
static int
store_all(struct pending *list)
{
	struct pending *p;
	long queued;
	long long kept = -1;
	int took = 0, e;

	if (store_tx_begin() == -1) {
		batch_failed(list, errno);
		return 0;
	}
	if ((queued = store_count(JOB_QUEUED)) < 0)
		goto failed;
	for (p = list; p != NULL; p = p->next)
		if (store_one(p, &queued, &kept, &took) == -1)
			goto failed;
	if (store_tx_end(1) == 0)
		return took;
	batch_failed(list, errno);
	return 0;
failed:
	e = errno;
	(void)store_tx_end(0);
	batch_failed(list, e);
	return 0;
}

/* Answer p as the batch decided, and hand its connection back. */
static void
answer(struct pending *p)
{
	struct conn *c = p->c;
	char hdr[128];

	/* With the time from the whole request to its answer: the
	 * batch's wait for the store, and its commit. */
	if (p->status == 202 && !p->replayed)
		log_msg("req=%s job=%s queued (ticket %llu, %.3f ms)", c->id,
		    p->j.id, (unsigned long long)p->t.ticket,
		    (clock_now() - p->t.t0) * 1e3);
	if (!p->ticket_done)	/* its ticket leaves the queue */
		board_finish(p->t.ticket, BOARD_FAILED);
	if (p->status == 202) {
		/* RFC 7240 3: a preference honored is said so. */
		snprintf(hdr, sizeof(hdr), "Location: /jobs/%s\r\n%s%s",
		    p->j.id, p->replayed ? "Idempotent-Replayed: true\r\n" :
		    "", p->j.kind == JOB_WORK ? "Preference-Applied: "
		    "respond-async\r\n" : "");
		job_reply(c, 202, hdr, &p->j);
	} else if (p->status == 503 && strncmp(p->why, "busy", 4) == 0)
		reply_error(c, 503, reply_retry_after(), p->why);
	else if (p->status == 503)
		job_reply_unavailable_msg(c, p->why);
	else
		job_reply_bad(c, p->status, p->why);
	c->done(c);
}

/* After the loop's round: the batch, stored and answered. */
static void
flush(struct loop_timer *t, double now)
{
	struct pending *list = batch.head, *p, *next;

	(void)t, (void)now;
	batch.head = NULL;
	batch.tail = &batch.head;
	batch.n = 0;
	if (list == NULL)
		return;
	if (store_all(list))
		batch.went_busy();
	for (p = list; p != NULL; p = next) {
		next = p->next;
		answer(p);
		pending_free(p);
	}
}

/* A new submission of c, or NULL (answered: out of memory). */
static struct pending *
pending_new(struct conn *c)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		reply_error(c, 503, reply_retry_after(), "out of memory");
		return NULL;
	}
	p->c = c;
	p->j.exit_status = -1;
	p->j.progress = -1;
	return p;
}

/* A submission judged good (p: its job's kind, callback and request):
 * its ticket, then into the batch. Returns 1 (held: the batch answers
 * it), or 0 (answered now, p freed). */
static int
hold(struct pending *p)
{
	struct conn *c = p->c;

	/* The ticket first: a job arrives when its request is whole, as
	 * GET /test does, however long the store then takes. The board
	 * lists the creating request's id, never the job's: a job id is
	 * its only secret, and /status?full shows every ticket. */
	if (turn_enter(&p->t, c->id, 1) == -1) {
		reply_error(c, 503, reply_retry_after(), "busy: the queue is "
		    "full");
		pending_free(p);
		return 0;
	}
	*batch.tail = p;
	batch.tail = &p->next;
	if (++batch.n >= BATCH_MAX)
		flush(&batch.flush, clock_now());
	else if (batch.n == 1)
		loop_timer_set(&batch.flush, clock_now(), flush, NULL);
	return 1;
}

int
jobs_submit(struct conn *c, int stopping)
{
	char why[160], url[JOB_URL_MAX + 1];
	struct pending *p;
	int rc;

	if (refused(c, stopping))
		return 0;
	if (c->body_len > CONN_BODY_MAX)
		return job_reply_bad(c, 413, "request body too large: at most "
		    "4096 bytes"), 0;
	if (c->body_len > 0 && !is_json_type(c->ctype))
		return job_reply_bad(c, 415, "Content-Type: want "
		    "application/json"), 0;
	rc = job_body_judge(c->body ? c->body : "", c->body_len, url,
	    sizeof(url), why, sizeof(why));
	if (rc == -2)
		return job_reply_unavailable_msg(c, why), 0;
	if (rc == -1)
		return job_reply_bad(c, 400, why), 0;
	if ((p = pending_new(c)) == NULL)
		return 0;
	snprintf(p->j.cb_url, sizeof(p->j.cb_url), "%s", url);
	return hold(p);
}

int
jobs_submit_work(struct conn *c, int stopping)
{
	char why[256];
	struct pending *p;
	int status;

	if (refused(c, stopping) || (p = pending_new(c)) == NULL)
		return 0;
	p->j.kind = JOB_WORK;
	if (work_async_keep(c, &p->env, &p->in, p->print, sizeof(p->print),
	    p->j.cb_url, sizeof(p->j.cb_url), &status, why,
	    sizeof(why)) == -1) {
		pending_free(p);
		if (status == 503)
			return job_reply_unavailable_msg(c, why), 0;
		return job_reply_bad(c, status, why), 0;
	}
	jobs.last_use = clock_now();
	return hold(p);
}
