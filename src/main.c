/*
 * serialcgi - a FastCGI responder that runs one work() at a time across
 * every thread and process sharing its lock file.
 *
 * main.c: options, signals, the responder threads and their accept loop.
 */
#define _GNU_SOURCE	/* accept4 */

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "board.h"
#include "http.h"
#include "lock.h"
#include "log.h"
#include "parse.h"
#include "record.h"
#include "serialcgi.h"
#include "watch.h"
#include "work.h"

#define THREADS_MAX	480		/* 2 fds a thread stay < FD_SETSIZE,
					 * which libfcgi's select(2) needs */
#define STACK_SIZE	(64 * 1024)	/* bytes; the default is 8 MiB */

atomic_int stopping;
struct slot *slots;

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t kicked;	/* SIGUSR2 seen; what counts is
					 * the EINTR it causes */
static atomic_long alive;
static atomic_int failed;
static struct config cfg = {
	.work_seconds = 3.0,
	.threads = 64,
	.lock_path = "serialcgi.lock",
	.worklog_path = NULL,
	.worklog_fd = -1,
	.io_timeout = 10.0,
	.board_path = "serialcgi.board",
	.slow_wait = 0,
};

static const struct option longopts[] = {
	{ "work-seconds", required_argument, NULL, 'w' },
	{ "threads",      required_argument, NULL, 't' },
	{ "lock-file",    required_argument, NULL, 'l' },
	{ "work-log",     required_argument, NULL, 'L' },
	{ "io-timeout",   required_argument, NULL, 'i' },
	{ "board-file",   required_argument, NULL, 'b' },
	{ "slow-wait",    required_argument, NULL, 's' },
	{ "check",        no_argument,       NULL, 'c' },
	{ "help",         no_argument,       NULL, 'h' },
	{ "version",      no_argument,       NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Settings also read from the environment, as spawn-fcgi passes it. */
static const struct { int key; const char *env; } envopts[] = {
	{ 'w', "WORK_SECONDS" },
	{ 't', "THREADS" },
	{ 'l', "LOCK_FILE" },
	{ 'L', "WORK_LOG" },
	{ 'i', "IO_TIMEOUT" },
	{ 'b', "BOARD_FILE" },
	{ 's', "SLOW_WAIT" },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: serialcgi [-c] [-w seconds] [-t threads] [-l lock-file]\n"
	    "                 [-L work-log] [-i io-timeout] [-b board-file]"
	    " [-s slow-wait]\n"
	    "  -w, --work-seconds S  length of one work(), in (0, 3600];"
	    " default 3\n"
	    "  -t, --threads N       responder threads, 1 to %d;"
	    " default 64\n"
	    "  -l, --lock-file PATH  the lock shared by all responders;\n"
	    "                        default serialcgi.lock\n"
	    "  -L, --work-log PATH   append start/end of every work;"
	    " default off\n"
	    "  -i, --io-timeout S    to read a request or write an answer,\n"
	    "                        in (0, 3600]; default 10\n"
	    "  -b, --board-file PATH the scoreboard shared by all responders;\n"
	    "                        default serialcgi.board\n"
	    "  -s, --slow-wait S     log requests that waited longer, in"
	    " (0, 3600];\n                        default off\n"
	    "  -c, --check           check the settings and exit\n"
	    "Each option can also come from WORK_SECONDS, THREADS, LOCK_FILE,"
	    " WORK_LOG,\nIO_TIMEOUT, BOARD_FILE and SLOW_WAIT. The listening"
	    " socket is fd 0,\nas spawn-fcgi(1) passes it.\n", THREADS_MAX);
}

/* Apply one setting. Returns 0, or -1 with what was wanted in *want. */
static int
setting(int key, const char *val, const char **want)
{
	static char threads_want[48];

	switch (key) {
	case 'w':
		*want = "a number of seconds in (0, 3600]";
		return parse_seconds(val, &cfg.work_seconds);
	case 't':
		snprintf(threads_want, sizeof(threads_want),
		    "a whole number from 1 to %d", THREADS_MAX);
		*want = threads_want;
		return parse_count(val, 1, THREADS_MAX, &cfg.threads);
	case 'i':
		*want = "a number of seconds in (0, 3600]";
		return parse_seconds(val, &cfg.io_timeout);
	case 's':
		*want = "a number of seconds in (0, 3600]";
		return parse_seconds(val, &cfg.slow_wait);
	case 'b':
		*want = "a path";
		cfg.board_path = val;
		return *val == '\0' ? -1 : 0;
	case 'l':
		*want = "a path";
		cfg.lock_path = val;
		return *val == '\0' ? -1 : 0;
	default:
		*want = "a path";
		cfg.worklog_path = *val == '\0' ? NULL : val;
		return 0;
	}
}

/* The long name of option ch, for messages. */
static const char *
long_name(int ch)
{
	const struct option *o;

	for (o = longopts; o->name != NULL; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static void
on_kick(int sig)
{
	(void)sig;
	kicked = 1;
}

/* No SA_RESTART: a kicked thread must leave accept(2) or flock(2). */
static int
install(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/* fd 0 must be a listening socket (SO_ACCEPTCONN, socket(7)). */
static int
is_listener(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1)
		return -1;
	if (!on) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* libfcgi reads the request without a timeout; a peer that stops
 * mid-record would hold this thread forever. */
static void
set_timeouts(int fd)
{
	struct timeval tv;

	tv.tv_sec = (time_t)cfg.io_timeout;
	tv.tv_usec = (suseconds_t)((cfg.io_timeout - (double)tv.tv_sec) * 1e6);
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;		/* zero would mean no timeout */

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		logmsg("setsockopt SO_RCVTIMEO/SO_SNDTIMEO: %s",
		    strerror(errno));
}

static void
serve_connection(struct slot *s, int fd)
{
	const char *why;

	atomic_store(&s->state, SLOT_READING);
	set_timeouts(fd);
	if (record_check(fd, &why) == -1) {
		logmsg("bad FastCGI request (%s): connection closed", why);
		close(fd);
		return;
	}
	/* Hand our connection to libfcgi: with ipcFd set and the
	 * connection marked kept, FCGX_Accept_r reads the request from it
	 * instead of calling accept(2) itself (fcgiapp.c). On a bad
	 * request it closes fd and fails. */
	s->req.ipcFd = fd;
	s->req.keepConnection = 1;
	if (FCGX_Accept_r(&s->req) < 0) {
		logmsg("bad FastCGI request (libfcgi refused it): "
		    "connection closed");
		return;
	}
	/* A new seq: any cancel still meant for the last request no
	 * longer matches (cancel_key). */
	atomic_fetch_add(&s->seq, 1);
	atomic_store(&s->conn_fd, fd);
	(void)http_serve(s, &cfg);
	atomic_store(&s->conn_fd, -1);
	/* We never keep a connection (FCGI_KEEP_CONN): close it. */
	s->req.keepConnection = 0;
	FCGX_Finish_r(&s->req);
}

/* Returns 0 to accept again, -1 to give up on the listener. */
static int
accept_failed(int error)
{
	const struct timespec pause = { 0, 50 * 1000 * 1000 };

	switch (error) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
		return 0;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		logmsg("accept: %s; retrying", strerror(error));
		nanosleep(&pause, NULL);
		return 0;
	default:
		logmsg("accept: %s", strerror(error));
		return -1;
	}
}

static void *
responder(void *arg)
{
	struct slot *s = arg;
	int fd;

	FCGX_InitRequest(&s->req, -1, 0);
	while (!atomic_load(&stopping)) {
		atomic_store(&s->state, SLOT_IDLE);
		fd = accept4(FCGI_LISTENSOCK_FILENO, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1)
			serve_connection(s, fd);
		else if (accept_failed(errno) == -1) {
			atomic_store(&failed, 1);
			break;
		}
	}
	/* The last thread out wakes main(), stopping or not. */
	if (atomic_fetch_sub(&alive, 1) == 1 && !atomic_load(&stopping))
		kill(getpid(), SIGTERM);
	return NULL;
}

/* Wake threads blocked in accept(2) or flock(2) until all have left.
 * A kick can land just before the call blocks, so kick again. */
static void
drain_threads(struct slot *slots, long n)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	long i;

	while (atomic_load(&alive) > 0) {
		for (i = 0; i < n; i++) {
			int st = atomic_load(&slots[i].state);

			if (st == SLOT_WAITING)
				atomic_store(&slots[i].cancel, cancel_key(
				    atomic_load(&slots[i].seq)));
			if (st == SLOT_IDLE || st == SLOT_WAITING)
				pthread_kill(slots[i].tid, SIGUSR2);
		}
		nanosleep(&tick, NULL);
	}
}

static int
start_threads(struct slot *slots, long n, long *started)
{
	pthread_attr_t attr;
	int rc;

	if ((rc = pthread_attr_init(&attr)) != 0 ||
	    (rc = pthread_attr_setstacksize(&attr, STACK_SIZE)) != 0) {
		errno = rc;
		return -1;
	}
	for (*started = 0; *started < n; (*started)++) {
		atomic_fetch_add(&alive, 1);
		rc = pthread_create(&slots[*started].tid, &attr, responder,
		    &slots[*started]);
		if (rc != 0) {
			atomic_fetch_sub(&alive, 1);
			pthread_attr_destroy(&attr);
			errno = rc;
			return -1;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

int
main(int argc, char *argv[])
{
	char why[128];
	const char *val, *want;
	sigset_t stopset, waitmask;
	long i, opened = 0, started = 0;
	int ch, check = 0, rc = 1;
	size_t e;

	for (e = 0; e < sizeof(envopts) / sizeof(envopts[0]); e++)
		if ((val = getenv(envopts[e].env)) != NULL &&
		    setting(envopts[e].key, val, &want) == -1)
			errx(2, "%s: \"%s\" is not %s", envopts[e].env, val,
			    want);
	while ((ch = getopt_long(argc, argv, "w:t:l:L:i:b:s:chV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("serialcgi %s\n", SERIALCGI_VERSION);
			return 0;
		case '?':
			usage(stderr);
			return 2;
		default:
			if (setting(ch, optarg, &want) == -1)
				errx(2, "--%s: \"%s\" is not %s",
				    long_name(ch), optarg, want);
		}
	}
	if (optind != argc)
		errx(2, "unexpected argument \"%s\"", argv[optind]);
	if (check)
		return 0;
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
	if (cfg.worklog_path != NULL &&
	    (cfg.worklog_fd = worklog_open(cfg.worklog_path)) == -1)
		err(2, "work log %s", cfg.worklog_path);

	if (FCGX_Init() != 0) {
		warnx("FCGX_Init failed");
		goto out;
	}
	/* QUIT is a graceful stop too, as in nginx: multiwatch 1.0.0 in
	 * Debian 12 sends SIGQUIT to its children when told -s TERM. */
	if (install(SIGTERM, on_stop) == -1 || install(SIGINT, on_stop) ==
	    -1 || install(SIGHUP, on_stop) == -1 ||
	    install(SIGQUIT, on_stop) == -1 ||
	    install(SIGUSR2, on_kick) == -1 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		warn("sigaction");
		goto out;
	}
	if (watch_init() == -1) {
		warn("epoll_create1");
		goto out;
	}
	if (board_open(cfg.board_path) == -1) {
		warn("board file %s", cfg.board_path);
		goto out;
	}
	if ((slots = calloc((size_t)cfg.threads, sizeof(*slots))) == NULL) {
		warn("calloc");
		goto out;
	}
	for (opened = 0; opened < cfg.threads; opened++) {
		atomic_init(&slots[opened].conn_fd, -1);
		if ((slots[opened].lock_fd = lock_open(cfg.lock_path)) == -1) {
			warn("open %s", cfg.lock_path);
			goto out;
		}
	}

	/* One malloc arena, not one per thread: each arena keeps its own
	 * touched pages, about 11 KiB per waiting thread (mallopt(3)). */
	if (mallopt(M_ARENA_MAX, 1) == 0)
		logmsg("mallopt M_ARENA_MAX: failed");
	/* The default 50 us timer slack would late every clock_nanosleep
	 * wake-up, and so every handoff (prctl(2) PR_SET_TIMERSLACK); the
	 * threads inherit 1 ns from here. */
	if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) == -1)
		logmsg("prctl PR_SET_TIMERSLACK: %s", strerror(errno));

	/* Stop signals go to main() only, which waits in epoll_pwait(2). */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGHUP);
	sigaddset(&stopset, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &stopset, &waitmask) == -1) {
		warn("sigprocmask");
		goto out;
	}
	if (start_threads(slots, cfg.threads, &started) == -1) {
		warn("pthread_create");
		atomic_store(&failed, 1);
		goto stop;
	}
	logmsg("ready: %ld threads, work %.3f s, lock %s", cfg.threads,
	    cfg.work_seconds, cfg.lock_path);
	if (watch_run(slots, started, &waitmask, &stop_signal) == -1)
		logmsg("epoll_pwait: %s", strerror(errno));
stop:
	atomic_store(&stopping, 1);
	logmsg("stopping (signal %d): finishing work in progress",
	    (int)stop_signal);
	drain_threads(slots, started);
	for (i = 0; i < started; i++)
		pthread_join(slots[i].tid, NULL);
	rc = atomic_load(&failed) ? 1 : 0;
	logmsg("stopped");
out:
	for (i = 0; i < opened; i++)
		close(slots[i].lock_fd);
	free(slots);
	board_close();
	watch_close();
	if (cfg.worklog_fd != -1)
		close(cfg.worklog_fd);
	return rc;
}
