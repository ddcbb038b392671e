/* reply.c - a whole CGI response on a FastCGI connection. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reply.h"
#include "utf8.h"

#define NOMEM	"{\"error\":\"out of memory\"}\n"

static char retry_after[48];	/* "Retry-After: N\r\n" */

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

void
reply_init(double work_seconds)
{
	long r = (long)work_seconds;

	if ((double)r < work_seconds || r < 1)
		r++;
	snprintf(retry_after, sizeof(retry_after), "Retry-After: %ld\r\n",
	    r);
}

const char *
reply_retry_after(void)
{
	return retry_after;
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
	return record_reply(c->fd, c->rr.id, hdr, (size_t)n, text,
	    strcmp(c->method, "HEAD") == 0 ? 0 : len);
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
	return reply_error(c, 503, retry_after, why);
}
