/* work_async.c - /work as a job of real work: see work_async.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "cgi_env.h"
#include "deliver.h"
#include "jobs.h"
#include "reply.h"
#include "store_work.h"
#include "webapi.h"
#include "work_async.h"

int
work_async_wanted(const struct conn *c)
{
	return c->prefer_async && jobs.on && jobs.work_be != NULL;
}

/* The body, whole: a small one is in c->body, a larger one in its
 * memfd. */
static int
body(struct conn *c, struct job_blob *in)
{
	ssize_t n;
	size_t got = 0;

	in->len = c->body_len;
	if (c->body_len == 0)
		return 0;
	if ((in->p = malloc(c->body_len)) == NULL)
		return -1;
	if (c->body_fd < 0) {
		memcpy(in->p, c->body, c->body_len);
		return 0;
	}
	while (got < c->body_len) {
		n = pread(c->body_fd, in->p + got, c->body_len - got,
		    (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EIO : errno;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

#define PREFER		"HTTP_PREFER="

/*
 * The block[0..*blen) of "NAME=value" strings without the preference
 * this job applied: serialcgi answered respond-async itself (RFC 7240
 * 4.1); passed on, it would ask the program, or the upstream, to answer
 * asynchronously too, and the job's result would be their 202, not the
 * answer a synchronous call gets. Other preferences stay (each judged
 * by conn_pref_async, as for the request); a Prefer left with none
 * goes.
 */
static void
unprefer(char *block, size_t *blen)
{
	char *s = block, *end = block + *blen, *v, *out, *p;
	size_t k, was, now;

	for (; s < end; s += strlen(s) + 1)
		if (strncmp(s, PREFER, strlen(PREFER)) == 0)
			break;
	if (s >= end)
		return;
	was = strlen(s) + 1;
	v = out = s + strlen(PREFER);
	/* out stays behind p: each kept one gains one "," where at least
	 * one separator was skipped. */
	for (p = v; *p != '\0'; p += k) {
		p += strspn(p, " \t,");
		k = strcspn(p, ",");
		if (k == 0 || conn_pref_async(p, k))
			continue;
		if (out != v)
			*out++ = ',';
		memmove(out, p, k);
		out += k;
	}
	*out = '\0';
	now = out == v ? 0 : (size_t)(out - s) + 1;
	memmove(s + now, s + was, (size_t)(end - (s + was)));
	*blen -= was - now;
}

/* The request's environment, less the preference applied, and its id
 * after it: the job's program sees the id of the request that made it,
 * as a synchronous one does (work_env_turn adds the rest at its
 * turn). */
static int
environment(struct conn *c, struct job_blob *env)
{
	char *block = NULL, *p;
	size_t blen, idlen = strlen("SERIALCGI_REQUEST_ID=") +
	    strlen(c->id) + 1;

	if (cgi_env_request(c->params, c->params_len, c->body_len, &block,
	    &blen) == -1)
		return -1;
	unprefer(block, &blen);
	if ((p = realloc(block, blen + idlen)) == NULL) {
		free(block);
		return -1;
	}
	snprintf(p + blen, idlen, "SERIALCGI_REQUEST_ID=%s", c->id);
	env->p = (unsigned char *)p;
	env->len = blen + idlen;
	return 0;
}

/* Is s one of the variables that make two requests the same one? */
static int
telling(const char *s)
{
	return strncmp(s, "REQUEST_METHOD=", 15) == 0 ||
	    strncmp(s, "REQUEST_URI=", 12) == 0 ||
	    strncmp(s, "CONTENT_TYPE=", 13) == 0;
}

/* A digest of what makes two requests the same one: method, URI (all
 * of it), type and body, as HMAC-SHA256 (libcrypto) under a fixed key,
 * in hex: "work:" and 64 digits. */
static void
fingerprint(const struct job_blob *env, const struct job_blob *in,
    char *print, size_t plen)
{
	unsigned char *msg, md[32];
	unsigned int mdlen = 0, i;
	const char *s, *end = (const char *)env->p + env->len;
	size_t off = 0, k;

	snprintf(print, plen, "work:");
	if ((msg = malloc(env->len + in->len)) == NULL)
		return;
	for (s = (const char *)env->p; s < end; s += k) {
		k = strlen(s) + 1;
		if (telling(s)) {
			memcpy(msg + off, s, k);
			off += k;
		}
	}
	if (in->len > 0)
		memcpy(msg + off, in->p, in->len);
	if (cr.hmac(cr.sha256(), "serialcgi-request", 17, msg, off + in->len,
	    md, &mdlen) != NULL)
		for (i = 0; i < mdlen && 5 + 2 * i + 2 < plen; i++)
			snprintf(print + 5 + 2 * i, 3, "%02x", md[i]);
	free(msg);
}

/* The callback a request asks for, from its environment: checked as
 * POST /jobs's (deliver.h). Returns 0, or -1 with the status. */
static int
callback(const struct job_blob *env, char *url, size_t ulen, int *status,
    char *why, size_t wlen)
{
	static const char name[] = "HTTP_SERIALCGI_CALLBACK_URL=";
	const char *s, *end = (const char *)env->p + env->len;

	url[0] = '\0';
	for (s = (const char *)env->p; s < end; s += strlen(s) + 1)
		if (strncmp(s, name, sizeof(name) - 1) == 0)
			break;
	if (s >= end)
		return 0;
	s += sizeof(name) - 1;
	if (strlen(s) > JOB_URL_MAX) {
		*status = 400;
		snprintf(why, wlen, "Serialcgi-Callback-Url: at most %d bytes",
		    JOB_URL_MAX);
		return -1;
	}
	if (deliver_check_url(s, why, wlen) == -1) {
		*status = errno == EAGAIN ? 503 : 400;
		return -1;
	}
	snprintf(url, ulen, "%s", s);
	return 0;
}

int
work_async_keep(struct conn *c, struct job_blob *env, struct job_blob *in,
    char *print, size_t plen, char *url, size_t ulen, int *status,
    char *why, size_t wlen)
{
	*env = *in = (struct job_blob){ NULL, 0 };
	if (c->body_len > WORK_ASYNC_BODY_MAX) {
		*status = 413;
		snprintf(why, wlen, "request body too large: at most %d "
		    "bytes", WORK_ASYNC_BODY_MAX);
		return -1;
	}
	if (body(c, in) == -1 || environment(c, env) == -1) {
		*status = 500;
		snprintf(why, wlen, "the request, kept for its job: %s",
		    strerror(errno));
		goto fail;
	}
	if (callback(env, url, ulen, status, why, wlen) == -1)
		goto fail;
	fingerprint(env, in, print, plen);
	return 0;
fail:
	free(env->p);
	free(in->p);
	*env = *in = (struct job_blob){ NULL, 0 };
	return -1;
}

/* The sleep's answer, as GET /test gives it. */
static int
sleep_result(struct conn *c, const struct job *j)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "{\"elapsed\":%.6f}\n",
	    j->elapsed);

	return reply_text(c, 200, "application/json", "", body, (size_t)n);
}

/* A final job without an answer: why not. */
static int
no_result(struct conn *c, const struct job *j)
{
	char why[320];

	snprintf(why, sizeof(why), "no result: the job is %s%s%s%s%s",
	    job_status_name(j->status), j->error_code[0] ? " (" : "",
	    j->error_code, j->error_code[0] ? "): " : "",
	    j->error_message);
	return reply_error(c, 404, "", why);
}

int
work_async_result(struct conn *c, const struct job *j)
{
	struct job_blob res;
	size_t head_len;
	int status, rc;
	char why[160];

	if (j->kind == JOB_SLEEP)
		return j->status == JOB_SUCCEEDED ? sleep_result(c, j) :
		    no_result(c, j);
	if (j->result_size == 0)
		return no_result(c, j);
	if ((rc = store_work_result(j->id, &res)) == -1)
		return -1;
	if (rc == 0 || res.len == 0)
		rc = no_result(c, j);
	else if (!j->partial && cgi_parse(res.p, res.len, &head_len,
	    &status, why, sizeof(why)) == 0)
		rc = reply_cgi(c, res.p, head_len, res.len, "");
	else
		rc = reply_text(c, 200, "application/octet-stream",
		    "Serialcgi-Result: partial\r\n", (const char *)res.p,
		    res.len);
	free(res.p);
	return 0;	/* a reply that failed: the connection is gone */
}
