/* turn.c - one request's turn at work(). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "turn.h"

int
turn_enter(struct turn *t, const char *id, int durable)
{
	t->held = t->begun = 0;
	t->t1 = t->t2 = 0;
	t->token = 0;
	t->error = 0;
	return board_enter(id, &t->t0, &t->ticket, &t->ahead, durable);
}

int
turn_wait(struct turn *t, struct lock *l, int cancel_fd,
    const _Atomic int *rewait)
{
	if (board_wait_turn(t->ticket, rewait) == -1)
		return -1;
	if (lock_acquire(l, cancel_fd) == -1) {
		t->error = errno;
		if (errno == ENOTCONN || errno == EIO)
			board_stats_engine(0);
		errno = t->error;
		return -1;
	}
	t->t1 = clock_now();
	t->held = 1;
	if ((t->token = l->token) != 0) {
		board_stats_engine(1);
		board_stats_fence(t->token);
	}
	return 0;
}

int
turn_try(struct turn *t, struct lock *l)
{
	if (!board_turn_now(t->ticket) || lock_try(l) == -1) {
		errno = EWOULDBLOCK;
		return -1;
	}
	t->held = 1;
	turn_begin(t);
	return 0;
}

void
turn_begin(struct turn *t)
{
	if (t->t1 == 0)
		t->t1 = clock_now();
	t->begun = 1;
	board_holding(t->ticket, t->t1);
	board_stats_wait(t->t1 - t->t0);
}

int
turn_release(struct turn *t, struct lock *l)
{
	int rc;

	if (!t->held || l == NULL)
		return 0;
	rc = lock_release(l);
	t->held = 0;
	if (rc == -1)
		board_stats_lock_lost();
	return rc;
}

void
turn_end(struct turn *t, struct lock *l, enum turn_outcome how)
{
	(void)turn_release(t, l);
	board_finish(t->ticket, how == TURN_SERVED ? BOARD_SERVED :
	    how == TURN_SKIPPED ? BOARD_SKIPPED : BOARD_FAILED);
}
