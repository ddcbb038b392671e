/*
 * serialcgi - a FastCGI responder that runs one work() at a time across
 * every process (and, with a shared engine, every host) sharing its
 * lock.
 *
 * main.c: settings, checks, then the event loop and the turn runner.
 *
 *   loop thread (fcgi.c)          runner thread (runner.c)
 *   accept, read, check records   wait for the earliest ticket
 *   stamp arrival, take a ticket  acquire the lock (lock.h)
 *   park --------- queue -------> work(), release
 *   answer /status, 404, 503      answer 200, hand back ---> close
 */
#define _GNU_SOURCE	/* prctl, mallopt */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>

#include "board.h"
#include "deliver.h"
#include "fcgi.h"
#include "http.h"
#include "janitor.h"
#include "jobs.h"
#include "jobs_submit.h"
#include "lock.h"
#include "lock_flock.h"
#include "lock_pg.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "pq.h"
#include "runner.h"
#include "settings.h"
#include "signals.h"
#include "work_cgi.h"
#include "work_http.h"
#include "work_upstream.h"
#include "worklog.h"

static struct config cfg;

/* fd 0 must be a listening socket (SO_ACCEPTCONN, socket(7)). */
static int
is_listener(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1)
		return -1;
	if (!on) {
		errno = ENOTSOCK;
		return -1;
	}
	return 0;
}

/* Refuse what can never work, with exit status 2: multiwatch and
 * systemd (RestartPreventExitStatus=2) then stop retrying. */
static void
check_environment(void)
{
	char why[128];

	if (geteuid() == 0)
		errx(2, "refusing to run as root: drop privileges with "
		    "spawn-fcgi -u/-g");
	if (is_listener(FCGI_LISTENSOCK_FILENO) == -1)
		err(2, "fd 0 is not a listening socket (start serialcgi "
		    "through spawn-fcgi)");
	if (lock_check(cfg.lock_path, why, sizeof(why)) == -1)
		errx(2, "lock file %s: %s", cfg.lock_path, why);
	if (lock_check(cfg.board_path, why, sizeof(why)) == -1)
		errx(2, "board file %s: %s", cfg.board_path, why);
}

/* Settings that are good alone but not together, or a program that
 * may not be the work: exit status 2. */
static void
check_together(void)
{
	char why[320];

	if (cfg.work_command != NULL &&
	    work_cgi_check(cfg.work_command, why, sizeof(why)) == -1)
		errx(2, "WORK_COMMAND: %s", why);
	if (cfg.work_command != NULL && cfg.work_url != NULL)
		errx(2, "WORK_COMMAND and WORK_URL: the work is one or the "
		    "other");
	/* libcurl is loaded now, before any thread: it checks the URL. */
	if (cfg.work_url != NULL &&
	    work_upstream_check(cfg.work_url, why, sizeof(why)) == -1)
		errx(2, "WORK_URL: %s", why);
	if (cfg.work_ca_file != NULL && access(cfg.work_ca_file, R_OK) ==
	    -1)
		errx(2, "WORK_CA_FILE: %s: %s", cfg.work_ca_file,
		    strerror(errno));
	/* The scoreboard holds every ticket: /test's waiters, nginx's
	 * bound, and the queued jobs, each with one. */
	if (cfg.queue + cfg.job_queue > BOARD_RING)
		errx(2, "QUEUE (%ld) plus JOB_QUEUE (%ld) is more than the "
		    "scoreboard's %d tickets", cfg.queue, cfg.job_queue,
		    BOARD_RING);
}

/*
 * The lock backend the settings ask for: flock alone, or with a lock
 * engine the cohort lock, whose libpq is loaded now and which checks
 * the URL's form (PQconninfoParse) without connecting: an engine down
 * at start is no reason to exit, as requests fail closed until it is
 * back. The URL is never printed: it may hold a password.
 */
static const struct lock_backend *
choose_backend(void)
{
	PQconninfoOption *opts;
	char why[256], *msg = NULL;

	if (cfg.lock_url == NULL)
		return &lock_flock;
	if (pq_load(why, sizeof(why)) == -1)
		errx(2, "LOCK_URL: %s (install libpq5)", why);
	if ((opts = pq.conninfoParse(cfg.lock_url, &msg)) == NULL) {
		snprintf(why, sizeof(why), "%s", msg ? msg : "out of memory");
		why[strcspn(why, "\n")] = '\0';
		errx(2, "LOCK_URL: %s", why);
	}
	pq.conninfoFree(opts);
	return &lock_pg;
}

