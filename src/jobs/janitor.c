/*
 * janitor.c - jobs whose responder died, found through the kernel: each
 * responder holds an OFD lock on its scoreboard entry for as long as it
 * lives (board.c), so "its owner is dead" is a fact, not a timeout.
 * No lease can expire early (a duplicate) or late (a stuck job):
 *   - running, owner dead: failed "interrupted", never run again;
 *   - queued, owner dead: adopted, in its place in the queue when the
 *     scoreboard still holds its ticket (an orphan), else with a new
 *     ticket, in submission order; it runs once;
 *   - an orphan ticket with no stored job (its owner died before the
 *     store had it): abandoned, so the queue goes on.
 * Also: finished jobs past retention are forgotten, and callbacks that
 * are due are handed to deliver.c. While no job is about, the round
 * does nothing and the store is let go.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "deliver.h"
#include "janitor.h"
#include "jobrun.h"
#include "jobs.h"
#include "log.h"
#include "incarnation.h"
#include "loop.h"
#include "turn.h"

#define BATCH		256	/* jobs looked at per kind and round */
#define ORPHANS		64	/* orphan tickets per round */
#define PURGE_EVERY	10.0	/* s between retention sweeps */
#define IDLE_AFTER	10.0	/* s after the last job request */
#define STALE_DELIVERY	120.0	/* s: another node's delivery is lost */
#define SCAN_EVERY	10.0	/* s between looks at every job, at most */
#define ADOPT_GRACE	3.0	/* s a queued orphan being adopted may hold
				 * the queue (board_orphan_grace) */
#define RESTART_EVERY	1.0	/* s between parkings of jobs whose start
				 * the store refused */

static struct {
	struct loop_timer tick;		/* the next round */
	int		 stopped;
	int		 started;	/* a round was made */
	int		 active;	/* the last round found a job about */
	int		 active_error;	/* the last round failed */
	uint64_t	 seen;		/* board_jobs() at the last round */
	double		 next_purge, quiet_until;	/* mono s */
	/* The queued and running jobs are looked at when something may
	 * have happened to them (a responder died or came, a job could
	 * not be parked, the store failed), and every SCAN_EVERY anyway:
	 * a scan decodes every row, and a round every quarter second in
	 * every responder must stay cheap. */
	int		 rescan, scan_found;
	uint64_t	 live_sig;
	double		 next_scan;	/* mono s */
	double		 next_restart;	/* mono s */
} jan = { .rescan = 1 };

/* What a round gathers: jobs of this node, as rows first, so the store
 * is not written while a query is still open. */
struct batch {
	struct job	*j;
	size_t		 n;
};

static int
gather(void *arg, const struct job *j)
{
	struct batch *b = arg;

	if (b->n == BATCH)
		return 1;
	b->j[b->n++] = *j;
	return 0;
}

/* A job's owner is the incarnation in its gen (incarnation.h), with its
 * pid. Is it this process? */
static int
is_mine(const struct job *j)
{
	return strcmp(j->node, jobs.node) == 0 &&
	    j->gen == incarnation_self();
}

/* Is j's owner, a responder of this node, alive? It is dead only when
 * the kernel says so (the process with its pid is another, or none);
 * when proc(5) cannot tell, it lives. Never judged from a board's
 * generation or a slot: two boards of one node, for a moment after one
 * was replaced, each hold live responders. */
static int
owner_alive(const struct job *j)
{
	return incarnation_alive(j->owner_pid, j->gen) != 0;
}

/* j is running by the store, and nobody works it: its responder died,
 * or (alive) lost the end of it. Returns -1 on a store error. */
static int
interrupt(const struct job *j, int owner_died)
{
	const char *why = owner_died ? "the responder running it died: "
	    "work() may have run, fully or in part; it is not run again" :
	    "its start was stored, but its end is not known: work() may "
	    "have run, fully or in part; it is not run again";

	switch (store_interrupt(j, clock_wall(), why)) {
	case 1:
		log_warn("job=%s failed: interrupted (%s pid %ld)", j->id,
		    owner_died ? "died: responder" : "end unknown: responder",
		    j->owner_pid);
		jobs_kick();	/* its callback is due */
		return 0;
	case -1:
		return -1;
	}
	return 0;
}

