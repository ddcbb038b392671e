/*
 * jobs_http.c - the HTTP resources of asynchronous jobs:
 *   POST /jobs                submit: 202 Accepted, Location, Retry-After
 *   GET|HEAD /jobs            list, newest first (this host's clients)
 *   GET|HEAD /jobs/{id}       the status monitor (RFC 9110 15.3.3)
 *   POST /jobs/{id}/cancel    a queued job becomes canceled (AIP-136)
 * Idempotency-Key as the IETF httpapi draft has it: the same key and
 * body replay the first answer; the key with another body is 422.
 */
#define _GNU_SOURCE	/* strcasecmp, strncasecmp */

#include <sys/random.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "fcgi.h"
#include "janitor.h"
#include "job_body.h"
#include "job_json.h"
#include "jobrun.h"
#include "jobs.h"
#include "jobs_http.h"
#include "incarnation.h"
#include "log.h"
#include "loop.h"
#include "parse.h"
#include "reply.h"

#define LIST_MAX	1000	/* jobs in one page, at most */
#define LIST_DEFAULT	100

/* ---- answers ---------------------------------------------------------- */

static int
final(const struct job *j)
{
	return j->status != JOB_QUEUED && j->status != JOB_RUNNING;
}

/* A job, with Retry-After while it is not final (the monitor's poll
 * interval) and extra headers. */
static int
reply_job(struct conn *c, int status, const char *extra, const struct job *j)
{
	char hdr[256];
	cJSON *o = job_json(j);
	int rc;

	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\n%s%s", extra,
	    final(j) ? "" : reply_retry_after());
	rc = reply_json(c, status, hdr, o);
	cJSON_Delete(o);
	return rc;
}

/* A store failure, in words that name the cause (errno as the store
 * set it: store.h): full, lost, or otherwise unavailable. */
static void
cause(int error, char *msg, size_t len)
{
	if (error == ENOSPC)	/* SQLite's words for SQLITE_FULL */
		snprintf(msg, len, "job store full: database or disk is "
		    "full");
	else if (error == ESTALE)
		snprintf(msg, len, "%s", store_error());
	else
		snprintf(msg, len, "job store unavailable: %s",
		    store_error());
}

static int
unavailable_msg(struct conn *c, const char *msg)
{
	log_err("req=%s 503 %s", c->id, msg);
	return reply_error(c, 503, reply_retry_after(), msg);
}

/* 503 with Retry-After for the store failure that just happened. */
static int
unavailable(struct conn *c)
{
	char msg[256];

	cause(errno, msg, sizeof(msg));
	return unavailable_msg(c, msg);
}

static int
not_allowed(struct conn *c, const char *allow)
{
	char hdr[64];

	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
	return reply_error(c, 405, hdr, "method not allowed");
}

static int
bad(struct conn *c, int status, const char *why)
{
	log_msg("req=%s %d %s", c->id, status, why);
	return reply_error(c, status, "", why);
}

/* ---- submit ----------------------------------------------------------- */

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
} batch = { .tail = &batch.head };

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

static void
new_id(char *id)
{
	unsigned char r[JOB_ID_LEN / 2];
	size_t i;

	/* getrandom(2) from the kernel's CSPRNG: ids are the only secret
	 * guarding a job, as the service has no authentication. */
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		abort();
	for (i = 0; i < sizeof(r); i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
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
	return store_insert(j, c->key_len ? c->key : NULL, c->body ?
	    c->body : "");
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
	if (strcmp(body, c->body ? c->body : "") != 0) {
		p->status = 422;
		snprintf(p->why, sizeof(p->why), "Idempotency-Key: already "
		    "used with another body");
	} else {
		p->status = 202;
		p->replayed = 1;
	}
	return 1;
}

/* One submission, within the batch's transaction: *queued is the queue's
 * length so far. Returns 0 decided, or -1 on a store error. */
static int
store_one(struct pending *p, long *queued, int *took)
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

	cause(error, msg, sizeof(msg));
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
	int took = 0, e;

	if (store_tx_begin() == -1) {
		batch_failed(list, errno);
		return 0;
	}
	if ((queued = store_count(JOB_QUEUED)) < 0)
		goto failed;
	for (p = list; p != NULL; p = p->next)
		if (store_one(p, &queued, &took) == -1)
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
		snprintf(hdr, sizeof(hdr), "Location: /jobs/%s\r\n%s",
		    p->j.id, p->replayed ? "Idempotent-Replayed: true\r\n" :
		    "");
		reply_job(c, 202, hdr, &p->j);
	} else if (p->status == 503 && strncmp(p->why, "busy", 4) == 0)
		reply_error(c, 503, reply_retry_after(), p->why);
	else if (p->status == 503)
		unavailable_msg(c, p->why);
	else
		bad(c, p->status, p->why);
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
		fcgi_went_busy();
	for (p = list; p != NULL; p = next) {
		next = p->next;
		answer(p);
		free(p);
	}
}

