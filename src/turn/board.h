/* board.h - the scoreboard all responders share: arrival tickets for
 * fair order, the holder and waiters, counters and a wait histogram. */
#ifndef SERIALCGI_BOARD_H
#define SERIALCGI_BOARD_H

#include <stddef.h>
#include <stdint.h>

#define BOARD_PROCS	64	/* responder processes */
#define BOARD_RING	8192	/* requests admitted at once, at most */
#define BOARD_BUCKETS	13	/* wait histogram, see board_bucket_le */
#define BOARD_ID_LEN	64	/* bytes of a request id kept per ticket,
				 * as nginx's map lets through */

enum board_outcome { BOARD_SERVED, BOARD_SKIPPED, BOARD_FAILED };

struct board_stats {
	long		 waiters;	/* queued, alive */
	long		 holder_pid;	/* -1 if nobody holds the lock */
	double		 holder_since;	/* mono s the work began */
	long		 processes;	/* responder processes alive */
	uint64_t	 served, skipped, rejected;
	uint64_t	 buckets[BOARD_BUCKETS];	/* cumulative */
	uint64_t	 wait_count;
	double		 wait_sum;	/* seconds */
	int		 engine;	/* lock engine: 1 reachable, 0 not,
					 * -1 none, or not tried yet */
	uint64_t	 fence;		/* the highest fencing token granted
					 * here, 0 with flock alone */
	uint64_t	 lock_lost, engine_errors;
};

/* One request in the queue, or the one the lock holder works for. */
struct board_waiter {
	uint64_t	 ticket;
	long		 pid;		/* its responder */
	double		 arrived;	/* mono s; 0 if no longer known */
	double		 since;		/* the holder's start of work,
					 * mono s; 0 for a waiter */
	char		 id[BOARD_ID_LEN + 1];	/* request id, or "" */
	int		 job;		/* a stored job's ticket */
	int		 orphan;	/* a job whose process died, waiting
					 * to be adopted; pid is the dead
					 * one's */
};

/* Upper bounds of the wait histogram's buckets, in seconds; the last
 * is +Inf. */
extern const double board_bucket_le[BOARD_BUCKETS];

/*
 * board_open: map the scoreboard file (created 0600 and initialized if
 * new; checked like the lock file by the caller) and register this
 * process in it, holding an OFD lock (fcntl(2) F_OFD_SETLK) on its
 * entry so others can tell when it dies. Returns 0, or -1 with errno
 * set (ENOSPC: BOARD_PROCS processes are alive already).
 */
int board_open(const char *path);

/* board_close: leave the table and unmap. */
void board_close(void);

/*
 * board_enter: take the next arrival ticket for request id (a string,
 * kept up to BOARD_ID_LEN bytes for board_queue; NULL for none).
 * *arrived gets the arrival time (mono s), read under the same lock as
 * the ticket, so that ticket order is arrival order even when threads
 * are preempted in a burst. *ahead gets how many requests were queued
 * before it. durable is 1 for a stored job: if its process dies, the
 * ticket waits, an orphan, for another process to adopt it
 * (board_adopt) instead of being skipped. Returns 0, or -1 with errno
 * EAGAIN if BOARD_RING requests are queued already.
 */
int board_enter(const char *id, double *arrived, uint64_t *ticket,
    long *ahead, int durable);

/*
 * board_wait_turn: block (futex(2)) until every earlier ticket is
 * finished but for the lock holder, so that this ticket may now wait in
 * the lock right behind it. Only one ticket is ever there: nobody can
 * barge in between an unlock and the next waiter's wake-up. The wait
 * ends too when the ticket is finished by someone else (its client
 * left, the job was canceled, the responder stops): board_finish()
 * wakes it; and when *rewait turns non-zero (an earlier ticket was
 * adopted by this process: board_nudge()).
 * Returns 0, or -1 with errno ECANCELED if the ticket is finished, or
 * EAGAIN if *rewait was set.
 */
int board_wait_turn(uint64_t ticket, const _Atomic int *rewait);

/* board_nudge: wake whoever waits in board_wait_turn for ticket, so
 * that it looks at its rewait flag. */
void board_nudge(uint64_t ticket);

