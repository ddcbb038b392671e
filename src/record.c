/* record.c - check FastCGI framing before libfcgi reads a request. */
#define _GNU_SOURCE	/* POLLRDHUP */

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fastcgi.h>

#include "record.h"

#define HEADER	8	/* sizeof(FCGI_Header) */
#define SMALL	1024	/* bytes: a request from nginx for /test is
			 * about 700; more goes to the heap, so the
			 * stack every thread keeps stays shallow */

struct peeked {
	unsigned char	*buf;
	size_t		 cap;
};

static int
fail(const char **why, const char *reason, int error)
{
	*why = reason;
	errno = error;
	return -1;
}

int
peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 &&
	    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until `want` bytes are queued on fd, for at most its
 * SO_RCVTIMEO. MSG_PEEK|MSG_WAITALL would not wait: on AF_UNIX it
 * returns whatever is queued at once. */
static int
wait_queued(int fd, size_t want, const char **why)
{
	struct timeval tv = { 10, 0 };
	socklen_t len = sizeof(tv);
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	double end;
	int queued;

	(void)getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
	end = now() + (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
	for (;;) {
		if (ioctl(fd, FIONREAD, &queued) == -1)
			return fail(why, "ioctl FIONREAD failed", errno);
		if (queued >= 0 && (size_t)queued >= want)
			return 0;
		if (peer_gone(fd))
			return fail(why, "connection closed mid-request",
			    ECONNRESET);
		if (now() >= end)
			return fail(why, "request incomplete in time",
			    ETIMEDOUT);
		/* Nothing yet: sleep in poll(2). Part of a request: the
		 * socket stays readable, so look again in a millisecond. */
		(void)poll(&p, 1, queued == 0 ?
		    (int)((end - now()) * 1000) + 1 : 1);
	}
}

/* Peek at the first `want` bytes of the request, once they are all
 * queued. */
static int
peek(int fd, struct peeked *p, size_t want, const char **why)
{
	ssize_t n;

	if (want > p->cap)
		return fail(why, "request too large", EMSGSIZE);
	if (wait_queued(fd, want, why) == -1)
		return -1;
	do
		n = recv(fd, p->buf, want, MSG_PEEK);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return fail(why, "recv failed", errno);
	if ((size_t)n < want)
		return fail(why, "connection closed mid-request", ECONNRESET);
	return 0;
}

static unsigned
be16(const unsigned char *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

/* Walk the records: BEGIN_REQUEST, PARAMS... up to an empty one, then
 * STDIN... up to an empty one, all of one request id. Sets *end to the
 * length of the whole request; buf then holds all of it. */
static int
walk(int fd, struct peeked *p, size_t *end, const char **why)
{
	const unsigned char *h;
	size_t at, clen;
	unsigned id;
	int stage = FCGI_PARAMS;

	if (peek(fd, p, HEADER + 8, why) == -1)
		return -1;
	h = p->buf;
	id = be16(h + 2);
	/* No padding: libfcgi would read it as the next record. */
	if (h[0] != FCGI_VERSION_1 || h[1] != FCGI_BEGIN_REQUEST ||
	    id == 0 || be16(h + 4) != 8 || h[6] != 0 ||
	    be16(h + 8) != FCGI_RESPONDER)
		return fail(why, "no FCGI_BEGIN_REQUEST for a responder",
		    EPROTO);
	at = HEADER + 8;
	for (;;) {
		if (peek(fd, p, at + HEADER, why) == -1)
			return -1;
		h = p->buf + at;
		if (h[0] != FCGI_VERSION_1)
			return fail(why, "not FastCGI version 1", EPROTO);
		if (be16(h + 2) != id)
			return fail(why, be16(h + 2) == 0 ?
			    "management record" : "second request id", EPROTO);
		if (h[1] != stage)
			return fail(why, "unexpected record type", EPROTO);
		clen = be16(h + 4);
		at += HEADER + clen + h[6];
		if (clen != 0)
			continue;
		if (stage == FCGI_STDIN)
			break;
		stage = FCGI_STDIN;
	}
	*end = at;
	return peek(fd, p, at, why);
}

/* One name or value length (FastCGI 3.4): 1 byte, or 4 with the top
 * bit set. Returns the length, or -1 if it runs past the end. */
static long
pair_len(const unsigned char *b, size_t n, size_t *at)
{
	long v;

	if (*at >= n)
		return -1;
	if ((b[*at] & 0x80) == 0)
		return b[(*at)++];
	if (n - *at < 4)
		return -1;
	v = (long)(b[*at] & 0x7f) << 24 | (long)b[*at + 1] << 16 |
	    (long)b[*at + 2] << 8 | (long)b[*at + 3];
	*at += 4;
	return v;
}

/* Gather the PARAMS contents at the front of buf (the write position
 * never passes the read position) and check every pair fits. */
static int
pairs_fit(unsigned char *b, size_t end)
{
	size_t at = HEADER + 8, n = 0, clen, next;
	long name, value;

	while (at < end && b[at + 1] == FCGI_PARAMS) {
		/* Read the whole header first: the move may overwrite it. */
		clen = be16(b + at + 4);
		next = at + HEADER + clen + b[at + 6];
		memmove(b + n, b + at + HEADER, clen);
		n += clen;
		at = next;
	}
	for (at = 0; at < n; at += (size_t)name + (size_t)value)
		if ((name = pair_len(b, n, &at)) < 0 ||
		    (value = pair_len(b, n, &at)) < 0 ||
		    (size_t)name > n - at || (size_t)value > n - at - name)
			return -1;
	return 0;
}

static int
check(int fd, struct peeked *p, const char **why)
{
	size_t end;

	if (walk(fd, p, &end, why) == -1)
		return -1;
	if (pairs_fit(p->buf, end) == -1)
		return fail(why, "bad name-value length", EPROTO);
	return 0;
}

int
record_check(int fd, const char **why)
{
	unsigned char small[SMALL];
	struct peeked p = { small, sizeof(small) };
	int rc, saved;

	if ((rc = check(fd, &p, why)) == 0 || errno != EMSGSIZE)
		return rc;
	/* Rare: a request with many headers. Look again, with room. */
	if ((p.buf = malloc(RECORD_MAX)) == NULL)
		return fail(why, "out of memory", ENOMEM);
	p.cap = RECORD_MAX;
	rc = check(fd, &p, why);
	saved = errno;
	free(p.buf);
	errno = saved;
	return rc;
}
