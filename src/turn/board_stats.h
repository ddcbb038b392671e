/*
 * board_stats.h - the scoreboard's figures and views, for /status,
 * /metrics and the janitor: counters, the wait histogram, the queue in
 * order, the live responders. All come from the shared file, so every
 * responder answers for the whole service.
 */
#ifndef SERIALCGI_BOARD_STATS_H
#define SERIALCGI_BOARD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "board.h"

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
	uint64_t	 work_ends[BOARD_WORK_ENDS];	/* programs' */
	uint64_t	 exits[3];	/* exit 0, another, a signal */
	double		 typical;	/* median of the last works'
					 * lengths, s; 0 before any */
	int		 store_state;	/* the job store's, as its last user
					 * found it (store.h's enum) */
	uint64_t	 store_failures;	/* its calls that failed */
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
extern const double board_stats_le[BOARD_BUCKETS];

/* board_stats_wait: add one wait, in seconds, to the histogram. */
void board_stats_wait(double seconds);

/* board_stats_rejected: count one request refused by admission (503). */
void board_stats_rejected(void);

/* board_stats_engine: the lock engine was reachable (1) or not (0) just now;
 * an unreachable one counts an engine error too. */
void board_stats_engine(int reachable);

/* board_stats_fence: a grant came with this fencing token; *before gets
 * the highest one granted on this board until then. Returns 0, or -1
 * if the token is not above it (then it is not kept). */
int board_stats_fence(uint64_t token, uint64_t *before);

/* board_stats_lock_lost: count one work whose engine lock was lost. */
void board_stats_lock_lost(void);

/* board_stats_work: count how a program's work ended (work.h's enum
 * work_end; -1: it never began) and the program's wait status (-1:
 * none). */
void board_stats_work(int end, int status);

/* board_stats_length: one more work lasted seconds; the last
 * BOARD_RECENT make the estimates: board_stats_typical, their median
 * (s; 0 before any), also board_stats' typical. */
void board_stats_length(double seconds);
double board_stats_typical(void);

/* board_stats_store: the job store was found in state (a number of the
 * store's own, 0 for fine) just now; failed: count one failed call.
 * board_stats_store_state: the state last found (0 before board_open). */
void board_stats_store(int state, int failed);
int board_stats_store_state(void);

/* board_stats: a consistent snapshot. Entries of dead processes are
 * cleared first, so the numbers are true even after a kill -9.
 * Returns 0, or -1 with errno set. */
int board_stats(struct board_stats *st);

/*
 * board_stats_queue: one snapshot of the queue: the waiters board_stats
 * counts (live ones, and orphaned jobs), in ticket order (at most max
 * of them, the earliest) into out, and, if holder is not NULL, the
 * request the lock holder works for (holder->pid is -1 when nobody
 * holds it). Entries of dead processes are cleared first, as in
 * board_stats. Returns how many waiters were listed, or -1 with errno
 * EINVAL before board_open.
 */
long board_stats_queue(struct board_waiter *holder,
    struct board_waiter *out, size_t max);

/*
 * board_stats_eta: seconds from now (mono s) until a waiter with ahead
 * waiters before it may start: what is left of the holder's work (as
 * board_stats_queue described it) and ahead works more, each typical
 * seconds long (the median of the last ones). An estimate.
 */
double board_stats_eta(const struct board_waiter *holder, long ahead,
    double typical, double now);

/*
 * board_stats_pids: the pids of the live responders, at most max of them,
 * into out. Returns how many, or -1 with errno EINVAL before
 * board_open.
 */
long board_stats_pids(long *out, size_t max);

#endif
