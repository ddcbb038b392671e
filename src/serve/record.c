/* record.c - FastCGI records: check, read parameters, answer. */
#define _GNU_SOURCE	/* POLLRDHUP */

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>

#include "record.h"

#define HEADER	FCGI_HEADER_LEN
#define CHUNK	65528	/* content per record: FCGI_MAX_LENGTH, less
			 * what keeps records 8-byte aligned */

static int
fail(const char **why, const char *reason, int error)
{
	*why = reason;
	errno = error;
	return -1;
}

static unsigned
be16(const unsigned char *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

/* FCGI_BEGIN_REQUEST, 8 bytes of body, no padding (libfcgi would read
 * padding as the next record), role FCGI_RESPONDER. */
static int
begin(struct record_reader *r, const unsigned char *h, const char **why)
{
	if (h[0] != FCGI_VERSION_1 || h[1] != FCGI_BEGIN_REQUEST ||
	    be16(h + 2) == 0 || be16(h + 4) != 8 || h[6] != 0 ||
	    be16(h + 8) != FCGI_RESPONDER)
		return fail(why, "no FCGI_BEGIN_REQUEST for a responder",
		    EPROTO);
	r->id = be16(h + 2);
	r->at = HEADER + 8;
	r->stage = FCGI_PARAMS;
	return 0;
}

/* One record header of the request: its id, in its stage. */
static int
next(struct record_reader *r, const unsigned char *h, const char **why)
{
	size_t clen;

	if (h[0] != FCGI_VERSION_1)
		return fail(why, "not FastCGI version 1", EPROTO);
	if (be16(h + 2) != r->id)
		return fail(why, be16(h + 2) == 0 ? "management record" :
		    "second request id", EPROTO);
	if (h[1] != r->stage)
		return fail(why, "unexpected record type", EPROTO);
	clen = be16(h + 4);
	r->at += HEADER + clen + h[6];
	if (r->at > RECORD_MAX)
		return fail(why, "request too large", EMSGSIZE);
	if (clen == 0 && r->stage == FCGI_STDIN)
		r->end = r->at;
	else if (clen == 0)
		r->stage = FCGI_STDIN;
	return 0;
}

int
record_scan(struct record_reader *r, const unsigned char *buf, size_t len,
    const char **why)
{
	if (r->id == 0) {
		if (len < HEADER + 8)
			return 0;
		if (begin(r, buf, why) == -1)
			return -1;
	}
	while (r->end == 0 && r->at + HEADER <= len)
		if (next(r, buf + r->at, why) == -1)
			return -1;
	return r->end != 0 && len >= r->end;
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

/* Gather the FCGI_PARAMS contents at the front of buf (the write
 * position never passes the read position). Returns their length. */
static size_t
gather(const struct record_reader *r, unsigned char *b)
{
	size_t at = HEADER + 8, n = 0, clen, nextat;

	while (at < r->end && b[at + 1] == FCGI_PARAMS) {
		/* Read the whole header first: the move may overwrite it. */
		clen = be16(b + at + 4);
		nextat = at + HEADER + clen + b[at + 6];
		memmove(b + n, b + at + HEADER, clen);
		n += clen;
		at = nextat;
	}
	return n;
}

size_t
record_body(const struct record_reader *r, const unsigned char *buf,
    unsigned char *out, size_t cap)
{
	size_t at = HEADER + 8, n = 0, clen, k;

	while (at < r->end) {
		clen = be16(buf + at + 4);
		if (buf[at + 1] == FCGI_STDIN && n < cap) {
			k = cap - n < clen ? cap - n : clen;
			memcpy(out + n, buf + at + HEADER, k);
		}
		if (buf[at + 1] == FCGI_STDIN)
			n += clen;
		at += HEADER + clen + buf[at + 6];
	}
	return n;
}

int
record_pairs(const unsigned char *buf, size_t n, record_param_fn fn,
    void *arg)
{
	size_t at;
	long name, value;

	for (at = 0; at < n; at += (size_t)name + (size_t)value) {
		if ((name = pair_len(buf, n, &at)) < 0 ||
		    (value = pair_len(buf, n, &at)) < 0 ||
		    (size_t)name > n - at || (size_t)value > n - at - name) {
			errno = EPROTO;
			return -1;
		}
		if (fn(arg, (const char *)buf + at, (size_t)name,
		    (const char *)buf + at + name, (size_t)value) != 0)
			break;
	}
	return 0;
}

int
record_params(struct record_reader *r, unsigned char *buf,
    record_param_fn fn, void *arg)
{
	r->gathered = gather(r, buf);
	return record_pairs(buf, r->gathered, fn, arg);
}

size_t
record_gathered(const struct record_reader *r)
{
	return r->gathered;
}

int
record_body_to(const struct record_reader *r, const unsigned char *buf,
    int fd)
{
	size_t at = HEADER + 8, clen, k;
	ssize_t w;

	for (; at < r->end; at += HEADER + clen + buf[at + 6]) {
		clen = be16(buf + at + 4);
		if (buf[at + 1] != FCGI_STDIN)
			continue;
		for (k = 0; k < clen; k += (size_t)w)
			if ((w = write(fd, buf + at + HEADER + k, clen - k)) ==
			    -1 && errno != EINTR)
				return -1;
			else if (w == -1)
				w = 0;
	}
	return 0;
}

/* Put one record header at p (FastCGI 3.3). */
static unsigned char *
header(unsigned char *p, int type, unsigned id, size_t clen, size_t pad)
{
	p[0] = FCGI_VERSION_1;
	p[1] = (unsigned char)type;
	p[2] = (unsigned char)(id >> 8);
	p[3] = (unsigned char)id;
	p[4] = (unsigned char)(clen >> 8);
	p[5] = (unsigned char)clen;
	p[6] = (unsigned char)pad;
	p[7] = 0;
	return p + HEADER;
}

/* Copy `len` bytes of head, then body, from logical offset `from`. */
static void
copy(unsigned char *p, size_t from, size_t len, const char *head,
    size_t hlen, const char *body)
{
	size_t k;

	if (from < hlen) {
		k = hlen - from < len ? hlen - from : len;
		memcpy(p, head + from, k);
		p += k;
		len -= k;
		from = hlen;
	}
	if (len > 0)
		memcpy(p, body + (from - hlen), len);
}

/* Send what the socket takes now. Returns how many bytes were sent
 * (len: all), or -1 with errno set (not EAGAIN). */
static ssize_t
send_now(int fd, const unsigned char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, buf + done, len - done, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1)
			return -1;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Keep buf[sent..len) in *rest, or fail with EAGAIN where nothing may
 * be kept. */
static int
keep_rest(const unsigned char *buf, size_t sent, size_t len,
    unsigned char **rest, size_t *rest_len)
{
	if (rest == NULL) {
		errno = EAGAIN;
		return -1;
	}
	if ((*rest = malloc(len - sent)) == NULL)
		return -1;
	memcpy(*rest, buf + sent, len - sent);
	*rest_len = len - sent;
	return 0;
}

int
record_reply(int fd, unsigned id, const char *head, size_t hlen,
    const char *body, size_t blen, unsigned char **rest, size_t *rest_len)
{
	size_t total = hlen + blen, nrec = total / CHUNK + 1, at, k, pad;
	unsigned char small[4096], *buf = small, *p;
	size_t cap = total + nrec * (HEADER + 8) + 2 * HEADER + 8;
	FCGI_EndRequestBody end;
	ssize_t sent;
	int rc = 0, saved;

	if (cap > sizeof(small) && (buf = malloc(cap)) == NULL)
		return -1;
	p = buf;
	for (at = 0; at < total; at += k) {
		k = total - at < CHUNK ? total - at : CHUNK;
		pad = (8 - k % 8) % 8;
		p = header(p, FCGI_STDOUT, id, k, pad);
		copy(p, at, k, head, hlen, body);
		memset(p + k, 0, pad);
		p += k + pad;
	}
	p = header(p, FCGI_STDOUT, id, 0, 0);
	memset(&end, 0, sizeof(end));
	end.protocolStatus = FCGI_REQUEST_COMPLETE;
	p = header(p, FCGI_END_REQUEST, id, sizeof(end), 0);
	memcpy(p, &end, sizeof(end));
	p += sizeof(end);
	if ((sent = send_now(fd, buf, (size_t)(p - buf))) == -1)
		rc = -1;
	else if ((size_t)sent < (size_t)(p - buf))
		rc = keep_rest(buf, (size_t)sent, (size_t)(p - buf), rest,
		    rest_len);
	saved = errno;
	if (buf != small)
		free(buf);
	errno = saved;
	return rc;
}

int
record_peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) == 1 &&
	    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}
