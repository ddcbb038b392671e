/* jobs.c - what the parts of asynchronous jobs share: see jobs.h. */
#define _GNU_SOURCE	/* realpath */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "lock.h"

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

/* host/machine:lock file: the processes that share one flock are one
 * node. The machine id (machine-id(5)) tells apart two hosts cloned
 * with one name; where there is none, the name alone. */
static int
name_node(const char *lock_path)
{
	char host[HOST_NAME_MAX + 1], id[33] = "", *real;
	ssize_t n;
	int fd;

	if (gethostname(host, sizeof(host)) == -1)
		return -1;
	host[sizeof(host) - 1] = '\0';
	if ((fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, id, sizeof(id) - 1);
		id[n > 0 ? strspn(id, "0123456789abcdef") : 0] = '\0';
		close(fd);
	}
	if ((real = realpath(lock_path, NULL)) == NULL)
		return -1;
	snprintf(jobs.node, sizeof(jobs.node), "%.64s/%.12s:%s", host, id,
	    real);
	free(real);
	return 0;
}

int
jobs_init(const struct config *cfg, char *why, size_t len)
{
	char reason[256];

	jobs.work_seconds = cfg->work_seconds;
	jobs.retention = cfg->job_retention;
	jobs.queue = cfg->job_queue;
	if (cfg->jobs_db == NULL)
		return 0;
	if (name_node(cfg->lock_path) == -1) {
		snprintf(why, len, "%s: %s", cfg->lock_path, strerror(errno));
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