/* A submission judged good so far, with its ticket: into the batch.
 * Returns 1 (held: the batch answers it), or 0 (answered now). */
static int
hold(struct conn *c, const struct turn *t, const char *url)
{
	struct pending *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		board_finish(t->ticket, BOARD_FAILED);
		reply_error(c, 503, reply_retry_after(), "out of memory");
		return 0;
	}
	p->c = c;
	p->t = *t;
	snprintf(p->j.cb_url, sizeof(p->j.cb_url), "%s", url);
	*batch.tail = p;
	batch.tail = &p->next;
	if (++batch.n >= BATCH_MAX)
		flush(&batch.flush, clock_now());
	else if (batch.n == 1)
		loop_timer_set(&batch.flush, clock_now(), flush, NULL);
	return 1;
}

/* POST /jobs. Returns 1 if c is held for the batch, 0 if answered. */
static int
submit(struct conn *c, int stopping)
{
	char why[160], url[JOB_URL_MAX + 1];
	struct turn t = { 0 };
	int rc;

	if (stopping)
		return reply_error(c, 503, reply_retry_after(),
		    "responder is stopping"), 0;
	if (c->body_len > CONN_BODY_MAX)
		return bad(c, 413, "request body too large: at most 4096 "
		    "bytes"), 0;
	if (c->body_len > 0 && !is_json_type(c->ctype))
		return bad(c, 415, "Content-Type: want application/json"), 0;
	if (c->key_len && clean_key(c) == -1)
		return bad(c, 400, "Idempotency-Key: want 1 to 128 visible "
		    "ASCII characters"), 0;
	rc = job_body_judge(c->body ? c->body : "", c->body_len, url,
	    sizeof(url), why, sizeof(why));
	if (rc == -2)
		return unavailable_msg(c, why), 0;
	if (rc == -1)
		return bad(c, 400, why), 0;
	/* The ticket first: a job arrives when its request is whole, as
	 * GET /test does, however long the store then takes. The board
	 * lists the creating request's id, never the job's: a job id is
	 * its only secret, and /status?full shows every ticket. */
	if (turn_enter(&t, c->id, 1) == -1)
		return reply_error(c, 503, reply_retry_after(),
		    "busy: the queue is full"), 0;
	return hold(c, &t, url);
}

/* ---- the monitor, cancel, list ---------------------------------------- */

static int
lookup(struct conn *c, const char *id, struct job *j)
{
	int rc;

	if ((rc = store_get(id, j)) == -1)
		return unavailable(c), -1;
	if (rc == 0 || (j->finished != 0 &&
	    j->finished + jobs.retention < clock_wall())) {
		reply_error(c, 404, "", "no such job");
		return -1;
	}
	return 0;
}

static int
monitor(struct conn *c, const char *id)
{
	struct job j;

	if (lookup(c, id, &j) == -1)
		return 0;
	return reply_job(c, 200, "", &j);
}

static int
cancel(struct conn *c, const char *id)
{
	char why[96];
	struct job j;
	int rc;

	switch ((rc = store_cancel(id, clock_wall(), &j))) {
	case -1:
		return unavailable(c);
	case 0:
		return reply_error(c, 404, "", "no such job");
	case 2:
		if (j.status == JOB_CANCELED)	/* a retried cancel */
			return reply_job(c, 200, "", &j);
		snprintf(why, sizeof(why), "job is %s: only a queued job can "
		    "be canceled", store_status_name(j.status));
		return reply_error(c, 409, "", why);
	}
	/* Out of the queue at once, so the next turn starts now: here,
	 * or on the board for whichever responder of this host holds
	 * it. */
	if (!jobrun_leave(id) && strcmp(j.node, jobs.node) == 0)
		(void)board_cancel(j.ticket, j.gen);
	log_msg("req=%s job=%s canceled", c->id, id);
	jobs_kick();
	return reply_job(c, 200, "", &j);
}

struct page {
	cJSON		*list;
	long long	 last;
};

static int
add_listed(void *arg, const struct job *j)
{
	struct page *p = arg;
	cJSON *o = job_json(j);

	p->last = j->seq;
	return o == NULL || !cJSON_AddItemToArray(p->list, o);
}

