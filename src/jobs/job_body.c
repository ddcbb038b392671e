/* job_body.c - the body of POST /jobs, judged whole: see job_body.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "deliver.h"
#include "job_body.h"
#include "store.h"
#include "utf8.h"

/*
 * Does the JSON text escape a NUL ("\u0000")? A backslash is an escape
 * only after an even run of backslashes; outside strings there are
 * none (the text is parsed as well). cJSON decodes \u0000 into its
 * C string, which then ends there.
 */
static int
escapes_nul(const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\') {
			run = 0;
			continue;
		}
		if (++run % 2 == 1 && n - i > 5 &&
		    strncmp(s + i + 1, "u0000", 5) == 0)
			return 1;
	}
	return 0;
}

/* The text as a whole: UTF-8, no NUL, one value and nothing after it
 * (cJSON_ParseWithLengthOpts with require_null_terminated, over the
 * text and its NUL). Returns the value, or NULL with why. */
static cJSON *
parse_whole(const char *body, size_t len, char *why, size_t wlen)
{
	const char *end = NULL;
	cJSON *o;

	if (!utf8_valid(body, len)) {
		snprintf(why, wlen, "body: not UTF-8 (RFC 8259 8.1)");
		return NULL;
	}
	if (memchr(body, '\0', len) != NULL || escapes_nul(body, len)) {
		snprintf(why, wlen, "body: a NUL character is not taken");
		return NULL;
	}
	if ((o = cJSON_ParseWithLengthOpts(body, len + 1, &end, 1)) != NULL)
		return o;
	if ((o = cJSON_ParseWithLengthOpts(body, len, NULL, 0)) != NULL)
		snprintf(why, wlen, "body: data after the JSON value (at "
		    "byte %ld)", end != NULL ? (long)(end - body) : -1L);
	else
		snprintf(why, wlen, "body: not a JSON object");
	cJSON_Delete(o);
	return NULL;
}

/* A member's name in a message: at most 40 bytes, cut where a UTF-8
 * character begins. */
static void
unknown(const char *name, char *why, size_t wlen)
{
	snprintf(why, wlen, "body: unknown member \"%.*s\"",
	    (int)utf8_cut(name, 40), name);
}

int
job_body_judge(const char *body, size_t len, char *url, size_t ulen,
    char *why, size_t wlen)
{
	cJSON *o, *m;
	int rc = -1, seen = 0;

	url[0] = '\0';
	if (len == 0)
		return 0;
	if ((o = parse_whole(body, len, why, wlen)) == NULL)
		return -1;
	if (!cJSON_IsObject(o)) {
		snprintf(why, wlen, "body: not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(m, o) {
		if (strcmp(m->string, "callback_url") != 0) {
			unknown(m->string, why, wlen);
			goto out;
		}
		if (seen++) {
			snprintf(why, wlen, "body: callback_url given twice");
			goto out;
		}
		if (!cJSON_IsString(m) ||
		    strlen(m->valuestring) > JOB_URL_MAX) {
			snprintf(why, wlen, "callback_url: not a string of at "
			    "most %d bytes", JOB_URL_MAX);
			goto out;
		}
		if (deliver_check_url(m->valuestring, why, wlen) == -1) {
			rc = errno == EAGAIN ? -2 : -1;
			goto out;
		}
		snprintf(url, ulen, "%s", m->valuestring);
	}
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}
