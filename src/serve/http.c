/* http.c - route one request, park it for a turn, answer it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "http.h"
#include "jobs_http.h"
#include "jobs_submit.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "procstat.h"
#include "runner.h"
#include "status.h"
#include "work_async.h"
#include "work_http.h"

static struct {
	const char	*engine;	/* the lock engine's backend, or NULL */
	int		 program;	/* WORK_COMMAND is set */
} ht;

static int
reply_elapsed(struct conn *c, const struct turn *t)
{
	char extra[REPLY_TIMING_MAX];
	cJSON *o = cJSON_CreateObject();
	int rc;

	/* Microseconds are plenty; the JSON stays short and exact. */
	if (o != NULL && cJSON_AddNumberToObject(o, "elapsed",
	    clock_round_us(t->t2 - t->t0)) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	reply_timing(t, extra, sizeof(extra));
	rc = reply_json(c, 200, extra, o);
	cJSON_Delete(o);
	return rc;
}

/* The fuller views (?full: request ids, paths; ?html; /metrics) are
 * for this host's clients: nginx says so (SERIALCGI_LOCAL), and a web
 * server in front that does not is refused them. */
static int
not_local(struct conn *c)
{
	return reply_error(c, 403, "", "for this host's clients only");
}

static int
serve_status(struct conn *c)
{
	struct board_stats st;
	/* php-fpm's words (status.h); a QUERY_STRING longer than query[]
	 * is cut, and a cut word is refused like any unknown one. */
	int view = status_view(c->query, strlen(c->query)), rc;
	char *text;

	if (view == STATUS_BAD)
		return reply_error(c, 400, "", "unknown query: /status "
		    "takes ?json, ?full or ?html");
	if (view != STATUS_PLAIN && !c->local)
		return not_local(c);
	if (view == STATUS_HTML)
		return reply_text(c, 200, "text/html; charset=utf-8",
		    "Cache-Control: no-store\r\nContent-Security-Policy: "
		    STATUS_HTML_CSP "\r\n", status_html, status_html_len);
	if (board_stats(&st) == -1 || (text = view == STATUS_FULL ?
	    status_full(&st, ht.engine, clock_now()) :
	    metrics_status(&st, ht.engine, clock_now())) == NULL)
		return reply_error(c, 500, "", "no scoreboard");
	rc = reply_text(c, 200, "application/json", "Cache-Control: "
	    "no-store\r\n", text, strlen(text));
	cJSON_free(text);
	return rc;
}

static int
serve_metrics(struct conn *c)
{
	struct board_stats st;
	char text[32768];	/* ours, and 64 responders' process_* */
	int n, p;

	if (!c->local)
		return not_local(c);
	if (board_stats(&st) == -1 ||
	    (n = metrics_prometheus(&st, ht.engine, ht.program,
	    status_free_bytes(), text, sizeof(text))) == -1 ||
	    (p = procstat_prometheus(text + n, sizeof(text) - n)) == -1)
		return reply_error(c, 500, "", "no scoreboard");
	return reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    "Cache-Control: no-store\r\n", text, (size_t)(n + p));
}

/* The runner is done with c: answer and log. Runs on the runner's
 * thread. */
static void
source_answer(struct source *s, enum turn_outcome how)
{
	struct conn *c = (struct conn *)s;
	const struct turn *t = &s->turn;

	switch (how) {
	case TURN_SERVED:
		if (reply_elapsed(c, t) == -1)
			log_err("req=%s worked, but the answer was lost: %s",
			    c->id, strerror(errno));
		else
			log_msg("req=%s 200 wait=%.3fms work=%.3fms", c->id,
			    (t->t1 - t->t0) * 1e3, (t->t2 - t->t1) * 1e3);
		break;
	case TURN_SKIPPED:
		break;
	case TURN_REPLACED:
		reply_unavailable(c, "responder is restarting");
		break;
	case TURN_LOST:
		reply_unavailable(c, "lock lost");
		break;
	case TURN_UNAVAILABLE:
		log_warn("req=%s 503: lock engine unreachable", c->id);
		reply_unavailable(c, "lock engine unreachable");
		break;
	case TURN_STOPPING:
		reply_unavailable(c, "responder is stopping");
		break;
	case TURN_FAILED:
		reply_error(c, 500, "", "lock failed");
		break;
	}
}

static const struct source_ops http_source = {
	.gone = conn_gone,
	.answer = source_answer,
	.release = conn_release,
};

/* GET or HEAD /test, or /work: take a ticket and wait for the turn
 * runner, which runs ops' work. */
static int
park(struct conn *c, int stopping, const struct source_ops *ops)
{
	if (stopping) {
		reply_unavailable(c, "responder is stopping");
		return HTTP_ANSWERED;
	}
	if (turn_enter(&c->src.turn, c->id, 0) == -1) {
		reply_unavailable(c, "busy: the queue is full");
		return HTTP_ANSWERED;
	}
	c->src.ops = ops;
	c->src.id = c->id;
	return runner_park(&c->src) ? HTTP_PARKED_IDLE : HTTP_PARKED;
}

int
http_route(struct conn *c, int stopping)
{
	const struct source_ops *ops;

	if (!c->path_cut && (strcmp(c->path, "/jobs") == 0 ||
	    strncmp(c->path, "/jobs/", 6) == 0))
		return jobs_http_route(c, stopping) ? HTTP_HELD :
		    HTTP_ANSWERED;
	if (conn_is_work(c)) {
		if (work_async_wanted(c) && !c->rejected)
			return jobs_submit_work(c, stopping) ?
			    HTTP_HELD : HTTP_ANSWERED;
		if ((ops = work_http_ops(c)) == NULL)
			return HTTP_ANSWERED;
		return park(c, stopping, ops);
	}
	if (strcmp(c->path, "/test") != 0 && strcmp(c->path, "/status") !=
	    0 && strcmp(c->path, "/metrics") != 0) {
		log_msg("req=%s 404 %.64s", c->id, c->path[0] ? c->path :
		    "(no path)");
		reply_error(c, 404, "", "not found");
		return HTTP_ANSWERED;
	}
	if (!conn_is(c, "GET HEAD")) {
		log_msg("req=%s 405 %.15s", c->id, c->method[0] ? c->method :
		    "(none)");
		/* 405 has no body for HEAD either way: send it. */
		reply_error(c, 405, "Allow: GET, HEAD\r\n",
		    "method not allowed");
		return HTTP_ANSWERED;
	}
	if (strcmp(c->path, "/status") == 0)
		serve_status(c);
	else if (strcmp(c->path, "/metrics") == 0)
		serve_metrics(c);
	else if (c->rejected)
		reply_busy(c);
	else
		return park(c, stopping, &http_source);
	return HTTP_ANSWERED;
}

void
http_init(const struct config *cfg, const char *lock_engine)
{
	ht.engine = lock_engine;
	ht.program = cfg->work_command != NULL || cfg->work_url != NULL;
	status_init(cfg->board_path, cfg->work_seconds);
	reply_init(cfg->work_seconds);
	work_http_init(cfg);
}
