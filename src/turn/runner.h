/*
 * runner.h - the turn runner: one thread per responder process, the
 * only one that ever waits on the lock. It takes the process's earliest
 * ticket, waits for its turn and the lock, runs work(), lets go, and
 * has the source answer. The event loop parks sources here.
 */
#ifndef SERIALCGI_RUNNER_H
#define SERIALCGI_RUNNER_H

#include "lock.h"
#include "settings.h"
#include "source.h"

/*
 * runner_start: start the runner thread for lock l (opened by the
 * caller, used by the runner only). Returns 0, or -1 with errno set
 * (EAGAIN: a thread limit such as RLIMIT_NPROC, pthread_create(3)).
 */
int runner_start(const struct config *cfg, struct lock *l);

/* runner_park: queue s, whose turn_enter() succeeded (or whose ticket
 * this process adopted: board_adopt), in ticket order. Returns 1 if the
 * process had nothing queued or in work before. */
int runner_park(struct source *s);

/*
 * runner_leave: s's requester left. A parked s leaves the queue and its
 * ticket is finished as skipped at once (the next ticket moves up, and
 * /status counts it); returns 1: the caller owns s again. A working s
 * is only marked gone; returns 0: the runner will finish it.
 */
int runner_leave(struct source *s);

/*
 * runner_drain: stop for good: no work begins from now on. The parked
 * sources leave the queue, their tickets finished as failed, and are
 * returned as a list (through ->next) for the caller to answer.
 * *working is set to 1 while a work is still in progress; it ends with
 * its source's finish().
 */
struct source *runner_drain(int *working);

/* runner_working: is a work in progress? Returns 1 or 0. */
int runner_working(void);

/* runner_work: what s's work was and gave, for its answer(): the
 * runner's struct work while s has it, else one that never began (all
 * zero: end WORK_DONE, no answer). Never NULL. */
const struct work *runner_work(const struct source *s);

/* runner_count_work: count, for /metrics (board_stats_work), how the
 * work of a program or an upstream ended for source s, whose turn had
 * outcome how: its end if it began, else as never begun. For the
 * sources that run one (their answer()). */
void runner_count_work(const struct source *s, enum turn_outcome how);

#endif