/* j as this process holds it once adopted with ticket. */
static struct job *
as_mine(const struct job *j, uint64_t ticket)
{
	static struct job mine;

	mine = *j;
	board_self(&mine.owner_slot, &mine.owner_pid);
	mine.gen = incarnation_self();
	mine.ticket = ticket;
	return &mine;
}

/* When j arrived, on this boot's monotonic clock: its own stamp if it
 * is from this boot (it then falls, on the wall clock, where its
 * created_at says), else from created_at (a stamp of another boot means
 * nothing), never after now. */
static double
arrival(const struct job *j, double now)
{
	double t0 = fabs(clock_wall_at(j->arrived_mono) - j->created) < 1 ?
	    j->arrived_mono : now - (clock_wall() - j->created);

	return t0 > 0 && t0 <= now ? t0 : now;
}

/* Park j here with a new ticket: after a restart, or when its old one
 * is gone. Its wait still counts from its first arrival. */
static void
renew(const struct job *j)
{
	struct turn t = { 0 };
	int slot;
	long pid;

	board_self(&slot, &pid);
	if (turn_enter(&t, NULL, 1) == -1)
		return;		/* the queue is full: next round */
	if (store_adopt(j, jobs.node, incarnation_self(), t.ticket, slot,
	    pid) != 1) {
		board_finish(t.ticket, BOARD_FAILED);
		return;
	}
	t.t0 = arrival(j, t.t0);
	if (jobrun_park(as_mine(j, t.ticket), t.ticket, t.t0) == -1) {
		board_finish(t.ticket, BOARD_FAILED);	/* next round */
		janitor_rescan();
		return;
	}
	log_msg("job=%s adopted with ticket %llu (was %llu, pid %ld)",
	    j->id, (unsigned long long)t.ticket,
	    (unsigned long long)j->ticket, j->owner_pid);
}

/* A queued job whose owner died: adopt it in its place if its ticket is
 * still an orphan on this board, else with a new one. */
static void
adopt(const struct job *j)
{
	int slot;
	long pid;

	board_self(&slot, &pid);
	switch (store_adopt(j, jobs.node, incarnation_self(), j->ticket,
	    slot, pid)) {
	case 1:
		break;
	case 0:
		return;		/* another responder was quicker */
	default:		/* the queue goes on; adopted later */
		(void)board_orphan_grace(j->ticket, j->gen, 0);
		return;
	}
	/* Its ticket, if this board holds it for its dead owner still;
	 * else (another board's, or passed over) a new one. */
	if (board_adopt(j->ticket, j->gen) == -1) {
		struct job now_mine = *as_mine(j, j->ticket);

		renew(&now_mine);
		return;
	}
	if (jobrun_park(as_mine(j, j->ticket), j->ticket,
	    j->arrived_mono) == -1) {
		board_finish(j->ticket, BOARD_FAILED);	/* renewed later */
		janitor_rescan();
		return;
	}
	log_msg("job=%s adopted in its place (ticket %llu) from dead "
	    "responder pid %ld", j->id, (unsigned long long)j->ticket,
	    j->owner_pid);
}

/* Orphan tickets that no queued job of this board holds, each looked
 * up alone: a ticket is abandoned only when the store says so. Returns
 * -1 on a store error. */
static int
abandon(void)
{
	uint64_t t[ORPHANS], inc[ORPHANS];
	size_t n, i;
	int rc;

	n = board_orphans(t, inc, ORPHANS);
	for (i = 0; i < n; i++) {
		if ((rc = store_queued_ticket(jobs.node, inc[i], t[i])) == -1)
			return -1;
		if (rc == 1)
			jan.rescan = 1;	/* a job to adopt: look at them all */
		else if (board_abandon(t[i]))
			log_warn("janitor: ticket %llu abandoned: its "
			    "responder died before its job was stored",
			    (unsigned long long)t[i]);
	}
	return 0;
}

