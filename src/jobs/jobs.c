/* jobs.c - what the parts of asynchronous jobs share: see jobs.h. */
#define _GNU_SOURCE	/* realpath */

#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "privfile.h"
#include "lock.h"
#include "webapi.h"

struct jobs jobs;
static _Atomic int kicked, restart;

void
jobs_kick(void)
{
	atomic_store(&kicked, 1);
}

int
jobs_kicked(void)
{
	return atomic_exchange(&kicked, 0);
}

void
jobs_restart(void)
{
	atomic_store(&restart, 1);
	jobs_kick();
}

int
jobs_restart_asked(void)
{
	return atomic_load(&restart);
}

int
jobs_restart_take(void)
{
	return atomic_exchange(&restart, 0);
}

/* The name stores before 0.5 gave the node: host/machine:lock file,
 * which two hosts cloned from one image, or two stacks whose lock
 * files have one path in two mount namespaces, share. Its jobs are
 * this node's too (the janitor adopts them). */
static int
legacy_name(const char *host, const char *lock_path)
{
	char id[33] = "", *real;
	ssize_t n;
	int fd;

	if ((fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, id, sizeof(id) - 1);
		id[n > 0 ? strspn(id, "0123456789abcdef") : 0] = '\0';
		close(fd);
	}
	if ((real = realpath(lock_path, NULL)) == NULL)
		return -1;
	snprintf(jobs.legacy, sizeof(jobs.legacy), "%.64s/%.12s:%s", host, id,
	    real);
	free(real);
	return 0;
}

/*
 * The node's identity: 128 random bits, made once by the first
 * responder into a private file beside the lock file (lock_path.node)
 * and kept there, so that the processes that share one flock share it,
 * and nothing else can by accident. Returns 0, or -1 with why.
 */
static int
node_id(const char *lock_path, char *id, char *why, size_t len)
{
	unsigned char r[16];
	char path[4200], made[40];
	ssize_t n;
	size_t i;

	snprintf(path, sizeof(path), "%s.node", lock_path);
	if ((n = privfile_read(path, id, 40, why, len)) == -1 &&
	    errno == ENOENT) {
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return -1;
		for (i = 0; i < sizeof(r); i++)
			snprintf(made + 2 * i, 3, "%02x", r[i]);
		made[32] = '\n';
		if (privfile_create(path, made, 33, why, len) == -1)
			return -1;
		n = privfile_read(path, id, 40, why, len);
	}
	if (n == -1)
		return -1;
	if (strspn(id, "0123456789abcdef") != 32) {
		snprintf(why, len, "%.200s: not a node identity (32 hex "
		    "digits)", path);
		errno = EINVAL;
		return -1;
	}
	id[32] = '\0';
	return 0;
}

/* host/identity: this node's name in the store, and the legacy one. */
static int
name_node(const char *lock_path, char *why, size_t len)
{
	char host[HOST_NAME_MAX + 1], id[40];

	if (gethostname(host, sizeof(host)) == -1 ||
	    legacy_name(host, lock_path) == -1) {
		snprintf(why, len, "%s: %s", lock_path, strerror(errno));
		return -1;
	}
	host[sizeof(host) - 1] = '\0';
	if (node_id(lock_path, id, why, len) == -1)
		return -1;
	snprintf(jobs.node, sizeof(jobs.node), "%.64s/%s", host, id);
	return 0;
}

int
jobs_init(const struct config *cfg, const struct work_backend *be,
    char *why, size_t len)
{
	char reason[256];

	jobs.work_seconds = cfg->work_seconds;
	jobs.retention = cfg->job_retention;
	jobs.queue = cfg->job_queue;
	jobs.results_max = cfg->job_results_max;
	if (cfg->jobs_db == NULL)
		return 0;
	/* Base64 for what jobs of real work keep (store_work.h), loaded
	 * before the runner's thread may need it. */
	if ((jobs.work_be = be) != NULL &&
	    webapi_crypto(reason, sizeof(reason)) == -1) {
		snprintf(why, len, "jobs of real work: %s", reason);
		return -1;
	}
	if (name_node(cfg->lock_path, reason, sizeof(reason)) == -1) {
		snprintf(why, len, "node identity: %s", reason);
		return -1;
	}
	jobs.on = 1;
	/* Opened when a job is about; the janitor's first round, in one
	 * responder, opens it soon after the start. */
	store_init(cfg->jobs_db, cfg->lock_url, cfg->board_path);
	/* A store of record that is gone or empty is lost: refused (and
	 * said) now, and never made anew behind the operator's back. The
	 * responder serves /test all the same. */
	if (store_check() == -1)
		return 0;
	if (cfg->lock_url == NULL &&
	    lock_check(cfg->jobs_db, reason, sizeof(reason)) == -1) {
		snprintf(why, len, "job store %s: %s", cfg->jobs_db, reason);
		return -1;
	}
	return 0;
}
