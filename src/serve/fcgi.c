/* loop.c - the responder's event loop. */
#define _GNU_SOURCE	/* accept4, EPOLLRDHUP, EPOLLEXCLUSIVE */

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>

#include "clock.h"
#include "deliver.h"
#include "jobs.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "runner.h"

#define EVENTS		64
#define ACCEPTS		16	/* connections taken per wake-up */
#define SMALL		1024	/* first buffer of a request in pieces */

static int epfd = -1, sigfd = -1, donefd = -1;
static char tag_listener, tag_signal, tag_done, tag_deliver; /* epoll data */
static double next_tick;	/* mono s of the janitor's next round */
static unsigned char scratch[RECORD_MAX];	/* one read, if whole */

/* Connections still reading, oldest (earliest deadline) first. */
static struct conn *reading_head, *reading_tail;

/* Connections the runner handed back; filled on its thread. */
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn *done_list;

static int listener_armed;
static double accept_pause;	/* mono s; accept(2) failed for lack of
				 * resources: try again from then */

static void
reading_add(struct conn *c)
{
	c->next = NULL;
	c->prev = reading_tail;
	if (reading_tail != NULL)
		reading_tail->next = c;
	else
		reading_head = c;
	reading_tail = c;
}

static void
reading_del(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		reading_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		reading_tail = c->prev;
	c->prev = c->next = NULL;
}

static int
watch(int fd, uint32_t events, void *ptr, int op)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = ptr;
	return epoll_ctl(epfd, op, fd, &ev);
}

static void
conn_close(struct conn *c)
{
	if (c->armed)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c->body);
	free(c);
}

/* Every responder waits on the one listener. EPOLLEXCLUSIVE wakes one
 * idle loop per connection, the first registered (epoll_ctl(2)). A
 * process that goes from idle to busy moves itself to the back, so the
 * next request goes to a process with nothing to do, if there is one;
 * once all are busy, requests stay with the first loop free to take
 * them, and turns pass within a process, the quickest handoff. */
static void
listener_arm(int to_back)
{
	if (listener_armed && !to_back)
		return;
	if (listener_armed)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, FCGI_LISTENSOCK_FILENO,
		    NULL);
	listener_armed = watch(FCGI_LISTENSOCK_FILENO, EPOLLIN |
	    EPOLLEXCLUSIVE, &tag_listener, EPOLL_CTL_ADD) == 0;
	if (listener_armed)
		accept_pause = 0;
	else
		logmsg("epoll_ctl listener: %s", strerror(errno));
}

static void
listener_disarm(void)
{
	if (listener_armed)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, FCGI_LISTENSOCK_FILENO,
		    NULL);
	listener_armed = 0;
}

/* A connection still reading: refuse it, say why, close it. */
static void
bad_request(struct conn *c, const char *why)
{
	logmsg("bad FastCGI request (%s): connection closed", why);
	reading_del(c);
	conn_close(c);
}

/* The request is whole in buf: read its params, route it, and either
 * close it or watch it, parked, for a client that leaves. */
static void
whole(struct conn *c, unsigned char *buf, int stopping)
{
	int routed;

	if (http_params(c, buf) == -1) {
		bad_request(c, errno == ENOMEM ? "out of memory" :
		    "bad name-value length");
		return;
	}
	reading_del(c);
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
	routed = http_route(c, stopping);
	/* A process that goes from idle to busy moves to the back of the
	 * listener's queue: see listener_arm(). */
	if (routed == ROUTE_PARKED_IDLE || routed == ROUTE_ANSWERED_BUSY)
		listener_arm(1);
	if (routed == ROUTE_ANSWERED || routed == ROUTE_ANSWERED_BUSY) {
		conn_close(c);
		return;
	}
	c->parked = 1;
	/* Parked: nothing more to read; only a hang-up matters now. */
	if (watch(c->fd, EPOLLRDHUP, c, EPOLL_CTL_MOD) == -1)
		logmsg("req=%s epoll_ctl: %s", c->id, strerror(errno));
}

