/*
 * jobs.h - what the parts of asynchronous jobs share: the settings, this
 * node's name, and a flag that wakes the janitor. A job takes its
 * arrival ticket from the same scoreboard as GET /test when it is
 * submitted, so jobs and synchronous requests share one FIFO order and
 * never overlap. The parts:
 *   jobrun.c    a stored job as a source of turns for the runner
 *   janitor.c   what the kernel tells of dead responders, applied to
 *               the store: interrupted, adopted; retention; callbacks
 *   deliver.c   callbacks (Standard Webhooks)
 *   job_json.c  a job as the API and the callbacks show it
 * and, in src/serve, jobs_http.c, the HTTP resources.
 */
#ifndef SERIALCGI_JOBS_H
#define SERIALCGI_JOBS_H

#include <stddef.h>

#include "settings.h"
#include "store.h"
#include "work.h"

/* What the parts share; set by jobs_init(). */
struct jobs {
	int		 on;		/* a store is configured */
	double		 work_seconds;
	double		 retention;	/* s a finished job is kept */
	long		 queue;		/* queued jobs, at most */
	long long	 results_max;	/* bytes jobs of real work keep */
	/* What a job of real work runs (a program, an upstream), as
	 * /work does; NULL: none here now. */
	const struct work_backend *work_be;
	char		 node[JOB_NODE_MAX];	/* host/identity */
	char		 legacy[JOB_NODE_MAX];	/* the name before 0.5 */
	double		 last_use;	/* mono s of the last job request */
};

extern struct jobs jobs;

/*
 * jobs_init: the job store, jobs of real work run by be (work.h) or
 * none (NULL) (cfg->jobs_db, or the lock engine's URL in
 * cluster mode) and this node's name (the host, and the lock file's
 * real path: the responders that exclude each other with one flock).
 * Call after board_open(). An SQLite file that is a symlink, another
 * user's or readable by others is refused now (lock_check); the store
 * itself is opened when a job is about. A store of record that is
 * gone or empty is refused to every job request (store_check), and
 * the responder starts all the same. Returns 0, or -1 with errno set
 * and why (at most len bytes).
 */
int jobs_init(const struct config *cfg, const struct work_backend *be,
    char *why, size_t len);

/* jobs_kick: something may be due (a job ended, a cancel, a callback
 * attempt): have the janitor's next round look. Safe from any thread.
 * jobs_kicked: was it kicked since the last call? Clears the flag. */
void jobs_kick(void);
int jobs_kicked(void);

/* jobs_restart: a job's start could not be stored (a full store, say):
 * have the janitor park this process's lost jobs again, soon but not
 * at once (janitor.c). Safe from any thread. jobs_restart_asked: is it
 * asked? jobs_restart_take: and clear it. Return 1 or 0. */
void jobs_restart(void);
int jobs_restart_asked(void);
int jobs_restart_take(void);

#endif
