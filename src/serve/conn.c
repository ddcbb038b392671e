/* conn.c - what a FastCGI request's params and body say. */
#define _GNU_SOURCE	/* memfd_create */

#include <sys/mman.h>

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "board.h"
#include "conn.h"
#include "parse.h"

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

int
conn_pref_async(const char *pref, size_t len)
{
	size_t n = strlen("respond-async"), t;

	for (t = 0; t < len && strchr("=; \t", pref[t]) == NULL; t++)
		;
	return t == n && strncasecmp(pref, "respond-async", n) == 0;
}

/* Does a Prefer field (RFC 7240 2: preferences, comma-separated) ask
 * for respond-async? */
static int
prefers_async(const char *v, size_t vlen)
{
	const char *end = v + vlen, *p = v, *t;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		/* One preference, to its comma (a quoted "," is rare). */
		for (t = p; t < end && *t != ','; t++)
			;
		if (conn_pref_async(p, (size_t)(t - p)))
			return 1;
		p = t;
	}
	return 0;
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
	else if (parse_is(name, nlen, "HTTP_PREFER"))
		c->prefer_async |= prefers_async(v, vlen);
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

/* A body over CONN_BODY_MAX, whole, in a memfd(2): the program of a
 * /work request reads it as its stdin (conn.h). */
static int
keep_large(struct conn *c, const unsigned char *buf)
{
	int fd, e;

	if ((fd = memfd_create("serialcgi-body", MFD_CLOEXEC)) == -1)
		return -1;
	if (record_body_to(&c->rr, buf, fd) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	c->body_fd = fd;
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
	if (n > CONN_BODY_MAX)
		return keep_large(c, buf);
	k = n < CONN_BODY_MAX ? n : CONN_BODY_MAX;
	if ((c->body = malloc(k + 1)) == NULL)
		return -1;
	(void)record_body(&c->rr, buf, (unsigned char *)c->body, k);
	c->body[k] = '\0';
	return 0;
}

int
conn_is_work(const struct conn *c)
{
	return strcmp(c->path, "/work") == 0 ||
	    strncmp(c->path, "/work/", 6) == 0;
}

int
conn_params(struct conn *c, unsigned char *buf)
{
	size_t n;

	strcpy(c->id, "-");
	c->method[0] = c->path[0] = '\0';
	if (keep_body(c, buf) == -1 ||
	    record_params(&c->rr, buf, param, c) == -1)
		return -1;
	if (!conn_is_work(c))
		return 0;
	n = record_gathered(&c->rr);
	if ((c->params = malloc(n > 0 ? n : 1)) == NULL)
		return -1;
	memcpy(c->params, buf, n);
	c->params_len = n;
	return 0;
}

void
conn_free(struct conn *c)
{
	if (c->body_fd >= 0)
		close(c->body_fd);
	free(c->body);
	free(c->params);
	free(c->env);
	free(c->out);
	free(c->buf);
}

int
conn_is(const struct conn *c, const char *list)
{
	size_t n = strlen(c->method);
	const char *w;

	if (n == 0)
		return 0;
	for (w = list; (w = strstr(w, c->method)) != NULL; w += n)
		if ((w == list || w[-1] == ' ') && (w[n] == ' ' ||
		    w[n] == '\0'))
			return 1;
	return 0;
}

int
conn_gone(struct source *s)
{
	struct conn *c = (struct conn *)s;

	return s->gone || record_peer_gone(c->fd);
}

void
conn_release(struct source *s)
{
	struct conn *c = (struct conn *)s;

	c->done(c);
}
