/* cgi_env.c - a program's environment, from an allow-list: cgi_env.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi_env.h"
#include "parse.h"
#include "record.h"
#include "version.h"

#define ENV_MAX		256	/* variables, at most */

/* The params passed on as they are. */
static const char *const keep[] = {
	"QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "REMOTE_ADDR",
	"REMOTE_PORT", "SERVER_NAME", "SERVER_PORT", "SERVER_ADDR",
	"SERVER_PROTOCOL", "REQUEST_URI", "REQUEST_SCHEME", "HTTPS",
	"AUTH_TYPE", "REMOTE_USER", NULL
};

/* What is built: the strings, "NAME=value\0" one after the other, then
 * the array is made to point at them. */
struct env {
	char		*buf;
	size_t		 len, cap;
	int		 n;
	int		 has_query;
	int		 failed;	/* out of memory */
	size_t		 body_len;
};

static int
add(struct env *e, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	size_t need = nlen + vlen + 2;
	char *p;

	if (e->n == ENV_MAX || memchr(v, '\0', vlen) != NULL)
		return 0;	/* a NUL would cut it: leave it out */
	if (e->len + need > e->cap) {
		e->cap = 2 * (e->cap + need);
		if ((p = realloc(e->buf, e->cap)) == NULL) {
			e->failed = 1;
			return -1;
		}
		e->buf = p;
	}
	memcpy(e->buf + e->len, name, nlen);
	e->buf[e->len + nlen] = '=';
	memcpy(e->buf + e->len + nlen + 1, v, vlen);
	e->buf[e->len + need - 1] = '\0';
	e->len += need;
	e->n++;
	return 0;
}

static int
add_str(struct env *e, const char *name, const char *v)
{
	return add(e, name, strlen(name), v, strlen(v));
}

static int
kept(const char *name, size_t n)
{
	int i;

	for (i = 0; keep[i] != NULL; i++)
		if (parse_is(name, n, keep[i]))
			return 1;
	return 0;
}

static int
param(void *arg, const char *name, size_t n, const char *v, size_t vlen)
{
	struct env *e = arg;

	if (parse_is(name, n, "DOCUMENT_URI")) {
		/* PATH_INFO: what follows SCRIPT_NAME, /work. */
		if (vlen > 5 && memcmp(v, "/work", 5) == 0)
			return add(e, "PATH_INFO", 9, v + 5, vlen - 5);
		return 0;
	}
	if (parse_is(name, n, "QUERY_STRING"))
		e->has_query = 1;
	if (parse_is(name, n, "CONTENT_TYPE") && e->body_len == 0)
		return 0;
	if (kept(name, n) || (n > 5 && memcmp(name, "HTTP_", 5) == 0 &&
	    !parse_is(name, n, "HTTP_PROXY")))
		return add(e, name, n, v, vlen);
	return 0;
}

/* Ours, not the request's to set. */
static int
ours(struct env *e, const char *id, double wait, uint64_t token)
{
	char num[32];

	if (add_str(e, "GATEWAY_INTERFACE", "CGI/1.1") == -1 ||
	    add_str(e, "SERVER_SOFTWARE", "serialcgi/" SERIALCGI_VERSION) ==
	    -1 || add_str(e, "SCRIPT_NAME", "/work") == -1 ||
	    add_str(e, "PATH", CGI_ENV_PATH) == -1 ||
	    add_str(e, "SERIALCGI_REQUEST_ID", id) == -1)
		return -1;
	snprintf(num, sizeof(num), "%.6f", wait);
	if (add_str(e, "SERIALCGI_WAIT_SECONDS", num) == -1)
		return -1;
	if (e->body_len > 0) {
		snprintf(num, sizeof(num), "%zu", e->body_len);
		if (add_str(e, "CONTENT_LENGTH", num) == -1)
			return -1;
	}
	if (!e->has_query && add_str(e, "QUERY_STRING", "") == -1)
		return -1;
	if (token == 0)
		return 0;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)token);
	return add_str(e, "SERIALCGI_FENCE_TOKEN", num);
}

/* The array, in front of the strings, in one block. */
static char **
pack(struct env *e)
{
	size_t head = (size_t)(e->n + 1) * sizeof(char *);
	char **env, *s;
	int i;

	if ((env = malloc(head + e->len)) == NULL)
		return NULL;
	s = (char *)env + head;
	memcpy(s, e->buf, e->len);
	for (i = 0; i < e->n; i++, s += strlen(s) + 1)
		env[i] = s;
	env[e->n] = NULL;
	return env;
}

char **
cgi_env_build(const unsigned char *params, size_t len, size_t body_len,
    const char *id, double wait, uint64_t token)
{
	struct env e = { .body_len = body_len };
	char **env = NULL;

	if (record_pairs(params, len, param, &e) == 0 && !e.failed &&
	    ours(&e, id, wait, token) == 0 && (env = pack(&e)) == NULL)
		errno = ENOMEM;
	else if (env == NULL && errno != EPROTO)
		errno = ENOMEM;
	free(e.buf);
	return env;
}
