/*
 * jobs_http.c - the HTTP resources of asynchronous jobs:
 *   POST /jobs                submit (jobs_submit.h)
 *   GET|HEAD /jobs            list, newest first (this host's clients)
 *   GET|HEAD /jobs/{id}       the status monitor (RFC 9110 15.3.3)
 *   GET|HEAD /jobs/{id}/result  the answer of a final job
 *   POST /jobs/{id}/cancel    a queued job becomes canceled (AIP-136);
 *                             a running job of real work is stopped
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "clock.h"
#include "job_json.h"
#include "job_reply.h"
#include "jobrun.h"
#include "jobs.h"
#include "jobs_http.h"
#include "jobs_submit.h"
#include "log.h"
#include "parse.h"
#include "reply.h"
#include "store_work.h"
#include "work_async.h"

#define LIST_MAX	1000	/* jobs in one page, at most */
#define LIST_DEFAULT	100

/* ---- the monitor, cancel, list ---------------------------------------- */

static int
lookup(struct conn *c, const char *id, struct job *j)
{
	int rc;

	if ((rc = store_get(id, j)) == -1)
		return job_reply_unavailable(c), -1;
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
	return job_reply(c, 200, "", &j);
}

/* GET /jobs/{id}/result: once the job is final; before, 409 with
 * Retry-After, the monitor's poll interval. */
static int
result(struct conn *c, const char *id)
{
	char why[96];
	struct job j;

	if (lookup(c, id, &j) == -1)
		return 0;
	if (!job_reply_final(&j)) {
		snprintf(why, sizeof(why), "job is %s: its result comes when "
		    "it is final", job_status_name(j.status));
		return reply_error(c, 409, reply_retry_after(), why);
	}
	return work_async_result(c, &j) == -1 ? job_reply_unavailable(c) : 0;
}

/* A running job of real work: its work is asked to stop, through the
 * store for whichever responder or host runs it (its watch looks every
 * 20 ms), and at once if it is this process's. It ends canceled, with
 * what its program wrote so far: 202, the job as it is. */
static int
cancel_running(struct conn *c, struct job *j)
{
	char why[96];
	int rc;

	if (j->kind != JOB_WORK) {	/* the sleep: as before 0.6 */
		snprintf(why, sizeof(why), "job is running: only a queued job "
		    "can be canceled");
		return reply_error(c, 409, "", why);
	}
	if ((rc = store_work_ask_cancel(j->id)) == -1)
		return job_reply_unavailable(c);
	if (rc == 0 && (rc = store_get(j->id, j)) != 1)	/* it just ended */
		return rc == -1 ? job_reply_unavailable(c) :
		    reply_error(c, 404, "", "no such job");
	if (j->status != JOB_RUNNING)
		return job_reply(c, 200, "", j);
	j->cancel_asked = 1;
	if (!jobrun_abort(j->id))
		log_msg("req=%s job=%s cancel asked of its owner %s", c->id,
		    j->id, j->node);
	return job_reply(c, 202, "", j);
}

static int
cancel(struct conn *c, const char *id)
{
	char why[96];
	struct job j;
	int rc;

	switch ((rc = store_cancel(id, clock_wall(), &j))) {
	case -1:
		return job_reply_unavailable(c);
	case 0:
		return reply_error(c, 404, "", "no such job");
	case 2:
		if (j.status == JOB_CANCELED)	/* a retried cancel */
			return job_reply(c, 200, "", &j);
		if (j.status == JOB_RUNNING)
			return cancel_running(c, &j);
		snprintf(why, sizeof(why), "job is %s: only a queued or "
		    "running job can be canceled", job_status_name(j.status));
		return reply_error(c, 409, "", why);
	}
	/* Out of the queue at once, so the next turn starts now: here,
	 * or on the board for whichever responder of this host holds
	 * it. */
	if (!jobrun_leave(id) && strcmp(j.node, jobs.node) == 0)
		(void)board_cancel(j.ticket, j.gen);
	log_msg("req=%s job=%s canceled", c->id, id);
	jobs_kick();
	return job_reply(c, 200, "", &j);
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
		    job_status_parse(v, stv) == 0)
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
		return job_reply_bad(c, 400, "query: want status=queued|"
		    "running|succeeded|failed|canceled, limit=1..1000, "
		    "before=N");
	if ((o = cJSON_CreateObject()) == NULL ||
	    (p.list = cJSON_AddArrayToObject(o, "jobs")) == NULL) {
		cJSON_Delete(o);
		return reply_json(c, 500, "", NULL);
	}
	if ((n = store_list(st, before, limit, add_listed, &p)) == -1) {
		n = errno;
		cJSON_Delete(o);
		errno = (int)n;
		return job_reply_unavailable(c);
	}
	hdr[0] = next[0] = '\0';
	if (n == limit) {	/* RFC 8288: where the next page is */
		snprintf(next, sizeof(next),
		    "/jobs?%s%s%slimit=%ld&before=%lld",
		    st ? "status=" : "", st ? job_status_name(*st) : "",
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
			return jobs_submit(c, stopping);
		if (conn_is(c, "GET HEAD"))
			list(c);
		else
			job_reply_not_allowed(c, "GET, HEAD, POST");
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
		    job_reply_not_allowed(c, "GET, HEAD"));
	else if (strcmp(slash, "/result") == 0)
		(void)(conn_is(c, "GET HEAD") ? result(c, id) :
		    job_reply_not_allowed(c, "GET, HEAD"));
	else if (strcmp(slash, "/cancel") != 0)
		reply_error(c, 404, "", "not found");
	else
		(void)(strcmp(c->method, "POST") == 0 ? cancel(c, id) :
		    job_reply_not_allowed(c, "POST"));
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
