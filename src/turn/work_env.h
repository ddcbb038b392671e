/*
 * work_env.h - a work's environment: "NAME=value" strings one after the
 * other in one block, as a request leaves it (cgi_env.h makes it from
 * the FastCGI params; a stored job keeps it), and the array execve(2)
 * wants, made at the work's turn with what only the turn knows.
 */
#ifndef SERIALCGI_WORK_ENV_H
#define SERIALCGI_WORK_ENV_H

#include <stddef.h>
#include <stdint.h>

#define WORK_ENV_MAX	256	/* variables, at most */

struct work_env {
	char		*buf;		/* "NAME=value\0" ..., malloc'd */
	size_t		 len, cap;	/* bytes */
	int		 n;		/* variables */
	int		 failed;	/* out of memory once: all is lost */
};

/*
 * work_env_add: append name (nlen bytes) = value (vlen bytes). A value
 * with a NUL in it, or a variable past WORK_ENV_MAX, is left out (a
 * NUL would cut it). Returns 0, or -1 with errno ENOMEM (and e->failed
 * set). work_env_add_str: the same with C strings.
 */
int work_env_add(struct work_env *e, const char *name, size_t nlen,
    const char *v, size_t vlen);
int work_env_add_str(struct work_env *e, const char *name, const char *v);

/*
 * work_env_turn: the environment of one turn: the request's block
 * (len bytes, as work_env builds it), and SERIALCGI_REQUEST_ID id (if
 * not NULL: a job's request keeps its own in the block),
 * SERIALCGI_WAIT_SECONDS wait (s), SERIALCGI_FENCE_TOKEN token (if not
 * 0), SERIALCGI_LOCK_FD 4 (WORK_HOLD_FD, work.h), and SERIALCGI_JOB_ID
 * job and SERIALCGI_PROGRESS_FD 3 (if job is not NULL). Returns a
 * NULL-ended array in one malloc'd block (free() it whole), or NULL
 * with errno ENOMEM.
 */
char **work_env_turn(const char *block, size_t len, const char *id,
    double wait, uint64_t token, const char *job);

#endif