static int
running(struct batch *b, const char *node)
{
	size_t i;
	int dead;

	b->n = 0;
	if (store_scan(node, JOB_RUNNING, gather, b) == -1)
		return -1;
	for (i = 0; i < b->n; i++) {
		dead = !owner_alive(&b->j[i]);
		if ((dead || (is_mine(&b->j[i]) &&
		    !jobrun_has(b->j[i].id))) &&
		    interrupt(&b->j[i], dead) == -1)
			return -1;
	}
	jan.active |= b->n > 0;
	return 0;
}

/* Is j's owner a live responder of this node that serves another
 * board (the board file was replaced: it stops itself within a second,
 * or at its turn, and its jobs are then adopted here)? */
static int
elsewhere(const struct job *j)
{
	return owner_alive(j) && !board_owner_here(j->owner_slot, j->gen);
}

/*
 * Queued jobs whose owner died (or that this process lost) are taken
 * in submission order, each behind the ones before it: a job adopted
 * with a new ticket goes to the back of the queue, so none is while an
 * earlier one waits with a live owner on another board; they are
 * taken together once that owner has stopped. A process whose own
 * board was replaced takes none: it is about to stop, and what it took
 * would be adopted again.
 */
static int
queued(struct batch *b, const char *node)
{
	unsigned char dead[BATCH];	/* its owner died */
	size_t i;
	int behind = 0;

	b->n = 0;
	if (store_scan(node, JOB_QUEUED, gather, b) == -1)
		return -1;
	jan.active |= b->n > 0;
	if (board_replaced())
		return 0;
	/* Judged: each orphan holds its place while it is adopted, one
	 * write after another. */
	for (i = 0; i < b->n; i++) {
		dead[i] = !is_mine(&b->j[i]) && !owner_alive(&b->j[i]);
		if (dead[i])
			(void)board_orphan_grace(b->j[i].ticket, b->j[i].gen,
			    ADOPT_GRACE);
	}
	for (i = 0; i < b->n && !behind; i++) {
		if (is_mine(&b->j[i]) && !jobrun_has(b->j[i].id))
			renew(&b->j[i]);	/* lost here: park again */
		else if (dead[i])
			adopt(&b->j[i]);
		else if (elsewhere(&b->j[i]))
			behind = 1;
	}
	if (behind)
		jan.rescan = 1;	/* again next round, until it stopped */
	return 0;
}

/* Is the deliverer of j's callback alive? Another node's is trusted
 * until its attempt is long overdue. */
static int
deliverer_alive(const struct job *j)
{
	if (strcmp(j->cb_node, jobs.node) != 0)
		return clock_wall() - j->cb_next_at < STALE_DELIVERY;
	if (j->cb_gen == incarnation_self())
		return deliver_has(j->id);
	return incarnation_alive(j->cb_pid, j->cb_gen) != 0;
}

static int
callbacks(struct batch *b)
{
	size_t i;
	int slot;
	long pid;

	b->n = 0;
	if (store_due(BATCH, gather, b) == -1)
		return -1;
	board_self(&slot, &pid);
	for (i = 0; i < b->n; i++) {
		struct job *j = &b->j[i];
		int delivering = strcmp(j->cb_state, "delivering") == 0;

		jan.active = 1;
		if (delivering ? deliverer_alive(j) :
		    j->cb_next_at > clock_wall())
			continue;
		if (store_cb_claim(j, jobs.node, incarnation_self(), slot,
		    pid, clock_wall()) != 1)
			continue;
		snprintf(j->cb_node, sizeof(j->cb_node), "%s", jobs.node);
		j->cb_gen = incarnation_self();
		j->cb_slot = slot;
		j->cb_pid = pid;
		deliver_start(j);
	}
	return 0;
}

