/*
 * source.h - where a turn's request comes from: a parked HTTP request
 * (http.c) or a stored job (jobs.c). The turn runner sees only this.
 */
#ifndef SERIALCGI_SOURCE_H
#define SERIALCGI_SOURCE_H

#include "turn.h"
#include "work.h"

struct source;

struct source_ops {
	/* Has the requester left, so the work would be for nobody?
	 * Returns 1 or 0. Called by the runner just before the work. */
	int	(*gone)(struct source *);
	/* Or NULL. The lock is held and the work is due: make its start
	 * known (a job is marked running in its store, durably, so that a
	 * crash can never run it twice). Returns 0 to work, or -1 to skip
	 * it (it is no longer queued: canceled, or the store failed). */
	int	(*begin)(struct source *);
	/* Or NULL: the work is the sleep. The lock is held, the work
	 * about to begin: set w up for its backend (work.h): a program,
	 * its environment (with the wait and the fencing token, known
	 * only now), its stdin. Returns 0, or -1 to skip the work (w->why
	 * says why; answer() gets TURN_FAILED). */
	int	(*prepare)(struct source *, struct work *w);
	/* The turn is over with this outcome: answer the requester (the
	 * work's own end is in runner_work(s)). Called by the runner,
	 * once, for a source it took. */
	void	(*answer)(struct source *, enum turn_outcome);
	/* Hand the source back to its owner, which frees it. Called by
	 * the runner after answer(), once no work of it is in progress. */
	void	(*release)(struct source *);
};

struct source {
	const struct source_ops *ops;
	struct turn	 turn;
	/* What the work was, and gave: the runner's one struct work (one
	 * work at a time per process), from the start of its turn until
	 * it is answered; NULL before and after, so a parked request does
	 * not carry one. Read it through runner_work(). */
	struct work	*work;
	const char	*id;		/* request id, for logs */
	struct source	*prev, *next;	/* in the runner's queue */
	int		 state;		/* SOURCE_* below */
	int		 gone;		/* the requester left while working */
	int		 durable;	/* a stored job: on a stop its ticket
					 * stays queued, for a process to
					 * adopt or for the next start */
};

#define SOURCE_NEW	0	/* not queued */
#define SOURCE_PARKED	1	/* queued, waiting for its turn */
#define SOURCE_WORKING	2	/* taken by the runner */

#endif
