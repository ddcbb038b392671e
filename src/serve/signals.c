/* signals.c - signals, through signalfd(2): see signals.h. */
#define _GNU_SOURCE	/* signalfd */

#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "board.h"
#include "clock.h"
#include "fcgi.h"
#include "janitor.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "runner.h"
#include "signals.h"
#include "worklog.h"

#define LOOK_AGAIN	0.02	/* s: is the work over yet? (a job's end
				 * wakes nothing in the loop) */
#define BOARD_EVERY	1.0	/* s between looks at the board file */

static struct {
	struct loop_fd	 ev;		/* the signalfd */
	struct loop_timer drain;	/* after the batch, then polling */
	int		 sig;		/* the stop's, or 0 */
	int		 drained;	/* fcgi_drain() was called */
	struct config	*cfg;		/* its work log, for SIGUSR1 */
	struct loop_timer board;	/* is the board file still ours? */
} st;

/* Until the work in progress is over; then loop_run returns sig. */
static void
on_drain(struct loop_timer *t, double now)
{
	if (!st.drained) {
		log_msg("stopping (signal %d): finishing work in progress",
		    st.sig);
		fcgi_drain();
		janitor_stop();
		st.drained = 1;
	}
	if (!runner_working()) {
		loop_stop(st.sig);
		return;
	}
	loop_timer_set(t, now + LOOK_AGAIN, on_drain, NULL);
}

/* The work log anew, under its name: logrotate moved the old one. */
static void
reopen(void)
{
	const struct config *cfg = st.cfg;

	if (cfg->worklog_path == NULL)
		return;
	if (worklog_reopen(cfg->worklog_path, cfg->worklog_fd) == -1)
		log_err("SIGUSR1: work log %s: %s", cfg->worklog_path,
		    strerror(errno));
	else
		log_msg("SIGUSR1: work log %s reopened", cfg->worklog_path);
}

static void
on_signal(struct loop_fd *e, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(e->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		reopen();
		return;
	}
	if (st.sig != 0)
		return;
	notify_stopping((pid_t)si.ssi_pid);
	st.sig = (int)si.ssi_signo;
	/* The drain after the batch: it frees connections that later
	 * events of this batch may still point at (loop.h). */
	loop_timer_set(&st.drain, clock_now(), on_drain, NULL);
}

/* A responder whose board file was replaced (deleted, and a respawned
 * responder made another) stops itself, as it would at its next turn,
 * so that an idle one does not hold its tickets on the old board. */
static void
on_board(struct loop_timer *t, double now)
{
	if (st.sig != 0)
		return;
	if (board_replaced()) {
		log_warn("board file %s was unlinked or replaced; stopping "
		    "this responder", st.cfg->board_path);
		kill(getpid(), SIGTERM);	/* multiwatch starts anew */
		return;
	}
	loop_timer_set(t, now + BOARD_EVERY, on_board, NULL);
}

int
signals_init(struct config *cfg)
{
	sigset_t set;
	int fd;

	st.cfg = cfg;
	/* A log or a work log whose reader is gone (a journal stream,
	 * a pipe) must fail the write, not kill the responder: writes
	 * that fail stop nothing (log.h). */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	if (loop_fd_add(&st.ev, fd, EPOLLIN, on_signal, NULL) == -1) {
		close(fd);
		return -1;
	}
	loop_timer_set(&st.board, clock_now() + BOARD_EVERY, on_board,
	    NULL);
	return 0;
}
