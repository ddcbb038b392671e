/* work_env.c - a work's environment: see work_env.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "work.h"
#include "work_env.h"

/* Room for need more bytes. Returns 0, or -1 (e->failed). */
static int
room(struct work_env *e, size_t need)
{
	char *p;

	if (e->failed) {
		errno = ENOMEM;
		return -1;
	}
	if (e->len + need <= e->cap)
		return 0;
	e->cap = 2 * (e->cap + need);
	if ((p = realloc(e->buf, e->cap)) == NULL) {
		e->failed = 1;
		errno = ENOMEM;
		return -1;
	}
	e->buf = p;
	return 0;
}

int
work_env_add(struct work_env *e, const char *name, size_t nlen,
    const char *v, size_t vlen)
{
	size_t need = nlen + vlen + 2;

	if (e->n == WORK_ENV_MAX || memchr(v, '\0', vlen) != NULL)
		return e->failed ? -1 : 0;
	if (room(e, need) == -1)
		return -1;
	memcpy(e->buf + e->len, name, nlen);
	e->buf[e->len + nlen] = '=';
	memcpy(e->buf + e->len + nlen + 1, v, vlen);
	e->buf[e->len + need - 1] = '\0';
	e->len += need;
	e->n++;
	return 0;
}

/* One "NAME=value" string of a block, as it is. */
static void
add_whole(struct work_env *e, const char *s)
{
	size_t need = strlen(s) + 1;

	if (e->n == WORK_ENV_MAX || room(e, need) == -1)
		return;
	memcpy(e->buf + e->len, s, need);
	e->len += need;
	e->n++;
}

int
work_env_add_str(struct work_env *e, const char *name, const char *v)
{
	return work_env_add(e, name, strlen(name), v, strlen(v));
}

/* The array, in front of the strings, in one block. */
static char **
pack(const struct work_env *e)
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
work_env_turn(const char *block, size_t len, const char *id, double wait,
    uint64_t token, const char *job)
{
	struct work_env e = { 0 };
	char num[32], **env = NULL;
	const char *s;

	for (s = block; s < block + len; s += strlen(s) + 1)
		add_whole(&e, s);
	snprintf(num, sizeof(num), "%.6f", wait);
	if (id != NULL)	/* else the block has it (a job's request) */
		(void)work_env_add_str(&e, "SERIALCGI_REQUEST_ID", id);
	(void)work_env_add_str(&e, "SERIALCGI_WAIT_SECONDS", num);
	if (token != 0) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)token);
		(void)work_env_add_str(&e, "SERIALCGI_FENCE_TOKEN", num);
	}
	/* Held open, it keeps the lock held (work.h). */
	_Static_assert(WORK_HOLD_FD == 4, "SERIALCGI_LOCK_FD says 4");
	(void)work_env_add_str(&e, "SERIALCGI_LOCK_FD", "4");
	/* A job's program may say how far it is on fd 3 (work_cgi.h). */
	if (job != NULL) {
		(void)work_env_add_str(&e, "SERIALCGI_JOB_ID", job);
		(void)work_env_add_str(&e, "SERIALCGI_PROGRESS_FD", "3");
	}
	if (!e.failed && (env = pack(&e)) == NULL)
		errno = ENOMEM;
	if (e.failed)
		errno = ENOMEM;
	free(e.buf);
	return env;
}
