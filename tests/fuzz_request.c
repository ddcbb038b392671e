/*
 * fuzz_request.c - libFuzzer harness for what serialcgi reads from its
 * socket. Each input is the byte stream a web server sends on one
 * connection. It is checked as the event loop checks it (src/serve/fcgi.c):
 * record_scan() over the bytes received so far, in the pieces the
 * input's first byte chooses, then record_params() and the answer
 * through record_reply() on a socketpair.
 *
 * Invariants: scanning in pieces gives the verdict and length of one
 * scan of the whole; a whole request is within the input and within
 * RECORD_MAX; every name and value lies inside the request.
 *
 * Build and run: tests/fuzz [seconds] [work-dir]
 */
#define _GNU_SOURCE

#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

struct span {
	const unsigned char *lo, *hi;
};

static int
touch(void *arg, const char *name, size_t nlen, const char *v, size_t vlen)
{
	const struct span *s = arg;

	if ((const unsigned char *)name < s->lo ||
	    (const unsigned char *)name + nlen > s->hi ||
	    (const unsigned char *)v < s->lo ||
	    (const unsigned char *)v + vlen > s->hi)
		abort();
	if (nlen > 0)
		sink += (unsigned char)name[nlen - 1];
	if (vlen > 0)
		sink += (unsigned char)v[vlen - 1];
	return 0;
}

/* Scan buf as it would arrive in pieces of `step` bytes. */
static int
scan_in_pieces(struct record_reader *r, const unsigned char *buf,
    size_t size, size_t step)
{
	const char *why;
	size_t len;
	int rc = 0;

	for (len = step < size ? step : size; ; len += step) {
		if (len > size)
			len = size;
		if ((rc = record_scan(r, buf, len, &why)) != 0 || len == size)
			return rc;
	}
}

static void
answer(unsigned id)
{
	static const char head[] = "Status: 200 OK\r\n\r\n";
	static char body[70000];
	unsigned char got[4096];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	/* Long bodies span several FCGI_STDOUT records. */
	(void)record_reply(sv[0], id, head, sizeof(head) - 1, body,
	    id % 3 == 0 ? sizeof(body) : id % 97, NULL, NULL);
	while (recv(sv[1], got, sizeof(got), MSG_DONTWAIT) > 0)
		sink += got[0];
	close(sv[0]);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record_reader whole = { 0 }, pieces = { 0 };
	const char *why;
	unsigned char *buf;
	struct span s;
	size_t step;
	int a, b;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	a = record_scan(&whole, buf, size, &why);
	b = scan_in_pieces(&pieces, buf, size, step);
	if (a != b || (a == 1 && whole.end != pieces.end))
		abort();
	if (a == 1) {
		if (whole.end > size || whole.end > RECORD_MAX)
			abort();
		s.lo = buf;
		s.hi = buf + whole.end;
		(void)record_params(&whole, buf, touch, &s);
		answer(whole.id);
	}
	free(buf);
	return 0;
}
