/* http.c - map one FastCGI request to its HTTP response. */
#define _GNU_SOURCE	/* POLLRDHUP */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "lock.h"
#include "log.h"
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
 * then the JSON body unless this is a HEAD request. */
static int
reply(FCGX_Request *r, int status, const char *extra, cJSON *body,
    int head)
{
	char hdr[512], *text;
	size_t len;
	int n, rc = -1;

	if (body == NULL || (text = cJSON_PrintUnformatted(body)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	len = strlen(text);
	n = snprintf(hdr, sizeof(hdr), "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s\r\n",
	    status, reason(status), len + 1, extra);
	if (n < 0 || (size_t)n >= sizeof(hdr)) {
		errno = EOVERFLOW;
		goto out;
	}
	if (FCGX_PutStr(hdr, n, r->out) != n ||
	    (!head && (FCGX_PutStr(text, (int)len, r->out) != (int)len ||
	    FCGX_PutChar('\n', r->out) == EOF)) ||
	    FCGX_FFlush(r->out) == -1) {
		errno = FCGX_GetError(r->out) > 0 ? FCGX_GetError(r->out) : EIO;
		goto out;
	}
	rc = status;
out:
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

/* 503 for a waiter sent away because the responder is stopping. */
static int
reply_draining(FCGX_Request *r, const struct config *cfg, int head)
{
	char extra[64];

	snprintf(extra, sizeof(extra), "Retry-After: %.0f\r\n",
	    fmax(1.0, ceil(cfg->work_seconds)));
	return reply_error(r, 503, extra, "responder is stopping", head);
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

/* Has the web server closed the connection? nginx does so as soon as
 * its client goes (fastcgi_ignore_client_abort off). poll(2) POLLRDHUP. */
static int
peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 &&
	    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static int
serve_test(struct slot *s, const struct config *cfg, double t0,
    const char *id, int head)
{
	double t1, t2;
	int rc;

	if (atomic_load(&stopping))
		return reply_draining(&s->req, cfg, head);
	atomic_store(&s->state, SLOT_WAITING);
	watch_notify();
	if (lock_acquire(s->lock_fd, &s->cancel) == -1) {
		if (errno == ECANCELED && atomic_load(&stopping))
			return reply_draining(&s->req, cfg, head);
		if (errno == ECANCELED) {
			logmsg("req=%s skipped: client gone after %.3f s "
			    "waiting", id, mono_now() - t0);
			return 0;
		}
		logmsg("req=%s flock %s: %s", id, cfg->lock_path,
		    strerror(errno));
		return reply_error(&s->req, 500, "", "lock failed", head);
	}
	if (peer_gone(atomic_load(&s->conn_fd))) {
		lock_release(s->lock_fd);
		logmsg("req=%s skipped: client gone at its turn after %.3f s",
		    id, mono_now() - t0);
		return 0;
	}
	atomic_store(&s->state, SLOT_WORKING);
	t1 = mono_now();
	if (worklog_write(cfg->worklog_fd, "start", t1, id) == -1)
		logmsg("req=%s work log: %s", id, strerror(errno));
	if (work(t1, cfg->work_seconds) == -1)
		logmsg("req=%s clock_nanosleep: %s", id, strerror(errno));
	t2 = mono_now();
	if (worklog_write(cfg->worklog_fd, "end", t2, id) == -1)
		logmsg("req=%s work log: %s", id, strerror(errno));
	/* Never hold the lock while writing: a slow reader would stall
	 * every waiter behind it. */
	if (lock_release(s->lock_fd) == -1)
		logmsg("req=%s flock unlock: %s", id, strerror(errno));
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

int
http_serve(struct slot *s, const struct config *cfg, double t0)
{
	FCGX_Request *r = &s->req;
	const char *method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	const char *path = FCGX_GetParam("DOCUMENT_URI", r->envp);
	const char *id = FCGX_GetParam("REQUEST_ID", r->envp);
	int head;

	if (id == NULL)
		id = "-";
	if (path == NULL || strcmp(path, "/test") != 0) {
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
	if (drain(r->in) == -1) {
		logmsg("req=%s request body: read failed, dropped", id);
		return 0;
	}
	return serve_test(s, cfg, t0, id, head);
}
