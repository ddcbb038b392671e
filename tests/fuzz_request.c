/*
 * fuzz_request.c - libFuzzer harness for what serialcgi reads from its
 * socket. Each input is the byte stream a web server sends on one
 * connection. It goes in at one end of a socketpair; the other end is
 * handed to libfcgi exactly as serve_connection() does (src/main.c),
 * then read as http_serve() and drain() do (src/http.c).
 *
 * Build and run: tests/fuzz [seconds] [work-dir]
 */
#define _GNU_SOURCE	/* MSG_NOSIGNAL, socketpair */

#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "record.h"

#define IO_TIMEOUT	1	/* seconds; IO_TIMEOUT defaults to 10 */
#define PEER_WAIT_MS	5000	/* > IO_TIMEOUT: libfcgi gives up first */
#define ANSWER_MAX	4096	/* bytes of libfcgi's answer kept */

/* The web server's end: it sends the input and reads the answer. */
struct peer {
	int fd;
	const uint8_t *data;
	size_t size;
	unsigned char answer[ANSWER_MAX];
	size_t answer_len;
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

/*
 * Send and receive at once. libfcgi answers some records while it
 * reads (FCGI_UNKNOWN_TYPE, FCGI_END_REQUEST for a second request id),
 * so a peer that only wrote could deadlock with it once both socket
 * buffers are full. MSG_DONTWAIT keeps the fd itself blocking, as
 * libfcgi expects of its own end.
 */
static void *
peer_run(void *arg)
{
	struct peer *p = arg;
	unsigned char buf[4096];
	size_t off = 0;
	int writing = 1;
	ssize_t n;

	for (;;) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

		if (writing && off == p->size) {
			/* EOF is what ends libfcgi's reads. */
			shutdown(p->fd, SHUT_WR);
			writing = 0;
		}
		if (writing)
			pfd.events |= POLLOUT;
		n = poll(&pfd, 1, PEER_WAIT_MS);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* libfcgi stuck: let -timeout report it */
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0)
				break;	/* libfcgi closed its end */
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				break;
			if (n > 0 && p->answer_len < ANSWER_MAX) {
				size_t k = (size_t)n;

				if (k > ANSWER_MAX - p->answer_len)
					k = ANSWER_MAX - p->answer_len;
				memcpy(p->answer + p->answer_len, buf, k);
				p->answer_len += k;
			}
		}
		if (writing && (pfd.revents & POLLOUT)) {
			n = send(p->fd, p->data + off, p->size - off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR)
				off = p->size;	/* libfcgi hung up: stop */
		}
	}
	if (writing)
		shutdown(p->fd, SHUT_WR);
	return NULL;
}

/*
 * libfcgi is not instrumented, so libFuzzer cannot see which of its
 * paths an input took. Branching here on what it did (its return code,
 * the records it answered with, how many params it parsed) turns those
 * outcomes into coverage of this file, which libFuzzer does see. Loop
 * counts land in libFuzzer's hit-count buckets (1, 2, 3, 4-7, ...).
 */
static void
count(unsigned n)
{
	while (n-- > 0)
		sink++;
}

static void
note_answer(const unsigned char *a, size_t len)
{
	size_t off = 0;

	while (off + FCGI_HEADER_LEN <= len) {
		unsigned clen = (unsigned)a[off + 4] << 8 | a[off + 5];
		unsigned pad = a[off + 6];
		const unsigned char *body = a + off + FCGI_HEADER_LEN;
		size_t avail = len - off - FCGI_HEADER_LEN;

		switch (a[off + 1]) {
		case FCGI_STDOUT:
			count(clen > 0);
			break;
		case FCGI_STDERR:
			count(clen > 0);
			break;
		case FCGI_END_REQUEST:
			/* protocolStatus: complete or can't multiplex */
			count(avail >= 5 ? 1u + body[4] : 0u);
			break;
		case FCGI_GET_VALUES_RESULT:
			/* One name-value pair is about 17 bytes. */
			count(clen / 16);
			break;
		case FCGI_UNKNOWN_TYPE:
			count(avail >= 1 ? body[0] : 0u);
			break;
		default:
			sink++;
			break;
		}
		off += FCGI_HEADER_LEN + clen + pad;
	}
}

/* What http_serve() does with the params, minus the work itself. */
static void
read_request(FCGX_Request *req)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	const char *path = FCGX_GetParam("DOCUMENT_URI", req->envp);
	const char *id = FCGX_GetParam("REQUEST_ID", req->envp);
	char buf[1024];
	unsigned long body = 0;
	char **e;
	int n;

	/* strlen and strcmp let ASan check each value is a string. */
	if (id != NULL)
		count(strlen(id) > 0 ? 2 : 1);
	if (path != NULL && strcmp(path, "/test") == 0)
		sink++;
	if (method != NULL && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0))
		sink++;
	for (e = req->envp; *e != NULL; e++)
		sink += (unsigned)strlen(*e);
	count((unsigned)(e - req->envp));
	/* drain(): the whole body, until EOF or an error. */
	while ((n = FCGX_GetStr(buf, sizeof(buf), req->in)) > 0)
		body += (unsigned long)n;
	count(FCGX_GetError(req->in) == 0 ? 1 : 2);
	for (; body > 0; body >>= 1)
		sink++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Once per process, as main() does before the threads. */
	if (FCGX_Init() != 0) {
		fprintf(stderr, "fuzz_request: FCGX_Init failed\n");
		exit(1);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct peer p;
	struct timeval tv = { IO_TIMEOUT, 0 };
	FCGX_Request req;
	pthread_t tid;
	const char *why;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		perror("fuzz_request: socketpair");
		abort();
	}
	/* As set_timeouts(): nothing in libfcgi may block for ever. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)) == -1) {
		perror("fuzz_request: setsockopt");
		abort();
	}
	p.fd = sv[1];
	p.data = data;
	p.size = size;
	p.answer_len = 0;
	if ((rc = pthread_create(&tid, NULL, peer_run, &p)) != 0) {
		fprintf(stderr, "fuzz_request: pthread_create: %s\n",
		    strerror(rc));
		abort();
	}

	/* serve_connection(): first the framing check, which keeps what
	 * libfcgi mishandles away from it ... */
	if (record_check(sv[0], &why) == -1) {
		close(sv[0]);
		count(3);
		goto done;
	}
	/* ... then a kept connection makes FCGX_Accept_r read the request
	 * from ipcFd instead of calling accept(2). */
	FCGX_InitRequest(&req, -1, 0);
	req.ipcFd = sv[0];
	req.keepConnection = 1;
	rc = FCGX_Accept_r(&req);
	if (rc == 0) {
		count(1u + (unsigned)req.role);
		read_request(&req);
		req.keepConnection = 0;
		FCGX_Finish_r(&req);
	} else {
		/* It closed sv[0], then accept(-1) failed with EBADF. */
		count(rc == -EBADF ? 1 : 2);
	}
done:

	pthread_join(tid, NULL);
	/* libfcgi must have closed its end, or every request served
	 * leaks an fd. Nothing else opens fds in between, so sv[0] is
	 * still free unless libfcgi kept it. */
	if (fcntl(sv[0], F_GETFD) != -1) {
		fprintf(stderr, "fuzz_request: fd %d left open by libfcgi "
		    "(rc %d)\n", sv[0], rc);
		abort();
	}
	close(sv[1]);
	note_answer(p.answer, p.answer_len);
	return 0;
}
