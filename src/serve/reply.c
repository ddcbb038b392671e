/* reply.c - a whole CGI response on a FastCGI connection. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board_stats.h"
#include "cgi.h"
#include "reply.h"
#include "utf8.h"

#define NOMEM	"{\"error\":\"out of memory\"}\n"

static double work_seconds;	/* before any work is measured */

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
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Internal Server Error";
	}
}

void
reply_init(double seconds)
{
	work_seconds = seconds;
}

/* One work from now a place in the queue frees up: the median of the
 * last works' lengths (WORK_SECONDS before any), whole seconds rounded
 * up, at least 1 (RFC 9110 10.2.3). Per thread: the loop and the runner
 * answer at once. */
const char *
reply_retry_after(void)
{
	static _Thread_local char line[48];
	double w = board_stats_typical();
	long r;

	if (w == 0)
		w = work_seconds;
	/* To the millisecond first: a sleep of 3 s measures 3.00001. */
	w = (double)(long long)(w * 1000 + 0.5) / 1000;
	r = (long)w;
	if ((double)r < w || r < 1)
		r++;
	snprintf(line, sizeof(line), "Retry-After: %ld\r\n", r);
	return line;
}

int
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
	/* What the socket does not take at once goes out from the loop,
	 * once the runner has handed c back (fcgi.c). */
	return record_reply(c->fd, c->rr.id, hdr, (size_t)n, text,
	    strcmp(c->method, "HEAD") == 0 ? 0 : len, &c->out, &c->out_len);
}

int
reply_json(struct conn *c, int status, const char *extra, cJSON *body)
{
	char *text;
	size_t len;
	int rc;

	if (body == NULL || (text = cJSON_PrintUnformatted(body)) == NULL)
		return reply_text(c, 500, "application/json", "", NOMEM,
		    strlen(NOMEM));
	len = strlen(text);
	/* Every answer is UTF-8 (RFC 8259 8.1), whatever a store of an
	 * older build holds: cJSON copies bytes above 0x7f as they are. */
	(void)utf8_scrub(text, len);
	text[len] = '\n';	/* cJSON's buffer holds len + 1 bytes */
	rc = reply_text(c, status, "application/json", extra, text, len + 1);
	cJSON_free(text);
	return rc;
}

int
reply_error(struct conn *c, int status, const char *extra, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o != NULL && cJSON_AddStringToObject(o, "error", why) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	rc = reply_json(c, status, extra, o);
	cJSON_Delete(o);
	return rc;
}

/* 503 with Retry-After (RFC 9110 10.2.3): one work from now a place
 * in the queue frees up, or a restarted responder is up. */
int
reply_unavailable(struct conn *c, const char *why)
{
	return reply_error(c, 503, reply_retry_after(), why);
}

int
reply_cgi(struct conn *c, const unsigned char *answer, size_t head_len,
    size_t len, const char *extra)
{
	char *head;
	long n;
	size_t cap = head_len + strlen(extra) + 3;
	int rc;

	if ((head = malloc(cap)) == NULL)
		return reply_text(c, 500, "application/json", "", NOMEM,
		    strlen(NOMEM));
	/* The program's fields, each CRLF-ended, then ours, then the
	 * blank line: nginx reads Status, Location and the rest. */
	if ((n = cgi_head(answer, head_len, head, cap)) == -1) {
		free(head);
		errno = EOVERFLOW;
		return -1;
	}
	memcpy(head + n, extra, strlen(extra));
	n += (long)strlen(extra);
	memcpy(head + n, "\r\n", 2);
	rc = record_reply(c->fd, c->rr.id, head, (size_t)n + 2,
	    (const char *)answer + head_len, strcmp(c->method, "HEAD") ==
	    0 ? 0 : len - head_len, &c->out, &c->out_len);
	free(head);
	return rc;
}

/* nginx's limit_conn refused the request and sent it here to be
 * counted and answered (location @serialcgi_busy); SERIALCGI_QUEUE is
 * its bound. */
int
reply_busy(struct conn *c)
{
	char why[80];

	if (c->queue > 0)
		snprintf(why, sizeof(why), "busy: %ld requests already "
		    "admitted", c->queue);
	else
		snprintf(why, sizeof(why), "busy: the queue is full");
	board_stats_rejected();
	return reply_unavailable(c, why);
}

void
reply_timing(const struct turn *t, char *buf, size_t len)
{
	char timing[48] = "", header[48] = "";

	/* The fencing token, for downstream resources to refuse a stale
	 * holder's writes (Kleppmann, "How to do distributed locking"). */
	if (t->token != 0) {
		snprintf(timing, sizeof(timing), ", fence;desc=\"%llu\"",
		    (unsigned long long)t->token);
		snprintf(header, sizeof(header), "X-Fence-Token: %llu\r\n",
		    (unsigned long long)t->token);
	}
	/* W3C Server-Timing: durations in milliseconds. */
	snprintf(buf, len, "Server-Timing: wait;dur=%.3f, work;dur=%.3f%s"
	    "\r\n%s", (t->t1 - t->t0) * 1e3, (t->t2 - t->t1) * 1e3, timing,
	    header);
}