/* board_turn_now: is the ticket next in line now? Returns 1 or 0. */
int board_turn_now(uint64_t ticket);

/* board_holding: the request holds the lock and starts work at `now`
 * (mono s); lets the next ticket queue in flock(2) behind it. */
void board_holding(uint64_t ticket, double now);

/* board_finish: the request is done with the queue (served, skipped
 * or failed); counts it and passes the turn on. A ticket already
 * finished (board_cancel) is not counted twice. */
void board_finish(uint64_t ticket, enum board_outcome how);

/*
 * board_cancel: finish a waiting ticket from any process (a job canceled
 * through another responder), counted as skipped; its owner's runner
 * sees ECANCELED in board_wait_turn. Returns 1 if it was waiting, 0 if
 * not (already holding or finished).
 */
int board_cancel(uint64_t ticket);

/* board_gen: this board's generation, random, new with every board
 * file: a ticket stored with another generation is from an earlier
 * start of the stack and means nothing here. */
uint64_t board_gen(void);

/* board_self: this process's entry in the table and its pid, as stored
 * with its tickets. */
void board_self(int *slot, long *pid);

/* board_owner_alive: is the process that had pid in entry slot still
 * alive (its OFD lock held) and still that process? Returns 1 or 0. */
int board_owner_alive(int slot, long pid);

/*
 * board_adopt: take over ticket, a durable one whose owner died (an
 * orphan), keeping its place in the queue. Returns 0, or -1 with errno
 * ESRCH if it is no orphan of ours to take (finished, adopted by
 * another, or its owner lives).
 */
int board_adopt(uint64_t ticket);

/* board_abandon: finish an orphan ticket that nobody can adopt (no
 * stored job holds it: its owner died before the store did), counted
 * as failed. Returns 1 if it was an orphan, 0 if not. */
int board_abandon(uint64_t ticket);

/* board_orphans: up to max orphan tickets, oldest first, into out.
 * Returns how many. */
size_t board_orphans(uint64_t *out, size_t max);

/*
 * board_first_round: should this process make the janitor's first
 * round on this board (jobs that an earlier start of the stack left)?
 * 1 for one process only (so one alone loads the store), and for
 * another if that one dies before board_first_done(). Returns 1 or 0.
 */
int board_first_round(void);
void board_first_done(void);

/* board_jobs_bump: a job was queued on this host; board_jobs: how many
 * times so far. A janitor that sees the count move looks at the store
 * again (janitor.c); otherwise it stays idle. */
void board_jobs_bump(void);
uint64_t board_jobs(void);

/* board_position: how many turns come before ticket (waiting ones, and
 * the work in progress), or -1 if it no longer waits. */
long board_position(uint64_t ticket);

/* board_observe_wait: add one wait, in seconds, to the histogram. */
void board_observe_wait(double seconds);

/* board_rejected: count one request refused by admission (503). */
void board_rejected(void);

/* board_engine: the lock engine was reachable (1) or not (0) just now;
 * an unreachable one counts an engine error too. */
void board_engine(int reachable);

/* board_fence: a grant came with this fencing token. */
void board_fence(uint64_t token);

/* board_lock_lost: count one work whose engine lock was lost. */
void board_lock_lost(void);

/* board_stats: a consistent snapshot. Entries of dead processes are
 * cleared first, so the numbers are true even after a kill -9.
 * Returns 0, or -1 with errno set. */
int board_stats(struct board_stats *st);

/*
 * board_queue: one snapshot of the queue: the waiters board_stats
 * counts (live ones, and orphaned jobs), in ticket order (at most max
 * of them, the earliest) into out, and, if holder is not NULL, the
 * request the lock holder works for (holder->pid is -1 when nobody
 * holds it). Entries of dead processes are cleared first, as in
 * board_stats. Returns how many waiters were listed, or -1 with errno
 * EINVAL before board_open.
 */
long board_queue(struct board_waiter *holder, struct board_waiter *out,
    size_t max);

/*
 * board_pids: the pids of the live responders, at most max of them,
 * into out. Returns how many, or -1 with errno EINVAL before
 * board_open.
 */
long board_pids(long *out, size_t max);

#endif
