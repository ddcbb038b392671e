/* board.h - the scoreboard all responders share: arrival tickets for
 * fair order, the lock holder and the waiters. Its figures are in
 * board_stats.h; its file and primitives in board_shm.h. */
#ifndef SERIALCGI_BOARD_H
#define SERIALCGI_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "board_shm.h"	/* BOARD_PROCS, BOARD_RING, ... */


enum board_outcome { BOARD_SERVED, BOARD_SKIPPED, BOARD_FAILED };

/*
 * board_open: map the scoreboard file (created 0600 and initialized if
 * new; checked like the lock file by the caller) and register this
 * process in it, holding an OFD lock (fcntl(2) F_OFD_SETLK) on its
 * entry so others can tell when it dies. The file is fully allocated
 * when made, so its mapping never faults on a full disk. Returns 0, or
 * -1 with errno set (ENOSPC or EDQUOT: no room for the file; EUSERS:
 * BOARD_PROCS processes are alive already).
 */
int board_open(const char *path);

/* board_close: leave the table and unmap. */
void board_close(void);

/*
 * board_replaced: is the file at the board's path no longer the one
 * this process uses (deleted, or another made in its place, by a
 * responder started meanwhile)? Then its tickets and the new board's
 * are two queues: a responder that finds so restarts, as it does for a
 * replaced lock file, so that every responder of a host serves one
 * board. Returns 1 or 0.
 */
int board_replaced(void);

/*
 * board_enter: take the next arrival ticket for request id (a string,
 * kept up to BOARD_ID_LEN bytes for board_stats_queue; NULL for none).
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

/* board_holding: the request holds the lock from `now` (mono s): it is
 * the holder, and the next ticket may queue in flock(2) behind it.
 * Returns 1, or 0 if the ticket was finished meanwhile (its client
 * left, its job was canceled): then it is no holder. */
int board_holding(uint64_t ticket, double now);

/* board_finish: the request is done with the queue (served, skipped
 * or failed); counts it and passes the turn on. A ticket already
 * finished (board_cancel) is not counted twice. */
void board_finish(uint64_t ticket, enum board_outcome how);

/*
 * board_cancel: finish a waiting ticket, owned by incarnation inc, from
 * any process (a job canceled through another responder), counted as
 * skipped; its owner's runner sees ECANCELED in board_wait_turn.
 * Returns 1 if it was waiting, 0 if not (already holding or finished,
 * or not inc's).
 */
int board_cancel(uint64_t ticket, uint64_t inc);

/* board_gen: this board's generation, random, new with every board
 * file, for /status to tell two starts apart. A ticket is known by its
 * number and its owner's incarnation together (board_adopt,
 * board_position): a number alone may be another board's. */
uint64_t board_gen(void);

/* board_self: this process's entry in the table and its pid, as stored
 * with its tickets (and its incarnation: incarnation_self()). */
void board_self(int *slot, long *pid);

/* board_owner_here: is incarnation inc the live responder in entry
 * slot of this board? 0 for a live process of another board (the file
 * was replaced: it stops itself soon) as for a dead one. */
int board_owner_here(int slot, uint64_t inc);

/*
 * board_adopt: take over ticket, a durable one whose owner, incarnation
 * inc, died (an orphan), keeping its place in the queue. Returns 0, or
 * -1 with errno ESRCH if it is no orphan of inc's to take (finished,
 * passed over, adopted by another, another board's ticket, or its
 * owner lives).
 */
int board_adopt(uint64_t ticket, uint64_t inc);

/*
 * board_orphan_grace: the orphan ticket of incarnation inc may hold the
 * queue seconds more from now, then it is passed over. For a janitor
 * that found its job in the store and adopts it (a write that a busy
 * disk may hold longer than BOARD_ORPHAN_GRACE, which is for orphans
 * nobody could judge: the store unreadable); 0 when that adoption
 * failed. Returns 1 if it was that orphan, 0 if not.
 */
int board_orphan_grace(uint64_t ticket, uint64_t inc, double seconds);

/* board_abandon: finish an orphan ticket that nobody can adopt (no
 * stored job holds it: its owner died before the store did), counted
 * as failed. Returns 1 if it was an orphan, 0 if not. */
int board_abandon(uint64_t ticket);

/* board_orphans: up to max orphan tickets, oldest first, into out,
 * and their dead owners' incarnations into inc. Returns how many. */
size_t board_orphans(uint64_t *out, uint64_t *inc, size_t max);

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

/* board_position: how many turns come before ticket, owned by
 * incarnation inc (waiting ones, and the work in progress): 0 once its
 * turn has come; -1 if this board does not know it (another board's,
 * or long gone). */
long board_position(uint64_t ticket, uint64_t inc);

#endif