/* ?status=..&limit=..&before=..: each known once, nothing else. */
static int
read_query(char *q, enum job_status **st, enum job_status *stv,
    long *limit, long long *before)
{
	char *pair, *save = NULL, *v;
	long x;

	for (pair = strtok_r(q, "&", &save); pair != NULL;
	    pair = strtok_r(NULL, "&", &save)) {
		if ((v = strchr(pair, '=')) == NULL)
			return -1;
		*v++ = '\0';
		if (strcmp(pair, "status") == 0 &&
		    store_status_parse(v, stv) == 0)
			*st = stv;
		else if (strcmp(pair, "limit") == 0 &&
		    parse_count(v, 1, LIST_MAX, limit) == 0)
			;
		else if (strcmp(pair, "before") == 0 &&
		    parse_count(v, 1, LONG_MAX, &x) == 0)
			*before = x;
		else
			return -1;
	}
	return 0;
}

static int
list(struct conn *c)
{
	enum job_status stv, *st = NULL;
	struct page p = { NULL, 0 };
	char q[sizeof(c->query)], hdr[320], next[256];
	long limit = LIST_DEFAULT, n;
	long long before = 0;
	cJSON *o;
	int rc;

	if (!c->local)
		return reply_error(c, 403, "", "the job list is open to "
		    "this host only");
	memcpy(q, c->query, sizeof(q));
	if (read_query(q, &st, &stv, &limit, &before) == -1)
		return bad(c, 400, "query: want status=queued|running|"
		    "succeeded|failed|canceled, limit=1..1000, before=N");
	if ((o = cJSON_CreateObject()) == NULL ||
	    (p.list = cJSON_AddArrayToObject(o, "jobs")) == NULL) {
		cJSON_Delete(o);
		return reply_json(c, 500, "", NULL);
	}
	if ((n = store_list(st, before, limit, add_listed, &p)) == -1) {
		n = errno;
		cJSON_Delete(o);
		errno = (int)n;
		return unavailable(c);
	}
	hdr[0] = next[0] = '\0';
	if (n == limit) {	/* RFC 8288: where the next page is */
		snprintf(next, sizeof(next),
		    "/jobs?%s%s%slimit=%ld&before=%lld",
		    st ? "status=" : "", st ? store_status_name(*st) : "",
		    st ? "&" : "", limit, p.last);
		snprintf(hdr, sizeof(hdr), "Link: <%s>; rel=\"next\"\r\n",
		    next);
	}
	if (!(next[0] ? cJSON_AddStringToObject(o, "next", next) :
	    cJSON_AddNullToObject(o, "next")))
		next[0] = '\0';
	rc = reply_json(c, 200, hdr, o);
	cJSON_Delete(o);
	return rc;
}

/* ---- routing ---------------------------------------------------------- */

static int
is_id(const char *s, size_t n)
{
	size_t i;

	if (n != JOB_ID_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* One request below /jobs, answered, or held for a batch (POST
 * /jobs): returns 1 if held. */
static int
route(struct conn *c, int stopping)
{
	const char *rest = c->path + 5, *slash;
	char id[JOB_ID_LEN + 1];

	if (*rest == '\0') {			/* /jobs */
		if (strcmp(c->method, "POST") == 0)
			return submit(c, stopping);
		if (conn_is(c, "GET HEAD"))
			list(c);
		else
			not_allowed(c, "GET, HEAD, POST");
		return 0;
	}
	rest++;					/* /jobs/... */
	slash = strchr(rest, '/');
	if (!is_id(rest, slash ? (size_t)(slash - rest) : strlen(rest))) {
		reply_error(c, 404, "", "no such job");
		return 0;
	}
	memcpy(id, rest, JOB_ID_LEN);
	id[JOB_ID_LEN] = '\0';
	if (slash == NULL)			/* /jobs/{id} */
		(void)(conn_is(c, "GET HEAD") ? monitor(c, id) :
		    not_allowed(c, "GET, HEAD"));
	else if (strcmp(slash, "/cancel") != 0)
		reply_error(c, 404, "", "not found");
	else
		(void)(strcmp(c->method, "POST") == 0 ? cancel(c, id) :
		    not_allowed(c, "POST"));
	return 0;
}

int
jobs_http_route(struct conn *c, int stopping)
{
	if (!jobs.on) {
		reply_error(c, 404, "", "jobs are off here (no JOBS_DB)");
		return 0;
	}
	jobs.last_use = clock_now();
	return route(c, stopping);
}