/* Which responders live, as one number: it moves when one dies or
 * a new one comes (board_stats_pids lists them in the board's order). */
static uint64_t
live_signature(void)
{
	long pids[BOARD_PROCS], n, i;
	uint64_t sig;

	n = board_stats_pids(pids, BOARD_PROCS);
	for (sig = (uint64_t)n, i = 0; i < n; i++)
		sig = sig * 1000003u ^ (uint64_t)pids[i];
	return sig;
}

/* The jobs of this node, queued and running, if it is time. Returns -1
 * on a store error. */
static int
scan(struct batch *b, double now)
{
	uint64_t sig = live_signature();

	if (!jan.rescan && sig == jan.live_sig && now < jan.next_scan) {
		jan.active |= jan.scan_found;
		return 0;
	}
	/* This node's jobs, and those a store written before 0.5 holds
	 * under the node's old name (adopted under the new one). */
	if (running(b, jobs.node) == -1 || queued(b, jobs.node) == -1 ||
	    running(b, jobs.legacy) == -1 || queued(b, jobs.legacy) == -1) {
		jan.rescan = 1;
		return -1;
	}
	jan.scan_found = jan.active;
	jan.live_sig = sig;
	jan.rescan = 0;
	jan.next_scan = now + SCAN_EVERY;
	return 0;
}

void
janitor_rescan(void)
{
	jan.rescan = 1;
}

/* One round. */
static void
round_once(double now)
{
	static struct job rows[BATCH];
	struct batch b = { rows, 0 };

	jan.active = jan.active_error = 0;
	/* A store that fails keeps the janitor looking, and nothing is
	 * judged from a read that did not happen. */
	if (jobrun_retry() > 0 || scan(&b, now) == -1 || abandon() == -1 ||
	    callbacks(&b) == -1) {
		jan.active = jan.active_error = 1;
		if (now >= jan.quiet_until) {	/* once in 10 s */
			log_err("janitor: job store: %s", store_error());
			jan.quiet_until = now + 10;
		}
		return;
	}
	if (now >= jan.next_purge) {
		jan.next_purge = now + PURGE_EVERY;
		if (store_purge(clock_wall() - jobs.retention) == -1)
			log_err("janitor: job store: %s", store_error());
	}
}

/* One round, if a job may be about; the next in JANITOR_TICK. */
static void
tick(struct loop_timer *t, double now)
{
	uint64_t orphan, orphan_inc, bump;
	int first, kicked;

	if (jan.stopped)
		return;
	loop_timer_set(t, now + JANITOR_TICK, tick, NULL);
	bump = board_jobs();
	kicked = jobs_kicked() | jobs_restart_asked();
	/* Jobs whose start the store refused (jobrun.c) are parked again
	 * by the next scan, at most once a second. */
	if (now >= jan.next_restart && jobs_restart_take()) {
		jan.rescan = 1;
		jan.next_restart = now + RESTART_EVERY;
	}
	/* One responder makes the first round (jobs an earlier start left);
	 * the others wait for a job to be about. */
	first = !jan.started && board_first_round();
	if (!first && !jan.active && !kicked && bump == jan.seen &&
	    now - jobs.last_use > IDLE_AFTER && !deliver_busy() &&
	    board_orphans(&orphan, &orphan_inc, 1) == 0) {
		jan.started = 1;
		store_close();	/* no job about: let the store go */
		return;
	}
	jan.started = 1;
	jan.seen = bump;
	if (first && store_blank()) {	/* a new store: nothing was left */
		board_first_done();
		return;
	}
	round_once(now);
	if (first && !jan.active_error)
		board_first_done();
}

void
janitor_start(void)
{
	if (jobs.on)
		loop_timer_set(&jan.tick, clock_now(), tick, NULL);
}

void
janitor_stop(void)
{
	jan.stopped = 1;
	loop_timer_set(&jan.tick, 0, NULL, NULL);
	deliver_stop();
}
