/* turn.c - one request's turn at work(). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "log.h"
#include "parse.h"
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

/* A fencing token must rise: one not above the highest granted on this
 * board means the engine's sequence went back (a failover to a replica
 * that had not seen the last values, an operator's setval): a resource
 * that checks tokens would take a stale holder's writes. The lock is
 * let go and the turn fails, saying so. Returns 0, or -1 with errno
 * ERANGE and t->error. */
static int
refuse_token(struct turn *t, struct lock *l)
{
	uint64_t before;

	if (board_stats_fence(t->token, &before) == 0)
		return 0;
	snprintf(l->error, sizeof(l->error), "fencing token %llu after "
	    "%llu: the sequence went back (SELECT setval past %llu)",
	    (unsigned long long)t->token, (unsigned long long)before,
	    (unsigned long long)before);
	(void)lock_release(l);
	t->held = 0;
	t->error = errno = ERANGE;
	return -1;
}

#ifdef SERIALCGI_TEST_HOOKS
/* Tests only (make serialcgi-hooks): hold the turn between the lock's
 * grant and the board's mark for SERIALCGI_TEST_GRANT_DELAY seconds,
 * the window a holder's death there must not stall anyone for. */
static void
test_hook_granted(const struct turn *t)
{
	const char *s = getenv("SERIALCGI_TEST_GRANT_DELAY");
	double d;

	if (s == NULL || parse_seconds(s, &d) == -1)
		return;
	log_msg("test hook: ticket %llu granted the lock; marking it in "
	    "%.3f s", (unsigned long long)t->ticket, d);
	(void)clock_sleep_until(clock_now() + d);
}
#else
#define test_hook_granted(t)	((void)(t))
#endif

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
		if (refuse_token(t, l) == -1)
			return -1;
	}
	test_hook_granted(t);
	/* The holder now, before anything else is done (a job's durable
	 * start among them): the next ticket queues in the lock behind
	 * us at once, and learns of our death from the kernel. */
	turn_begin(t);
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
	t->begun = board_holding(t->ticket, t->t1);
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
