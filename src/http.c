/* http.c - map one FastCGI request to its HTTP response. */
#define _GNU_SOURCE	/* sched_yield */

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "board.h"
#include "http.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "record.h"
#include "watch.h"
#include "work.h"

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

/* Write a whole CGI response (RFC 3875 6.3): Status line, headers,
 * then the body unless this is a HEAD request. */
static int
reply_text(FCGX_Request *r, int status, const char *type, const char *extra,
    const char *text, size_t len, int head)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
	    status, reason(status), type, len, extra);
	if (n < 0 || (size_t)n >= sizeof(hdr)) {
		errno = EOVERFLOW;
		return -1;
	}
	if (FCGX_PutStr(hdr, n, r->out) != n ||
	    (!head && FCGX_PutStr(text, (int)len, r->out) != (int)len) ||
	    FCGX_FFlush(r->out) == -1) {
		errno = FCGX_GetError(r->out) > 0 ? FCGX_GetError(r->out) : EIO;
		return -1;
	}
	return status;
}

/* A JSON answer: the object printed by cJSON, then a newline. */
static int
reply(FCGX_Request *r, int status, const char *extra, cJSON *body,
    int head)
{
	char *text;
	size_t len;
	int rc;

	if (body == NULL || (text = cJSON_PrintUnformatted(body)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	len = strlen(text);
	text[len] = '\n';	/* cJSON's buffer holds len + 1 bytes */
	rc = reply_text(r, status, "application/json", extra, text, len + 1,
	    head);
	cJSON_free(text);
	return rc;
}

static int
reply_error(FCGX_Request *r, int status, const char *extra,
    const char *why, int head)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o != NULL && cJSON_AddStringToObject(o, "error", why) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	rc = reply(r, status, extra, o, head);
	cJSON_Delete(o);
	return rc;
}

/* 503 with Retry-After (RFC 9110 10.2.3): one work from now a place
 * in the queue frees up, or a restarted responder is up. */
static int
reply_unavailable(FCGX_Request *r, const struct config *cfg,
    const char *why, int head)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "Retry-After: %.0f\r\n",
	    fmax(1.0, ceil(cfg->work_seconds)));
	return reply_error(r, 503, extra, why, head);
}

/* nginx's limit_conn refused the request and sent it here to be
 * counted and answered (location @busy); SERIALCGI_QUEUE is its bound. */
static int
reply_rejected(FCGX_Request *r, const struct config *cfg, int head)
{
	const char *q = FCGX_GetParam("SERIALCGI_QUEUE", r->envp);
	char why[80];
	long n;

	if (q != NULL && parse_count(q, 1, BOARD_RING, &n) == 0)
		snprintf(why, sizeof(why), "busy: %ld requests already "
		    "admitted", n);
	else
		snprintf(why, sizeof(why), "busy: the queue is full");
	board_rejected();
	return reply_unavailable(r, cfg, why, head);
}

