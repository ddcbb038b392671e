/*
 * jobs.h - asynchronous jobs: submit (202 Accepted), poll, cancel, list,
 * call back. A job takes its arrival ticket from the same scoreboard as
 * GET /test when it is submitted, so jobs and synchronous requests share
 * one FIFO order and never overlap. Three parts:
 *   jobs.c     the HTTP resources /jobs, /jobs/{id}, /jobs/{id}/cancel
 *              (RFC 9110 15.3.3: a 202 points to a status monitor)
 *   jobrun.c   a stored job as a source of turns for the runner
 *   janitor.c  what the kernel tells of dead responders, applied to the
 *              store: interrupted, adopted; retention; callbacks due
 */
#ifndef SERIALCGI_JOBS_H
#define SERIALCGI_JOBS_H

#include <stdint.h>

#include "http.h"
#include "settings.h"
#include "store.h"

/* What all three parts share; set by jobs_init(). */
struct jobs {
	int		 on;		/* a store is configured */
	double		 work_seconds;
	double		 retention;	/* s a finished job is kept */
	long		 queue;		/* queued jobs, at most */
	char		 node[JOB_NODE_MAX];	/* host:lock file */
	double		 last_use;	/* mono s of the last job request */
};

extern struct jobs jobs;

/*
 * jobs_init: the job store (cfg->jobs_db, or the lock engine's URL in
 * cluster mode) and this node's name (the host, and the lock file's
 * real path: the responders that exclude each other with one flock).
 * Call after board_open(). An SQLite file that is a symlink, another
 * user's or readable by others is refused now (lock_check); the store
 * itself is opened when a job is about. Returns 0, or -1 with errno
 * set and why (at most len bytes).
 */
int jobs_init(const struct config *cfg, char *why, size_t len);

/*
 * jobs_route: answer a request for /jobs or below (jobs.c). stopping:
 * the responder takes no new job. Returns ROUTE_ANSWERED, or
 * ROUTE_ANSWERED_BUSY when a job it queued gave this idle process work
 * (http.h); c may be closed either way: a job is never tied to the
 * connection that submitted it.
 */
int jobs_route(struct conn *c, int stopping);

/*
 * jobs_tick: the janitor's round (janitor.c), called by the event loop
 * every JOBS_TICK seconds with now (mono s): jobs of dead responders,
 * retention, callbacks due. Does nothing while no job is about (no job
 * request for a while, nothing queued, running or to deliver on this
 * node, no orphan on the board) and then lets the store go.
 */
#define JOBS_TICK	0.25
void jobs_tick(double now);

/* jobs_rescan: have the janitor's next round look at every job of this
 * node (a job could not be parked). Loop thread only. */
void jobs_rescan(void);

/* jobs_json: j as the API shows it (cJSON; NULL for want of memory):
 * the body of a monitor, and the data of a callback's event. */
cJSON *jobs_json(const struct job *j);

/* jobs_time: wall (s since the epoch) in RFC 3339, UTC, to the
 * millisecond, into buf (at least 25 bytes of len). */
void jobs_time(double wall, char *buf, size_t len);

/* jobs_kick: something may be due (a job ended, a cancel): have the
 * next round look. Safe from any thread. */
void jobs_kick(void);

/* jobs_stop: the responder stops: adopt nothing more, deliver nothing
 * more. */
void jobs_stop(void);

/*
 * jobrun_park: queue stored job j for a turn in this process, with
 * ticket (taken by turn_enter, or adopted) and its arrival t0 (mono s).
 * Returns 1 if the process had nothing to do until then, 0 if it had,
 * or -1 with errno ENOMEM.
 */
int jobrun_park(const struct job *j, uint64_t ticket, double t0);

/* jobrun_leave: job id was canceled: if it is queued in this process,
 * take it out (its ticket finished as skipped). Returns 1 if it was. */
int jobrun_leave(const char *id);

/* jobrun_has: is job id queued or working in this process, or its end
 * waiting here to be stored? */
int jobrun_has(const char *id);

/* jobrun_retry: store the ends the store refused before. Returns how
 * many are still waiting. */
int jobrun_retry(void);

#endif
