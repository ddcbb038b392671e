/* http.c - route one request, park it for a turn, answer it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "board.h"
#include "clock.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "parse.h"
#include "procstat.h"
#include "runner.h"
#include "status.h"

static char retry_after[48];	/* "Retry-After: N\r\n" */
static const char *engine;	/* the lock engine's backend, or NULL */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

static int
is_head(const struct conn *c)
{
	return strcmp(c->method, "HEAD") == 0;
}

/* Write a whole CGI response (RFC 3875 6.3): Status line, headers,
 * then the body unless this is a HEAD request. */
static int
reply_text(struct conn *c, int status, const char *type, const char *extra,
    const char *text, size_t len)
{
	char hdr[1024];
	int n;

	n = snprintf(hdr, sizeof(hdr), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
	    status, reason(status), type, len, extra);
	if (n < 0 || (size_t)n >= sizeof(hdr)) {
		errno = EOVERFLOW;
		return -1;
	}
	return record_reply(c->fd, c->rr.id, hdr, (size_t)n, text,
	    is_head(c) ? 0 : len);
}

/* A JSON answer: the object printed by cJSON, then a newline. */
int
http_reply(struct conn *c, int status, const char *extra, cJSON *body)
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
	rc = reply_text(c, status, "application/json", extra, text, len + 1);
	cJSON_free(text);
	return rc;
}

int
http_reply_error(struct conn *c, int status, const char *extra,
    const char *why)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o != NULL && cJSON_AddStringToObject(o, "error", why) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	rc = http_reply(c, status, extra, o);
	cJSON_Delete(o);
	return rc;
}

/* 503 with Retry-After (RFC 9110 10.2.3): one work from now a place
 * in the queue frees up, or a restarted responder is up. */
static int
reply_unavailable(struct conn *c, const char *why)
{
	return http_reply_error(c, 503, retry_after, why);
}

const char *
http_retry_after(void)
{
	return retry_after;
}

static int
reply_elapsed(struct conn *c, const struct turn *t)
{
	char extra[192], timing[48] = "", header[48] = "";
	cJSON *o = cJSON_CreateObject();
	int rc;

	/* Microseconds are plenty; the JSON stays short and exact. */
	if (o != NULL && cJSON_AddNumberToObject(o, "elapsed",
	    round_us(t->t2 - t->t0)) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	/* The fencing token, for downstream resources to refuse a stale
	 * holder's writes (Kleppmann, "How to do distributed locking"). */
	if (t->token != 0) {
		snprintf(timing, sizeof(timing), ", fence;desc=\"%llu\"",
		    (unsigned long long)t->token);
		snprintf(header, sizeof(header), "X-Fence-Token: %llu\r\n",
		    (unsigned long long)t->token);
	}
	/* W3C Server-Timing: durations in milliseconds. */
	snprintf(extra, sizeof(extra),
	    "Server-Timing: wait;dur=%.3f, work;dur=%.3f%s\r\n%s",
	    (t->t1 - t->t0) * 1e3, (t->t2 - t->t1) * 1e3, timing, header);
	rc = http_reply(c, 200, extra, o);
	cJSON_Delete(o);
	return rc;
}

/* nginx's limit_conn refused the request and sent it here to be
 * counted and answered (location @busy); SERIALCGI_QUEUE is its bound. */
static int
reply_rejected(struct conn *c)
{
	char why[80];

	if (c->queue > 0)
		snprintf(why, sizeof(why), "busy: %ld requests already "
		    "admitted", c->queue);
	else
		snprintf(why, sizeof(why), "busy: the queue is full");
	board_rejected();
	return reply_unavailable(c, why);
}

/* The fuller views (?full: request ids, paths; ?html; /metrics) are
 * for this host's clients: nginx says so (SERIALCGI_LOCAL), and a web
 * server in front that does not is refused them. */
static int
not_local(struct conn *c)
{
	return http_reply_error(c, 403, "", "for this host's clients only");
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
		return http_reply_error(c, 400, "", "unknown query: /status "
		    "takes ?json, ?full or ?html");
	if (view != STATUS_PLAIN && !c->local)
		return not_local(c);
	if (view == STATUS_HTML)
		return reply_text(c, 200, "text/html; charset=utf-8",
		    "Cache-Control: no-store\r\nContent-Security-Policy: "
		    STATUS_HTML_CSP "\r\n", status_html, status_html_len);
	if (board_stats(&st) == -1 || (text = view == STATUS_FULL ?
	    status_full(&st, engine, mono_now()) :
	    metrics_status(&st, engine, mono_now())) == NULL)
		return http_reply_error(c, 500, "", "no scoreboard");
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
	    (n = metrics_prometheus(&st, engine, text, sizeof(text))) == -1 ||
	    (p = procstat_prometheus(text + n, sizeof(text) - n)) == -1)
		return http_reply_error(c, 500, "", "no scoreboard");
	return reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	    "Cache-Control: no-store\r\n", text, (size_t)(n + p));
}

/* Copy a parameter's value, cut to fit, NUL-terminated. */
static void
keep(char *dst, size_t cap, const char *v, size_t vlen)
{
	if (vlen >= cap)
		vlen = cap - 1;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}


static void
keep_path(struct conn *c, const char *v, size_t vlen)
{
	keep(c->path, sizeof(c->path), v, vlen);
	c->path_cut = vlen >= sizeof(c->path);
}

