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
#include "work_env.h"

/* The params passed on as they are. */
static const char *const keep[] = {
	"QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE", "REMOTE_ADDR",
	"REMOTE_PORT", "SERVER_NAME", "SERVER_PORT", "SERVER_ADDR",
	"SERVER_PROTOCOL", "REQUEST_URI", "REQUEST_SCHEME", "HTTPS",
	"AUTH_TYPE", "REMOTE_USER", NULL
};

/* Request headers never passed on: Proxy, which a program's HTTP
 * client would take for its proxy (httpoxy, CVE-2016-5385), and those
 * that are meta-variables already (RFC 3875 4.1.18): the body's length
 * and type are CONTENT_LENGTH and CONTENT_TYPE, what the program gets,
 * not what the client said. */
static const char *const dropped[] = {
	"HTTP_PROXY", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE", NULL
};

/* What is built, and what was seen of the request. */
struct env {
	struct work_env	 w;
	int		 has_query;
	size_t		 body_len;
};

static int
add(struct env *e, const char *name, size_t nlen, const char *v,
    size_t vlen)
{
	return work_env_add(&e->w, name, nlen, v, vlen);
}

static int
add_str(struct env *e, const char *name, const char *v)
{
	return work_env_add_str(&e->w, name, v);
}

static int
listed(const char *const *list, const char *name, size_t n)
{
	int i;

	for (i = 0; list[i] != NULL; i++)
		if (parse_is(name, n, list[i]))
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
	if (listed(keep, name, n) || (n > 5 && memcmp(name, "HTTP_", 5) ==
	    0 && !listed(dropped, name, n)))
		return add(e, name, n, v, vlen);
	return 0;
}

/* Ours, not the request's to set. */
static int
ours(struct env *e)
{
	char num[32];

	if (add_str(e, "GATEWAY_INTERFACE", "CGI/1.1") == -1 ||
	    add_str(e, "SERVER_SOFTWARE", "serialcgi/" SERIALCGI_VERSION) ==
	    -1 || add_str(e, "SCRIPT_NAME", "/work") == -1 ||
	    add_str(e, "PATH", CGI_ENV_PATH) == -1)
		return -1;
	if (e->body_len > 0) {
		snprintf(num, sizeof(num), "%zu", e->body_len);
		if (add_str(e, "CONTENT_LENGTH", num) == -1)
			return -1;
	}
	if (!e->has_query && add_str(e, "QUERY_STRING", "") == -1)
		return -1;
	return 0;
}

int
cgi_env_request(const unsigned char *params, size_t len, size_t body_len,
    char **block, size_t *blen)
{
	struct env e = { .body_len = body_len };

	if (record_pairs(params, len, param, &e) == -1 || e.w.failed ||
	    ours(&e) == -1) {
		if (e.w.failed)
			errno = ENOMEM;
		free(e.w.buf);
		return -1;
	}
	*block = e.w.buf;
	*blen = e.w.len;
	return 0;
}