/* Keep a request that came in pieces, for the next read. */
static int
save(struct conn *c, const unsigned char *b, size_t n)
{
	size_t cap = n > SMALL ? RECORD_MAX : SMALL;

	if ((c->buf = malloc(cap)) == NULL)
		return -1;
	memcpy(c->buf, b, n);
	c->len = n;
	c->cap = cap;
	return 0;
}

/* Room for more in c->buf: SMALL first, then all of RECORD_MAX. */
static int
grow(struct conn *c)
{
	unsigned char *p;

	if (c->len < c->cap)
		return 0;
	if (c->cap >= RECORD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((p = realloc(c->buf, RECORD_MAX)) == NULL)
		return -1;
	c->buf = p;
	c->cap = RECORD_MAX;
	return 0;
}

/* Read what has come; route the request once it is whole. A request
 * that comes in one piece (nginx writes it at once) is checked in
 * scratch and never copied. */
static void
on_readable(struct conn *c, int stopping)
{
	const char *why = "connection closed mid-request";
	unsigned char *b;
	ssize_t n;
	int rc;

	for (;;) {
		if (c->buf == NULL) {
			b = scratch;
			n = read(c->fd, scratch, sizeof(scratch));
		} else if (grow(c) == -1) {
			bad_request(c, errno == EMSGSIZE ?
			    "request too large" : "out of memory");
			return;
		} else {
			b = c->buf;
			n = read(c->fd, c->buf + c->len, c->cap - c->len);
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			bad_request(c, n == 0 ? why : "read failed");
			return;
		}
		if (b == c->buf)
			c->len += (size_t)n;
		rc = record_scan(&c->rr, b, b == c->buf ? c->len :
		    (size_t)n, &why);
		if (rc == -1) {
			bad_request(c, why);
			return;
		}
		if (rc == 1) {
			whole(c, b, stopping);
			return;
		}
		if (b == scratch && save(c, scratch, (size_t)n) == -1) {
			bad_request(c, "out of memory");
			return;
		}
	}
}

static void
on_accept(const struct config *cfg)
{
	struct conn *c;
	int fd, i;

	for (i = 0; i < ACCEPTS; i++) {
		fd = accept4(FCGI_LISTENSOCK_FILENO, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED || errno == EPROTO)
				return;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: wait a little
			 * rather than spin on a listener that stays
			 * readable. */
			logmsg("accept: %s; pausing 50 ms", strerror(errno));
			listener_disarm();
			accept_pause = mono_now() + 0.05;
			return;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			logmsg("accept: out of memory");
			close(fd);
			return;
		}
		c->fd = fd;
		c->deadline = mono_now() + cfg->io_timeout;
		reading_add(c);
		c->armed = watch(fd, EPOLLIN | EPOLLRDHUP, c,
		    EPOLL_CTL_ADD) == 0;
		/* nginx has written the request by now, most often. */
		on_readable(c, 0);
	}
}

/* A parked request's connection closed: its client left. */
static void
on_hangup(struct conn *c)
{
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->armed = 0;
	if (!runner_leave(&c->src))
		return;		/* working: the runner finishes it */
	logmsg("req=%s skipped: client gone after %.3f s waiting", c->id,
	    mono_now() - c->src.turn.t0);
	conn_close(c);
}

void
loop_done(struct conn *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&done_mu);
	c->next = done_list;
	done_list = c;
	pthread_mutex_unlock(&done_mu);
	(void)!write(donefd, &one, sizeof(one));
}

/* Close what the runner handed back. Called after a batch of events,
 * never within one: no event still in hand can point at a freed conn. */