/* The scoreboard could not be opened: say why in words an operator
 * acts on. A full disk is the likeliest (the file is fully allocated
 * when made: board.h). */
static void
board_failed(void)
{
	if (errno == ENOSPC || errno == EDQUOT)
		err(1, "board file %s: no room to allocate it on its file "
		    "system (free some space, or move the state directory)",
		    cfg.board_path);
	if (errno == EUSERS)
		errx(1, "board file %s: %d responders use it already",
		    cfg.board_path, BOARD_PROCS);
	err(1, "board file %s", cfg.board_path);
}

/* Small tunings; none is worth failing for. */
static void
tune(void)
{
	struct rlimit rl;
	/* A process may hold a thousand parked connections or more. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* One malloc arena for both threads (mallopt(3)). */
	(void)mallopt(M_ARENA_MAX, 1);
	/* The default 50 us timer slack would late every wake-up at a
	 * deadline, and so every handoff (prctl(2) PR_SET_TIMERSLACK). */
	if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) == -1)
		log_warn("prctl PR_SET_TIMERSLACK: %s", strerror(errno));
}

int
main(int argc, char *argv[])
{
	const struct lock_backend *be;
	struct lock lk = { 0 };
	char why[256];
	int sig, verdict;

	log_init();
	switch ((verdict = settings_load(argc, argv, &cfg, why,
	    sizeof(why)))) {
	case SETTINGS_BAD:
		errx(2, "%s", why);
	case SETTINGS_DONE:
		return 0;	/* --help, --version, --settings */
	default:
		break;
	}
	check_together();
	be = choose_backend();
	if (deliver_init(&cfg, why, sizeof(why)) == -1)
		errx(2, "%s", why);
	if (verdict == SETTINGS_CHECK)
		return 0;
	check_environment();
	if (cfg.worklog_path != NULL &&
	    (cfg.worklog_fd = worklog_open(cfg.worklog_path)) == -1)
		err(2, "work log %s", cfg.worklog_path);
	tune();
	http_init(&cfg, cfg.lock_url != NULL ? be->name : NULL);
	if (loop_init() == -1 || signals_init(&cfg) == -1 ||
	    fcgi_start(&cfg) == -1)
		err(1, "event loop (epoll, signalfd, eventfd)");
	jobs_submit_init(fcgi_went_busy);
	if (board_open(cfg.board_path) == -1)
		board_failed();
	if (lock_open(&lk, be, cfg.lock_path, cfg.lock_url, cfg.lock_key) ==
	    -1)
		err(1, "lock file %s", cfg.lock_path);
	/* An engine that answers, but whose fencing sequence would give
	 * tokens out of order, is a setting to fix: refused now. One that
	 * does not answer yet is no reason to exit (requests fail closed
	 * until it does). */
	if (cfg.lock_url != NULL && lock_connect(&lk) == -1 &&
	    errno == EPERM)
		errx(2, "LOCK_URL: %s", lk.error);
	if (jobs_init(&cfg, work_http_backend(), why, sizeof(why)) == -1)
		errx(2, "%s", why);
	janitor_start();
	/* The program's processes, all of them, are ours to see end
	 * (proctree.h). */
	if (cfg.work_command != NULL && work_cgi_init(cfg.work_command,
	    cfg.work_timeout, (size_t)cfg.work_output_max) == -1)
		err(1, "WORK_COMMAND %s: prctl PR_SET_CHILD_SUBREAPER",
		    cfg.work_command);
	if (cfg.work_url != NULL)
		work_upstream_init(cfg.work_url, cfg.work_ca_file,
		    cfg.work_timeout, (size_t)cfg.work_output_max);
	if (runner_start(&cfg, &lk) == -1)
		err(1, "pthread_create (turn runner)");
	log_msg("ready: event loop and turn runner, work %.3f s, lock %s %s%s",
	    cfg.work_seconds, lk.be->name, cfg.lock_path, cfg.lock_url ?
	    " and the engine's advisory lock" : "");
	/* A stop waits for the work in progress: one work at most (a
	 * program's WORK_TIMEOUT and its 2 s to die), and a margin. */
	notify_ready((cfg.work_command != NULL ? cfg.work_timeout +
	    WORK_CGI_GRACE : cfg.work_url != NULL ? cfg.work_timeout :
	    cfg.work_seconds) + 5);
	if ((sig = loop_run()) == -1)
		err(1, "epoll_wait");
	log_msg("stopped");
	/* The runner may still wait in the lock, or on the board: exit(3)
	 * ends it, and the kernel drops the lock, the board's OFD lock and
	 * the descriptors. Unmapping the board first could fault it. */
	return 0;
}
