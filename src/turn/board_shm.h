/*
 * board_shm.h - the scoreboard file's layout and the primitives on it,
 * for board.c (tickets) and board_stats.c (figures) alone: the mapping,
 * the robust process-shared mutex, and liveness through OFD locks.
 * Everyone else uses board.h and board_stats.h; the sizes below are
 * theirs too.
 */
#ifndef SERIALCGI_BOARD_SHM_H
#define SERIALCGI_BOARD_SHM_H

#include <pthread.h>
#include <stdint.h>

#define BOARD_PROCS	64	/* responder processes */
#define BOARD_RING	8192	/* requests admitted at once, at most */
#define BOARD_BUCKETS	13	/* wait histogram, see board_stats_le */
#define BOARD_ID_LEN	64	/* bytes of a request id kept per ticket,
				 * as nginx's map lets through */
#define BOARD_ORPHAN_GRACE 0.75	/* s an orphan may hold the queue */
#define BOARD_WORK_ENDS	6	/* work.h's enum work_end */
#define BOARD_RECENT	32	/* works whose lengths make estimates */

/* A queue entry goes WAITING -> NEXT -> DONE (its work began: the
 * holder moves out of the ring, so the ring's head never waits on a
 * long work), or to GONE when its client leaves or its process dies.
 * A durable one (a stored job) whose process dies becomes an ORPHAN
 * instead: it keeps its place, and the queue waits there, until
 * another process adopts it (WAITING again) or abandons it (GONE). */
enum { E_FREE, E_WAITING, E_NEXT, E_GONE, E_DONE, E_ORPHAN };

struct entry {
	_Atomic uint64_t ticket;
	_Atomic uint64_t inc;		/* its owner's incarnation: a
					 * respawned responder may reuse
					 * the index, and even the pid */
	_Atomic int32_t	 proc;		/* index in pid[] */
	_Atomic int32_t	 pid;		/* its owner's, for /status */
	_Atomic uint32_t state;		/* also the futex word */
	_Atomic uint32_t durable;	/* a stored job's */
};

/* Who a ticket is, for board_stats_queue: written once by
 * board_enter, read under the mutex. Kept apart from the ring, which
 * advance() walks at every handoff: a ring entry stays 32 bytes, 2 to
 * a cache line. */
struct arrival {
	double		 arrived;	/* mono s */
	double		 orphaned;	/* mono s its owner was found dead,
					 * for an ORPHAN; else 0 */
	char		 id[BOARD_ID_LEN];	/* NUL-padded; no NUL
						 * when full */
};

struct holder {
	_Atomic uint64_t ticket;
	_Atomic uint64_t inc;		/* as in struct entry */
	_Atomic int32_t	 proc, pid;
	_Atomic int32_t	 active;
	_Atomic double	 since;		/* start of work */
};

struct shared {
	uint64_t	 magic;
	uint64_t	 gen;		/* random, per board file */
	pthread_mutex_t	 mutex;		/* robust, process-shared */
	uint64_t	 next;		/* next ticket to hand out */
	uint64_t	 head;		/* oldest unfinished ticket */
	_Atomic uint64_t served, skipped, rejected;
	_Atomic uint64_t hist[BOARD_BUCKETS];
	_Atomic uint64_t wait_count, wait_ns;
	_Atomic int32_t	 engine;	/* as board_stats: 1, 0, or 0 for
					 * none (stored plus one) */
	_Atomic uint64_t fence, lock_lost, engine_errors;
	_Atomic uint64_t jobs;		/* jobs queued here, ever */
	/* How programs' works ended (work.h's enum work_end), and how
	 * the programs exited: 0, another status, a signal. */
	_Atomic uint64_t work_ends[BOARD_WORK_ENDS];
	_Atomic uint64_t exits[3];
	/* The last works' lengths, in us, for estimates (a median). */
	_Atomic uint32_t recent[BOARD_RECENT];
	_Atomic uint32_t recent_n;
	_Atomic int32_t	 first_slot;	/* the janitor's first round: 0 not
					 * begun, slot + 1 at it, -1 done */
	_Atomic uint64_t first_inc;
	_Atomic int32_t	 pid[BOARD_PROCS];
	_Atomic uint64_t inc[BOARD_PROCS];	/* each entry's incarnation */
	struct holder	 holder[2];	/* the current one, and the one
					 * finishing during a handoff */
	struct entry	 ring[BOARD_RING];
	struct arrival	 arrival[BOARD_RING];	/* by ticket, as ring */
	/* The job store as its last user found it (board_stats_store),
	 * apart from the ring. */
	_Atomic int32_t	 store_state;
	_Atomic uint64_t store_failures;
};

/* The mapping and this process's entry in it. */
struct board_shm {
	struct shared	*s;		/* NULL before board_shm_open */
	int		 fd;
	int		 me;		/* our index in pid[], or -1 */
	uint64_t	 inc;		/* our incarnation */
	const char	*path;
};

extern struct board_shm board_shm;

/*
 * board_shm_open: open the scoreboard file at path (created 0600, never
 * through a symlink), map it, start it anew if it is new or left by
 * responders all gone, and claim an entry, holding an OFD lock
 * (fcntl(2) F_OFD_SETLK) on its byte for as long as this process
 * lives. The file is fully allocated first (posix_fallocate(3)), so
 * that no page of the mapping can fault on a full disk. Returns 0, or
 * -1 with errno set (ENOSPC or EDQUOT: no room for the file; EUSERS:
 * BOARD_PROCS processes are alive already). board_shm_close: leave
 * and unmap.
 */
int board_shm_open(const char *path);
void board_shm_close(void);

/* board_shm_lock, board_shm_unlock: the file's robust mutex (a holder
 * that died leaves plain counters: the mutex is made consistent). */
void board_shm_lock(void);
void board_shm_unlock(void);

/* board_shm_wake: wake one waiter on the futex word w (futex(2)). */
void board_shm_wake(_Atomic uint32_t *w);

/*
 * board_shm_alive: is responder entry i alive (its OFD lock held)?
 * seen caches the answers of one pass (BOARD_PROCS bytes, zeroed).
 * board_shm_owner_alive: and is it still incarnation inc (incarnation.h:
 * a new process in the entry, even with the same pid, is another)?
 * Return 1 or 0.
 */
int board_shm_alive(int i, signed char *seen);
int board_shm_owner_alive(int i, uint64_t inc, signed char *seen);

/* board_shm_live_state: e's state, a waiter whose process died made
 * GONE (or ORPHAN, for a stored job's, with the time it was found)
 * first. With the mutex held. */
int board_shm_live_state(struct entry *e, signed char *seen);

/* board_shm_advance: with the mutex held, drop finished and dead
 * entries at the head, and let the first waiter queue in flock(2),
 * right behind the holder. An ORPHAN at the head that nobody adopted
 * within BOARD_ORPHAN_GRACE (the job store cannot be read) is passed
 * over: its job gets a new ticket once the store answers. */
void board_shm_advance(void);

/* board_shm_replaced: is the file at the board's path no longer the one
 * this process mapped (deleted, or another put in its place)? Returns
 * 1 or 0. */
int board_shm_replaced(void);

#endif
