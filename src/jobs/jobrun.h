/*
 * jobrun.h - a stored job as a source of turns (source.h): parked with
 * the runner like a request, but nobody waits on a connection. Before
 * its work the runner has it marked running in the store, the one
 * write that makes it run at most once; after, the outcome is stored
 * and its callback falls due.
 */
#ifndef SERIALCGI_JOBRUN_H
#define SERIALCGI_JOBRUN_H

#include <stdint.h>

#include "store.h"

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

/* jobrun_abort: a cancel of job id, a job of real work running (or
 * about to) in this process, was asked: stop its work (SIGTERM to all
 * its program started, SIGKILL 2 s later: work_cgi.h); it ends
 * canceled. Returns 1 if the job is this process's. Loop thread. */
int jobrun_abort(const char *id);

/* jobrun_has: is job id queued or working in this process, or its end
 * waiting here to be stored? */
int jobrun_has(const char *id);

/* jobrun_retry: store the ends the store refused before. Returns how
 * many are still waiting. */
int jobrun_retry(void);

#endif
