/* fcgi.c - the responder's FastCGI connections: see fcgi.h. */
#define _GNU_SOURCE	/* accept4, EPOLLRDHUP, EPOLLEXCLUSIVE */

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>

#include "clock.h"
#include "conn.h"
#include "fcgi.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "runner.h"

#define ACCEPTS		16	/* connections taken per wake-up */
#define SMALL		1024	/* first buffer of a request in pieces */

static struct {
	const struct config *cfg;
	struct loop_fd	 listener;	/* fd 0 */
	struct loop_timer resume;	/* accept(2) failed for lack of
					 * resources: try again then */
	struct loop_timer expire;	/* the oldest reader's deadline */
	/* Connections still reading, oldest (earliest deadline) first. */
	struct conn	*reading_head, *reading_tail;
	/* Connections the runner handed back; filled on its thread,
	 * closed by the loop's after the batch (reap). */
	pthread_mutex_t	 done_mu;
	struct conn	*done_list;
	struct loop_fd	 done;		/* an eventfd(2) */
	struct loop_timer reap;
	int		 stopping;
	unsigned char	 scratch[RECORD_MAX];	/* one read, if whole */
} fc = { .done_mu = PTHREAD_MUTEX_INITIALIZER };

static void
reading_add(struct conn *c)
{
	c->next = NULL;
	c->prev = fc.reading_tail;
	if (fc.reading_tail != NULL)
		fc.reading_tail->next = c;
	else
		fc.reading_head = c;
	fc.reading_tail = c;
}

static void
reading_del(struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		fc.reading_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		fc.reading_tail = c->prev;
	c->prev = c->next = NULL;
}

static void
conn_close(struct conn *c)
{
	loop_fd_del(&c->ev);
	close(c->fd);
	conn_free(c);
	free(c);
}

static void on_accept(struct loop_fd *, uint32_t);
static void on_conn(struct loop_fd *, uint32_t);

#define WRITING	2	/* c->parked: the loop writes the rest of its
			 * answer, then closes it */

/* Write what is left of c's answer while the socket takes it. Returns
 * 1 when all is sent (or the peer left), 0 if more is to come. */
static int
write_rest(struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == -1)
			return 1;	/* nginx left: nobody to tell */
		c->out_off += (size_t)n;
	}
	return 1;
}

/* c is answered: close it, or, if its answer did not fit the socket at
 * once, write the rest as the socket drains, then close it. */
static void
finished(struct conn *c)
{
	if (c->out == NULL || write_rest(c)) {
		conn_close(c);
		return;
	}
	c->parked = WRITING;
	if ((c->ev.armed ? loop_fd_mod(&c->ev, EPOLLOUT) :
	    loop_fd_add(&c->ev, c->fd, EPOLLOUT, on_conn, c)) == -1) {
		log_err("req=%s epoll_ctl: %s", c->id, strerror(errno));
		conn_close(c);
	}
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
	if (fc.listener.armed && !to_back)
		return;
	loop_fd_del(&fc.listener);
	if (loop_fd_add(&fc.listener, FCGI_LISTENSOCK_FILENO, EPOLLIN |
	    EPOLLEXCLUSIVE, on_accept, NULL) == 0)
		loop_timer_set(&fc.resume, 0, NULL, NULL);
	else
		log_err("epoll_ctl listener: %s", strerror(errno));
}

static void
on_resume(struct loop_timer *t, double now)
{
	(void)t, (void)now;
	if (!fc.stopping)
		listener_arm(0);
}

/* A connection still reading: refuse it, say why, close it. */
static void
bad_request(struct conn *c, const char *why)
{
	log_warn("bad FastCGI request (%s): connection closed", why);
	reading_del(c);
	conn_close(c);
}

/* The request is whole in buf: read its params, route it, and either
 * close it or watch it, parked, for a client that leaves. */
static void
whole(struct conn *c, unsigned char *buf)
{
	int routed;

	if (conn_params(c, buf) == -1) {
		bad_request(c, errno == ENOMEM ? "out of memory" :
		    "bad name-value length");
		return;
	}
	reading_del(c);
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
	routed = http_route(c, fc.stopping);
	/* A process that goes from idle to busy moves to the back of the
	 * listener's queue: see listener_arm(). */
	if (routed == HTTP_PARKED_IDLE)
		listener_arm(1);
	if (routed == HTTP_ANSWERED) {
		finished(c);
		return;
	}
	if (routed == HTTP_HELD) {
		/* Nothing to watch: answered after this round, then handed
		 * back (hand_back) and closed by the reap. */
		loop_fd_del(&c->ev);
		return;
	}
	c->parked = 1;
	/* Parked: nothing more to read; only a hang-up matters now. */
	if (loop_fd_mod(&c->ev, EPOLLRDHUP) == -1)
		log_err("req=%s epoll_ctl: %s", c->id, strerror(errno));
}

/* Keep a request that came in pieces, for the next read: SMALL bytes
 * of room, or twice what came, as far as RECORD_MAX. */
static int
save(struct conn *c, const unsigned char *b, size_t n)
{
	size_t cap = n < SMALL / 2 ? SMALL : 2 * n;

	if (cap > RECORD_MAX)
		cap = RECORD_MAX;
	if ((c->buf = malloc(cap)) == NULL)
		return -1;
	memcpy(c->buf, b, n);
	c->len = n;
	c->cap = cap;
	return 0;
}

/* Room for more in c->buf: twice as much each time, up to RECORD_MAX
 * (a request with a large body: a program's, for /work). */