static void
reap_done(void)
{
	struct conn *c, *next;
	uint64_t n;

	if (read(donefd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&done_mu);
	c = done_list;
	done_list = NULL;
	pthread_mutex_unlock(&done_mu);
	for (; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
	}
}

/* The earlier of two deadlines (mono s; 0 is none). */
static double
sooner(double a, double b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

/* Requests not whole by their deadline (a slow or stuck sender) are
 * closed; a paused listener is armed again; the janitor's round and
 * libcurl's timer run. Returns the epoll_wait(2) timeout in ms until
 * the next of these, or -1 for none. */
static int
expire(int stopped)
{
	double now = mono_now(), next = 0;

	while (reading_head != NULL && reading_head->deadline <= now)
		bad_request(reading_head, "request incomplete in time");
	if (accept_pause > 0 && accept_pause <= now)
		listener_arm(0);	/* clears accept_pause */
	if (!stopped && now >= next_tick) {
		jobs_tick(now);
		next_tick = now + JOBS_TICK;
	}
	deliver_on_timer();
	if (reading_head != NULL)
		next = reading_head->deadline;
	next = sooner(next, accept_pause);
	next = sooner(next, deliver_deadline());
	if (!stopped)
		next = sooner(next, next_tick);
	return next > 0 ? mono_ms_until(next) : -1;
}

/* A stop: take no more, answer the parked, let the work finish. */
static void
drain(int sig)
{
	struct source *s, *next;
	int working;

	logmsg("stopping (signal %d): finishing work in progress", sig);
	listener_disarm();
	accept_pause = 0;
	while (reading_head != NULL)
		bad_request(reading_head, "responder is stopping");
	jobs_stop();
	for (s = runner_drain(&working); s != NULL; s = next) {
		next = s->next;
		s->ops->answer(s, TURN_STOPPING);
		s->ops->release(s);
	}
}

/* The signal read from the signalfd, or 0 if there was none. */
static int
stop_signal(void)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	notify_stopping((pid_t)si.ssi_pid);
	return (int)si.ssi_signo;
}

static void
dispatch(struct epoll_event *ev, const struct config *cfg, int *stopped,
    int *reap)
{
	struct conn *c = ev->data.ptr;
	int sig;

	if (ev->data.ptr == &tag_listener) {
		if (!*stopped)
			on_accept(cfg);
	} else if (ev->data.ptr == &tag_signal) {
		/* drain() after the batch: it frees connections that
		 * later events of this batch may still point at. */
		if ((sig = stop_signal()) != 0 && *stopped == 0)
			*stopped = -sig;
	} else if (ev->data.ptr == &tag_done)
		*reap = 1;	/* after the batch: see reap_done() */
	else if (ev->data.ptr == &tag_deliver)
		deliver_on_ready();
	else if (!c->parked)
		on_readable(c, *stopped);
	else if (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		on_hangup(c);
}

int
loop_run(const struct config *cfg)
{
	struct epoll_event ev[EVENTS];
	int n, i, stopped = 0, timeout, reap;

	listener_arm(0);
	if (deliver_fd() != -1 &&
	    watch(deliver_fd(), EPOLLIN, &tag_deliver, EPOLL_CTL_ADD) == -1)
		return -1;
	for (;;) {
		timeout = notify_tick(expire(stopped));
		/* Stopping: look again soon whether the work has ended (a
		 * job's end wakes nothing here). */
		if (stopped && (timeout < 0 || timeout > 20))
			timeout = 20;
		n = epoll_wait(epfd, ev, EVENTS, timeout);
		if (n == -1 && errno != EINTR)
			return -1;
		for (reap = 0, i = 0; i < n; i++)
			dispatch(&ev[i], cfg, &stopped, &reap);
		if (stopped < 0)	/* a stop signal in this batch */
			drain(stopped = -stopped);
		if (reap)
			reap_done();
		if (stopped && !runner_working())
			return stopped;
	}
}

int
loop_init(void)
{
	sigset_t stops;
	int fl;

	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	sigaddset(&stops, SIGQUIT);
	/* Blocked here, before any thread starts, so every thread
	 * inherits the mask and the signals wait for the signalfd. */
	if (sigprocmask(SIG_BLOCK, &stops, NULL) == -1 ||
	    (epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (sigfd = signalfd(-1, &stops, SFD_NONBLOCK | SFD_CLOEXEC)) ==
	    -1 ||
	    (donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	/* The listener is shared by every responder: each takes what it
	 * can and none blocks in accept(2) when another was quicker. */
	if ((fl = fcntl(FCGI_LISTENSOCK_FILENO, F_GETFL)) == -1 ||
	    fcntl(FCGI_LISTENSOCK_FILENO, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if (watch(sigfd, EPOLLIN, &tag_signal, EPOLL_CTL_ADD) == -1 ||
	    watch(donefd, EPOLLIN, &tag_done, EPOLL_CTL_ADD) == -1)
		return -1;
	return 0;
}