static int
reply_elapsed(FCGX_Request *r, double t0, double t1, double t2, int head)
{
	char extra[96];
	cJSON *o = cJSON_CreateObject();
	int rc;

	/* Microseconds are plenty; the JSON stays short and exact. */
	if (o != NULL && cJSON_AddNumberToObject(o, "elapsed",
	    round((t2 - t0) * 1e6) / 1e6) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	/* W3C Server-Timing: durations in milliseconds. */
	snprintf(extra, sizeof(extra),
	    "Server-Timing: wait;dur=%.3f, work;dur=%.3f\r\n",
	    (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	rc = reply(r, 200, extra, o, head);
	cJSON_Delete(o);
	return rc;
}

static int
serve_status(FCGX_Request *r, int head)
{
	struct board_stats st;
	char *text;
	int rc;

	if (board_stats(&st) == -1 ||
	    (text = metrics_status(&st, mono_now())) == NULL)
		return reply_error(r, 500, "", "no scoreboard", head);
	rc = reply_text(r, 200, "application/json", "Cache-Control: "
	    "no-store\r\n", text, strlen(text), head);
	cJSON_free(text);
	return rc;
}

static int
serve_metrics(FCGX_Request *r, int head)
{
	struct board_stats st;
	char text[4096];
	int n;

	if (board_stats(&st) == -1 ||
	    (n = metrics_prometheus(&st, text, sizeof(text))) == -1)
		return reply_error(r, 500, "", "no scoreboard", head);
	return reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    "Cache-Control: no-store\r\n", text, (size_t)n, head);
}

/* Read the request body to its end: nginx sends the empty FCGI_STDIN
 * record last, and unread records would make the socket look busy. */
static int
drain(FCGX_Stream *in)
{
	char buf[1024];

	while (FCGX_GetStr(buf, sizeof(buf), in) > 0)
		;
	return FCGX_GetError(in) == 0 ? 0 : -1;
}

/* The request left the queue before its work: stopping, client gone
 * (both ECANCELED), or a failed flock(2) with that error. */
static int
leave(struct slot *s, const struct config *cfg, uint64_t ticket,
    double t0, const char *id, int head, int error)
{
	int draining = atomic_load(&stopping);

	board_finish(ticket, error == ECANCELED && !draining ?
	    BOARD_SKIPPED : BOARD_FAILED);
	if (error == ECANCELED && draining)
		return reply_unavailable(&s->req, cfg, "responder is stopping",
		    head);
	if (error == ECANCELED) {
		logmsg("req=%s skipped: client gone after %.3f s waiting", id,
		    mono_now() - t0);
		return 0;
	}
	logmsg("req=%s flock %s: %s", id, cfg->lock_path, strerror(error));
	return reply_error(&s->req, 500, "", "lock failed", head);
}

/* Someone unlinked or replaced the lock file under us: a responder
 * started since then locks another inode. Never work on: stop this
 * process (multiwatch starts a fresh one, which opens the file anew). */
static int
lock_replaced(struct slot *s, const struct config *cfg, uint64_t ticket,
    const char *id, int head)
{
	lock_release(s->lock_fd);
	board_finish(ticket, BOARD_FAILED);
	logmsg("req=%s lock file %s was unlinked or replaced while running; "
	    "stopping this responder", id, cfg->lock_path);
	kill(getpid(), SIGTERM);
	return reply_unavailable(&s->req, cfg, "responder is restarting",
	    head);
}

static void
log_slow(const struct config *cfg, const char *id, double wait, long ahead)
{
	/* php-fpm's request_slowlog_timeout, for the queue. */
	if (cfg->slow_wait > 0 && wait > cfg->slow_wait)
		logmsg("req=%s slow: waited %.3f s, %ld ahead at arrival", id,
		    wait, ahead);
}

/* Holding the lock since t1: run the work, then let go before
 * answering. */
static int
run_work(struct slot *s, const struct config *cfg, uint64_t ticket,
    double t0, double t1, const char *id, int head)
{
	double t2;
	int rc;

	atomic_store(&s->state, SLOT_WORKING);
	board_holding(ticket, t1);
	board_observe_wait(t1 - t0);
	if (worklog_write(cfg->worklog_fd, "start", t1, id, t0) == -1)
		logmsg("req=%s work log: %s", id, strerror(errno));
	if (work(t1, cfg->work_seconds) == -1)
		logmsg("req=%s clock_nanosleep: %s", id, strerror(errno));
	t2 = mono_now();
	/* Let go first: the next waiter is already queued in flock(2).
	 * Never hold the lock while writing: a slow reader would stall
	 * every waiter behind it. */
	if (lock_release(s->lock_fd) == -1)
		logmsg("req=%s flock unlock: %s", id, strerror(errno));
	/* The next waiter is now runnable, most likely on this CPU (the
	 * scheduler packs wake-ups): give it the CPU before we spend
	 * ours on the answer and the logs. */
	sched_yield();
	board_finish(ticket, BOARD_SERVED);
	if (worklog_write(cfg->worklog_fd, "end", t2, id, t0) == -1)
		logmsg("req=%s work log: %s", id, strerror(errno));
	atomic_store(&s->state, SLOT_WRITING);
	rc = reply_elapsed(&s->req, t0, t1, t2, head);
	if (rc == -1)
		logmsg("req=%s worked, but the answer was lost: %s", id,
		    strerror(errno));
	else
		logmsg("req=%s 200 wait=%.3fms work=%.3fms", id,
		    (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	return rc;
}

static int
serve_test(struct slot *s, const struct config *cfg, const char *id,
    int head)
{
	uint64_t ticket;
	double t0, t1;
	unsigned key;
	long ahead;
	int rc;

	if (atomic_load(&stopping))
		return reply_unavailable(&s->req, cfg, "responder is stopping",
		    head);
	if (board_enter(&t0, &ticket, &ahead) == -1)
		return reply_unavailable(&s->req, cfg, "busy: the queue is "
		    "full", head);
	atomic_store(&s->state, SLOT_WAITING);
	if (watch_add(slots, s - slots) == -1)
		logmsg("req=%s epoll_ctl: %s", id, strerror(errno));
	/* First our turn by arrival ticket, then the lock itself. */
	key = cancel_key(atomic_load(&s->seq));
	rc = board_wait_turn(ticket, &s->cancel, key) == -1 ||
	    lock_acquire(s->lock_fd, &s->cancel, key) == -1 ? errno : 0;
	t1 = mono_now();
	watch_del(slots, s - slots);
	if (rc != 0)
		return leave(s, cfg, ticket, t0, id, head, rc);
	if (!lock_same(s->lock_fd, cfg->lock_path))
		return lock_replaced(s, cfg, ticket, id, head);
	if (peer_gone(atomic_load(&s->conn_fd))) {
		lock_release(s->lock_fd);
		board_finish(ticket, BOARD_SKIPPED);
		logmsg("req=%s skipped: client gone at its turn after %.3f s",
		    id, mono_now() - t0);
		return 0;
	}
	log_slow(cfg, id, t1 - t0, ahead);
	return run_work(s, cfg, ticket, t0, t1, id, head);
}

int
http_serve(struct slot *s, const struct config *cfg)
{
	FCGX_Request *r = &s->req;
	const char *method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	const char *path = FCGX_GetParam("DOCUMENT_URI", r->envp);
	const char *id = FCGX_GetParam("REQUEST_ID", r->envp);
	int head;

	if (id == NULL)
		id = "-";
	if (path == NULL || (strcmp(path, "/test") != 0 &&
	    strcmp(path, "/status") != 0 && strcmp(path, "/metrics") != 0)) {
		logmsg("req=%s 404 %.64s", id, path ? path : "(no path)");
		return reply_error(r, 404, "", "not found", 0);
	}
	if (method == NULL ||
	    (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
		logmsg("req=%s 405 %.32s", id, method ? method : "(none)");
		return reply_error(r, 405, "Allow: GET, HEAD\r\n",
		    "method not allowed", 0);
	}
	head = method[0] == 'H';
	if (strcmp(path, "/status") == 0)
		return serve_status(r, head);
	if (strcmp(path, "/metrics") == 0)
		return serve_metrics(r, head);
	if (FCGX_GetParam("SERIALCGI_REJECTED", r->envp) != NULL)
		return reply_rejected(r, cfg, head);
	if (drain(r->in) == -1) {
		logmsg("req=%s request body: read failed, dropped", id);
		return 0;
	}
	return serve_test(s, cfg, id, head);
}