static int
grow(struct conn *c)
{
	unsigned char *p;
	size_t cap;

	if (c->len < c->cap)
		return 0;
	if (c->cap >= RECORD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	cap = 2 * c->cap > RECORD_MAX ? RECORD_MAX : 2 * c->cap;
	if ((p = realloc(c->buf, cap)) == NULL)
		return -1;
	c->buf = p;
	c->cap = cap;
	return 0;
}

/* Read what has come; route the request once it is whole. A request
 * that comes in one piece (nginx writes it at once) is checked in
 * scratch and never copied. */
static void
on_readable(struct conn *c)
{
	const char *why = "connection closed mid-request";
	unsigned char *b;
	ssize_t n;
	int rc;

	for (;;) {
		if (c->buf == NULL) {
			b = fc.scratch;
			n = read(c->fd, fc.scratch, sizeof(fc.scratch));
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
			whole(c, b);
			return;
		}
		if (b == fc.scratch && save(c, fc.scratch, (size_t)n) == -1) {
			bad_request(c, "out of memory");
			return;
		}
	}
}

/* A parked request's connection closed: its client left. */
static void
on_hangup(struct conn *c)
{
	loop_fd_del(&c->ev);
	if (!runner_leave(&c->src))
		return;		/* working: the runner finishes it */
	log_msg("req=%s skipped: client gone after %.3f s waiting", c->id,
	    clock_now() - c->src.turn.t0);
	conn_close(c);
}

static void
on_conn(struct loop_fd *e, uint32_t events)
{
	struct conn *c = e->arg;

	if (c->parked == WRITING) {
		if (write_rest(c) || (events & (EPOLLHUP | EPOLLERR)))
			conn_close(c);
	} else if (!c->parked)
		on_readable(c);
	else if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		on_hangup(c);
}

/* Requests not whole by their deadline (a slow or stuck sender) are
 * closed; the timer moves to the next deadline. */
static void
on_expire(struct loop_timer *t, double now)
{
	while (fc.reading_head != NULL && fc.reading_head->deadline <= now)
		bad_request(fc.reading_head, "request incomplete in time");
	if (fc.reading_head != NULL)
		loop_timer_set(t, fc.reading_head->deadline, on_expire, NULL);
}

/* The runner is done with c: the loop closes it. Any thread. */
static void
hand_back(struct conn *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&fc.done_mu);
	c->next = fc.done_list;
	fc.done_list = c;
	pthread_mutex_unlock(&fc.done_mu);
	(void)!write(fc.done.fd, &one, sizeof(one));
}

static void
on_accept(struct loop_fd *e, uint32_t events)
{
	struct conn *c;
	int fd, i;

	(void)e, (void)events;
	for (i = 0; i < ACCEPTS && !fc.stopping; i++) {
		fd = accept4(FCGI_LISTENSOCK_FILENO, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED || errno == EPROTO)
				return;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: wait a little
			 * rather than spin on a listener that stays
			 * readable. */
			log_warn("accept: %s; pausing 50 ms", strerror(errno));
			loop_fd_del(&fc.listener);
			loop_timer_set(&fc.resume, clock_now() + 0.05,
			    on_resume, NULL);
			return;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_err("accept: out of memory");
			close(fd);
			return;
		}
		c->fd = fd;
		c->body_fd = -1;
		c->done = hand_back;
		c->deadline = clock_now() + fc.cfg->io_timeout;
		reading_add(c);
		if (fc.expire.when == 0)
			loop_timer_set(&fc.expire, c->deadline, on_expire,
			    NULL);
		(void)loop_fd_add(&c->ev, fd, EPOLLIN | EPOLLRDHUP, on_conn,
		    c);
		/* nginx has written the request by now, most often. */
		on_readable(c);
	}
}

/* Close what the runner handed back: after the batch, never within
 * one, so no event still in hand can point at a freed conn. */
static void
on_reap(struct loop_timer *t, double now)
{
	struct conn *c, *next;
	uint64_t n;

	(void)t, (void)now;
	if (read(fc.done.fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&fc.done_mu);
	c = fc.done_list;
	fc.done_list = NULL;
	pthread_mutex_unlock(&fc.done_mu);
	for (; c != NULL; c = next) {
		next = c->next;
		finished(c);
	}
}

static void
on_done(struct loop_fd *e, uint32_t events)
{
	(void)e, (void)events;
	loop_timer_set(&fc.reap, clock_now(), on_reap, NULL);
}

void
fcgi_went_busy(void)
{
	if (!fc.stopping)
		listener_arm(1);
}

void
fcgi_drain(void)
{
	struct source *s, *next;
	int working;

	fc.stopping = 1;
	loop_fd_del(&fc.listener);
	loop_timer_set(&fc.resume, 0, NULL, NULL);
	while (fc.reading_head != NULL)
		bad_request(fc.reading_head, "responder is stopping");
	for (s = runner_drain(&working); s != NULL; s = next) {
		next = s->next;
		s->ops->answer(s, TURN_STOPPING);
		s->ops->release(s);
	}
}

int
fcgi_start(const struct config *cfg)
{
	int fl, fd;

	fc.cfg = cfg;
	/* The listener is shared by every responder: each takes what it
	 * can and none blocks in accept(2) when another was quicker. */
	if ((fl = fcntl(FCGI_LISTENSOCK_FILENO, F_GETFL)) == -1 ||
	    fcntl(FCGI_LISTENSOCK_FILENO, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	if (loop_fd_add(&fc.done, fd, EPOLLIN, on_done, NULL) == -1) {
		close(fd);
		return -1;
	}
	listener_arm(0);
	return fc.listener.armed ? 0 : -1;
}
