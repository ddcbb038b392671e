/* record.h - check FastCGI framing before libfcgi reads a request. */
#ifndef SERIALCGI_RECORD_H
#define SERIALCGI_RECORD_H

#include <stddef.h>

#define RECORD_MAX	(64 * 1024)	/* bytes of a whole request */

/*
 * record_check: peek (recv(2) MSG_PEEK) at the request waiting on fd
 * and accept only what a web server sends a responder (FastCGI 1.0,
 * sections 3.3, 5.1): one request id other than 0, FCGI_BEGIN_REQUEST
 * with role FCGI_RESPONDER, FCGI_PARAMS up to the empty one with
 * name-value lengths that fit, then FCGI_STDIN up to the empty one,
 * all within RECORD_MAX bytes. libfcgi 2.4.2 aborts, overflows a stack
 * buffer or leaks on management records and huge lengths; with this
 * check they never reach it. Nothing is consumed. Waits until the
 * request is whole, for at most the socket's SO_RCVTIMEO.
 * Returns 0, or -1 with errno set: EPROTO (not such a request),
 * EMSGSIZE (over RECORD_MAX), ETIMEDOUT (incomplete in time),
 * ECONNRESET (closed before the end), or recv(2)'s own error.
 * *why gets a short static reason.
 */
int record_check(int fd, const char **why);

/*
 * peer_gone: has the web server closed its end of fd? nginx does so as
 * soon as its client goes (fastcgi_ignore_client_abort off). poll(2)
 * POLLRDHUP with no wait. Returns 1 or 0.
 */
int peer_gone(int fd);

#endif
