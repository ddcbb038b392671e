/*
 * turn.h - one request's turn at work(): enter (arrival ticket), wait
 * (for the ticket to come up, then for the lock), begin, end with an
 * outcome. The scoreboard (board.h) keeps the order across processes;
 * the lock backend (lock.h) excludes.
 */
#ifndef SERIALCGI_TURN_H
#define SERIALCGI_TURN_H

#include <stdint.h>

#include "lock.h"

enum turn_outcome {
	TURN_SERVED,	/* worked */
	TURN_SKIPPED,	/* the requester left before its work */
	TURN_STOPPING,	/* the responder stops before its work */
	TURN_REPLACED,	/* the lock is no longer the one others see */
	TURN_LOST,	/* the engine's lock was lost: never a 200 */
	TURN_UNAVAILABLE, /* the lock engine is unreachable: fail closed */
	TURN_FAILED	/* the lock backend failed */
};

struct turn {
	uint64_t	 ticket;
	long		 ahead;		/* turns before it at arrival */
	double		 t0;		/* arrival, mono s */
	double		 t1;		/* start of work, mono s */
	double		 t2;		/* end of work, mono s */
	uint64_t	 token;		/* fencing token, 0 with flock */
	int		 held;		/* the lock is ours */
	int		 begun;		/* the board has it as the holder */
	int		 error;		/* errno of a TURN_FAILED */
};

/*
 * turn_enter: stamp the arrival (t0) and take the next ticket, under
 * one lock, so ticket order is arrival order across processes; id is
 * the request (or job) id that /status?full lists for the ticket;
 * durable as board_enter (1 for a stored job). Returns 0, or -1 with
 * errno EAGAIN if the scoreboard is full.
 */
int turn_enter(struct turn *t, const char *id, int durable);

/*
 * turn_wait: wait until t's ticket is next, then for lock l (cancel_fd
 * as lock_acquire); t1 is stamped the moment the lock is ours, before
 * any check, as the exclusive section starts there, and t is the
 * holder on the board at once (turn_begin). rewait as
 * board_wait_turn. Returns 0 with the lock held, or -1 with errno
 * ECANCELED if the ticket was finished meanwhile (turn_end by another
 * thread, board_cancel by another process), EAGAIN if *rewait was set
 * before the lock was asked for, or the backend's errno in t->error
 * (ERANGE: the engine's fencing token went back; the lock is let go).
 */
int turn_wait(struct turn *t, struct lock *l, int cancel_fd,
    const _Atomic int *rewait);

/*
 * turn_try: if t's ticket is next and l is free, take l and begin the
 * turn now (turn_begin), without waiting. Returns 0 with the lock held,
 * or -1 with errno EWOULDBLOCK.
 */
int turn_try(struct turn *t, struct lock *l);

/* turn_begin: t holds the lock from t1 (the moment it was taken, or
 * now): it is the holder on the board, and the next ticket may queue
 * in the lock behind it. turn_wait and turn_try call it themselves. */
void turn_begin(struct turn *t);

/*
 * turn_release: let go of l if t holds it (whether to yield to the next
 * waiter is the runner's call). Returns 0, or -1 with errno ENOLCK when
 * the engine did not
 * confirm the lock was held to the end (lock_release), counted as lost.
 */
int turn_release(struct turn *t, struct lock *l);

/*
 * turn_end: release l if t holds it, then finish the ticket with the
 * outcome, which passes the turn on. l may be NULL when t holds
 * nothing. Safe from any thread of the process.
 */
void turn_end(struct turn *t, struct lock *l, enum turn_outcome how);

#endif
