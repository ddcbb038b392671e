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
#include "deliver.h"
#include "janitor.h"
#include "job_json.h"
#include "jobrun.h"
#include "jobs.h"
#include "jobs_http.h"
#include "incarnation.h"
#include "log.h"
#include "parse.h"
#include "reply.h"

#define LIST_MAX	1000	/* jobs in one page, at most */
#define LIST_DEFAULT	100

static int took_work;	/* the last submit gave this idle process work */

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

static int
unavailable(struct conn *c, const char *why)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "job store unavailable: %s", why);
	log_err("req=%s 503 %s", c->id, msg);
	return reply_error(c, 503, reply_retry_after(), msg);
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

/* The body: nothing, or {"callback_url": "..."}. Returns 0 with the URL
 * (or "") in j->cb_url, or -1 with why (the request's fault), or -2
 * (ours: the URL cannot be checked now). */
static int
read_body(struct conn *c, struct job *j, char *why, size_t len)
{
	cJSON *o, *m;
	int rc = -1;

	if (c->body_len == 0)
		return 0;
	if ((o = cJSON_ParseWithLength(c->body, c->body_len)) == NULL ||
	    !cJSON_IsObject(o)) {
		snprintf(why, len, "body: not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(m, o) {
		if (strcmp(m->string, "callback_url") != 0) {
			snprintf(why, len, "body: unknown member \"%.40s\"",
			    m->string);
			goto out;
		}
		if (!cJSON_IsString(m) ||
		    strlen(m->valuestring) > JOB_URL_MAX) {
			snprintf(why, len, "callback_url: not a string of at "
			    "most %d bytes", JOB_URL_MAX);
			goto out;
		}
		if (deliver_check_url(m->valuestring, why, len) == -1) {
			rc = errno == EAGAIN ? -2 : -1;
			goto out;
		}
		snprintf(j->cb_url, sizeof(j->cb_url), "%s", m->valuestring);
	}
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
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

/* Within the store's transaction: the row of a new job, whose ticket
 * t holds. Returns 0, or -1 with errno EEXIST (the id or the key is
 * taken) or the store's. */
static int
enqueue(struct job *j, const struct conn *c, const struct turn *t)
{
	new_id(j->id);
	board_self(&j->owner_slot, &j->owner_pid);
	snprintf(j->node, sizeof(j->node), "%s", jobs.node);
	j->gen = incarnation_self();	/* the owner: store.h */
	j->ticket = t->ticket;
	j->arrived_mono = t->t0;
	j->created = clock_wall_at(t->t0);
	j->status = JOB_QUEUED;
	return store_insert(j, c->key_len ? c->key : NULL, c->body ?
	    c->body : "");
}

/* The same key again: replay (same body) or 422. Returns 1 answered,
 * 0 no such key, -1 store error. */
static int
replay(struct conn *c)
{
	static char body[CONN_BODY_MAX + 1];
	struct job j;
	int rc;

	if (!c->key_len || (rc = store_find_key(c->key, &j, body,
	    sizeof(body))) == 0)
		return 0;
	if (rc == -1)
		return -1;
	(void)store_tx_end(1);
	if (strcmp(body, c->body ? c->body : "") != 0)
		bad(c, 422, "Idempotency-Key: already used with another body");
	else {
		char hdr[96];

		snprintf(hdr, sizeof(hdr), "Location: /jobs/%s\r\n"
		    "Idempotent-Replayed: true\r\n", j.id);
		reply_job(c, 202, hdr, &j);
	}
	return 1;
}

/* Answer a submission that is not going ahead (the store's
 * transaction is over): its ticket leaves the queue. */
static int
drop_ticket(const struct turn *t, int rc)
{
	board_finish(t->ticket, BOARD_FAILED);
	return rc;
}

static int
submit(struct conn *c, int stopping)
{
	struct job j = { 0 };
	struct turn t = { 0 };
	char why[160], hdr[96];
	long n;
	int rc;

	if (stopping)
		return reply_error(c, 503, reply_retry_after(),
		    "responder is stopping");
	if (c->body_len > CONN_BODY_MAX)
		return bad(c, 413, "request body too large: at most 4096 "
		    "bytes");
	if (c->body_len > 0 && !is_json_type(c->ctype))
		return bad(c, 415, "Content-Type: want application/json");
	if (c->key_len && clean_key(c) == -1)
		return bad(c, 400, "Idempotency-Key: want 1 to 128 visible "
		    "ASCII characters");
	if ((rc = read_body(c, &j, why, sizeof(why))) == -2)
		return unavailable(c, why);
	if (rc == -1)
		return bad(c, 400, why);
	/* The ticket first: a job arrives when its request is whole, as
	 * GET /test does, however long the store then takes. The board
	 * lists the creating request's id, never the job's: a job id is
	 * its only secret, and /status?full shows every ticket. */
	if (turn_enter(&t, c->id, 1) == -1)
		return reply_error(c, 503, reply_retry_after(),
		    "busy: the queue is full");
	if (store_tx_begin() == -1)
		return drop_ticket(&t, unavailable(c, store_error()));
	if ((rc = replay(c)) == 1)
		return drop_ticket(&t, 0);
	if (rc == -1 || (n = store_count(JOB_QUEUED)) < 0)
		goto store_failed;
	if (n >= jobs.queue) {
		(void)store_tx_end(0);
		snprintf(why, sizeof(why), "busy: %ld jobs already queued", n);
		board_stats_rejected();
		return drop_ticket(&t, reply_error(c, 503,
		    reply_retry_after(), why));
	}
	if (enqueue(&j, c, &t) == -1) {
		if (errno != EEXIST || !c->key_len)
			goto store_failed;
		/* Another request with the key is being stored (a second
		 * host): the IETF draft's 409. */
		(void)store_tx_end(0);
		return drop_ticket(&t, bad(c, 409, "Idempotency-Key: a "
		    "request with this key is in flight; retry"));
	}
	/* Parked before the commit, so that its turn never waits for the
	 * fsync: should the turn come first, the runner's store_start()
	 * waits for the store, and finds the job only if it was
	 * committed. */
	if ((rc = jobrun_park(&j, t.ticket, t.t0)) == -1) {
		/* Its ticket must not hold the queue up: the janitor parks
		 * it again with a new one. */
		board_finish(t.ticket, BOARD_FAILED);
		janitor_rescan();
		log_err("job=%s queued, but not parked here: out of memory "
		    "(the janitor takes it up)", j.id);
	}
	took_work = rc == 1;
	if (store_tx_end(1) == -1) {
		/* Out of the queue; or, taken by the runner already, its
		 * store_start() finds no row and skips it. */
		if (rc != -1)
			(void)jobrun_leave(j.id);
		return unavailable(c, store_error());
	}
	/* Durable now: only then 202 (a 202 is a promise). */
	log_msg("req=%s job=%s queued (ticket %llu)", c->id, j.id,
	    (unsigned long long)t.ticket);
	snprintf(hdr, sizeof(hdr), "Location: /jobs/%s\r\n", j.id);
	return reply_job(c, 202, hdr, &j);
store_failed:
	snprintf(why, sizeof(why), "%s", store_error());
	(void)store_tx_end(0);
	return drop_ticket(&t, unavailable(c, why));
}

/* ---- the monitor, cancel, list ---------------------------------------- */

static int
lookup(struct conn *c, const char *id, struct job *j)
{
	int rc;

	if ((rc = store_get(id, j)) == -1)
		return unavailable(c, store_error()), -1;
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
		return unavailable(c, store_error());
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
		cJSON_Delete(o);
		return unavailable(c, store_error());
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

/* One request below /jobs, answered. */
static void
route(struct conn *c, int stopping)
{
	const char *rest = c->path + 5, *slash;
	char id[JOB_ID_LEN + 1];

	if (*rest == '\0') {			/* /jobs */
		if (strcmp(c->method, "POST") == 0)
			submit(c, stopping);
		else if (conn_is(c, "GET HEAD"))
			list(c);
		else
			not_allowed(c, "GET, HEAD, POST");
		return;
	}
	rest++;					/* /jobs/... */
	slash = strchr(rest, '/');
	if (!is_id(rest, slash ? (size_t)(slash - rest) : strlen(rest))) {
		reply_error(c, 404, "", "no such job");
		return;
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
}

int
jobs_http_route(struct conn *c, int stopping)
{
	took_work = 0;
	if (!jobs.on)
		reply_error(c, 404, "", "jobs are off here (no JOBS_DB)");
	else {
		jobs.last_use = clock_now();
		route(c, stopping);
	}
	return took_work;
}