static int
param(void *arg, const char *name, size_t nlen, const char *v, size_t vlen)
{
	struct conn *c = arg;
	const char *q;
	char num[16];

	if (parse_is(name, nlen, "REQUEST_METHOD"))
		keep(c->method, sizeof(c->method), v, vlen);
	else if (parse_is(name, nlen, "DOCUMENT_URI")) {
		keep_path(c, v, vlen);
		c->doc_uri = 1;
	} else if (parse_is(name, nlen, "REQUEST_URI") && !c->doc_uri) {
		/* Apache's mod_proxy_fcgi sends no DOCUMENT_URI: the path
		 * is REQUEST_URI's, before its query (RFC 3986 3.3). */
		q = memchr(v, '?', vlen);
		keep_path(c, v, q != NULL ? (size_t)(q - v) : vlen);
	} else if (parse_is(name, nlen, "QUERY_STRING"))
		keep(c->query, sizeof(c->query), v, vlen);
	else if (parse_is(name, nlen, "CONTENT_TYPE"))
		keep(c->ctype, sizeof(c->ctype), v, vlen);
	else if (parse_is(name, nlen, "HTTP_IDEMPOTENCY_KEY")) {
		keep(c->key, sizeof(c->key), v, vlen);
		c->key_len = vlen;
	} else if (parse_is(name, nlen, "SERIALCGI_LOCAL"))
		c->local = vlen == 1 && v[0] == '1';
	else if (parse_is(name, nlen, "REQUEST_ID"))
		keep(c->id, sizeof(c->id), v, vlen);
	else if (parse_is(name, nlen, "SERIALCGI_REJECTED"))
		c->rejected = 1;
	else if (parse_is(name, nlen, "SERIALCGI_QUEUE")) {
		keep(num, sizeof(num), v, vlen);
		if (parse_count(num, 1, BOARD_RING, &c->queue) == -1)
			c->queue = 0;
	}
	return 0;
}

/* The body, before record_params() overwrites the records. */
static int
keep_body(struct conn *c, const unsigned char *buf)
{
	size_t n = record_body(&c->rr, buf, NULL, 0), k;

	c->body_len = n;
	if (n == 0)
		return 0;
	k = n < HTTP_BODY_MAX ? n : HTTP_BODY_MAX;
	if ((c->body = malloc(k + 1)) == NULL)
		return -1;
	(void)record_body(&c->rr, buf, (unsigned char *)c->body, k);
	c->body[k] = '\0';
	return 0;
}

int
http_params(struct conn *c, unsigned char *buf)
{
	strcpy(c->id, "-");
	c->method[0] = c->path[0] = '\0';
	if (keep_body(c, buf) == -1)
		return -1;
	return record_params(&c->rr, buf, param, c);
}

/* GET or HEAD /test: take a ticket and wait for the turn runner. */
static int
park(struct conn *c, int stopping)
{
	if (stopping) {
		reply_unavailable(c, "responder is stopping");
		return ROUTE_ANSWERED;
	}
	if (turn_enter(&c->src.turn, c->id, 0) == -1) {
		reply_unavailable(c, "busy: the queue is full");
		return ROUTE_ANSWERED;
	}
	c->src.ops = &http_source;
	c->src.id = c->id;
	return runner_park(&c->src) ? ROUTE_PARKED_IDLE : ROUTE_PARKED;
}

int
http_route(struct conn *c, int stopping)
{
	if (!c->path_cut && (strcmp(c->path, "/jobs") == 0 ||
	    strncmp(c->path, "/jobs/", 6) == 0))
		return jobs_route(c, stopping);
	if (strcmp(c->path, "/test") != 0 && strcmp(c->path, "/status") !=
	    0 && strcmp(c->path, "/metrics") != 0) {
		logmsg("req=%s 404 %.64s", c->id, c->path[0] ? c->path :
		    "(no path)");
		http_reply_error(c, 404, "", "not found");
		return ROUTE_ANSWERED;
	}
	if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0) {
		logmsg("req=%s 405 %.15s", c->id, c->method[0] ? c->method :
		    "(none)");
		/* 405 has no body for HEAD either way: send it. */
		http_reply_error(c, 405, "Allow: GET, HEAD\r\n",
		    "method not allowed");
		return ROUTE_ANSWERED;
	}
	if (strcmp(c->path, "/status") == 0)
		serve_status(c);
	else if (strcmp(c->path, "/metrics") == 0)
		serve_metrics(c);
	else if (c->rejected)
		reply_rejected(c);
	else
		return park(c, stopping);
	return ROUTE_ANSWERED;
}

void
http_init(const struct config *cfg, const char *lock_engine)
{
	long r = (long)cfg->work_seconds;

	engine = lock_engine;
	status_init(cfg->board_path);
	/* Whole seconds, rounded up, at least 1 (RFC 9110 10.2.3). */
	if ((double)r < cfg->work_seconds || r < 1)
		r++;
	snprintf(retry_after, sizeof(retry_after), "Retry-After: %ld\r\n",
	    r);
}

static int
source_gone(struct source *s)
{
	struct conn *c = (struct conn *)s;

	return s->gone || peer_gone(c->fd);
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
			logmsg("req=%s worked, but the answer was lost: %s",
			    c->id, strerror(errno));
		else
			logmsg("req=%s 200 wait=%.3fms work=%.3fms", c->id,
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
		logmsg("req=%s 503: lock engine unreachable", c->id);
		reply_unavailable(c, "lock engine unreachable");
		break;
	case TURN_STOPPING:
		reply_unavailable(c, "responder is stopping");
		break;
	case TURN_FAILED:
		http_reply_error(c, 500, "", "lock failed");
		break;
	}
}

/* Back to the loop, which closes c. */
static void
source_release(struct source *s)
{
	loop_done((struct conn *)s);
}

const struct source_ops http_source = {
	.gone = source_gone,
	.answer = source_answer,
	.release = source_release,
};
