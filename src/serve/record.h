/*
 * record.h - FastCGI records (FastCGI 1.0, sections 3 to 5): check a
 * request as its bytes arrive, read its parameters, write an answer.
 * Record types and structs come from libfcgi's fastcgi.h.
 */
#ifndef SERIALCGI_RECORD_H
#define SERIALCGI_RECORD_H

#include <stddef.h>

/* Bytes of a whole request: its params, and a body of up to 1 MiB
 * (nginx's client_max_body_size for /work) in FCGI_STDIN records. */
#define RECORD_MAX	(1024 * 1024 + 64 * 1024)

struct record_reader {
	size_t		 at;	/* next record header to look at */
	size_t		 end;	/* length of the whole request, once seen */
	unsigned	 id;	/* request id; 0 before FCGI_BEGIN_REQUEST */
	int		 stage;	/* record type due: FCGI_PARAMS, FCGI_STDIN */
	size_t		 gathered;	/* params' bytes, once record_params
					 * gathered them */
};

/*
 * record_scan: check the bytes of one request received so far,
 * buf[0..len), going on from where the last call on r stopped, so a
 * request trickled byte by byte costs no more than one sent whole.
 * Accepts only what a web server sends a responder: FCGI_BEGIN_REQUEST
 * with role FCGI_RESPONDER and an id other than 0, FCGI_PARAMS records
 * up to the empty one, FCGI_STDIN records up to the empty one, all of
 * that id and within RECORD_MAX bytes. libfcgi 2.4.2 aborts, overflows
 * a stack buffer or leaks on management records and huge lengths; none
 * of those pass here. r must start zeroed.
 * Returns 1 when the request is whole (r->end bytes), 0 if more bytes
 * are needed, or -1 with errno EPROTO (not such a request) or EMSGSIZE
 * (over RECORD_MAX) and a short static reason in *why.
 */
int record_scan(struct record_reader *r, const unsigned char *buf,
    size_t len, const char **why);

typedef int (*record_param_fn)(void *arg, const char *name, size_t nlen,
    const char *value, size_t vlen);

/*
 * record_params: call fn(arg, name, value) for each name-value pair
 * (FastCGI 3.4) of a whole request that record_scan accepted. The
 * FCGI_PARAMS contents are first gathered at the front of buf, in
 * place: buf is changed, and names and values are not NUL-terminated.
 * fn returns 0 to go on. Returns 0, or -1 with errno EPROTO if a length
 * runs past the end of the stream.
 */
int record_params(struct record_reader *r, unsigned char *buf,
    record_param_fn fn, void *arg);

/*
 * record_pairs: call fn(arg, name, value) for each name-value pair of
 * params[0..len), as record_params gathered them (record_params gives
 * their length in *gathered). Returns 0, or -1 with errno EPROTO.
 */
int record_pairs(const unsigned char *params, size_t len,
    record_param_fn fn, void *arg);

/* record_gathered: how many bytes of params the last record_params of
 * r gathered at the front of its buf. */
size_t record_gathered(const struct record_reader *r);

/*
 * record_body_to: write the FCGI_STDIN contents of a whole request that
 * record_scan accepted to fd (write(2), blocking), before record_params
 * overwrites the records. Returns 0, or -1 with errno set.
 */
int record_body_to(const struct record_reader *r, const unsigned char *buf,
    int fd);

/*
 * record_body: copy the FCGI_STDIN contents (the request body) of a
 * whole request that record_scan accepted to out, at most cap bytes.
 * Call before record_params, which overwrites the records. Returns
 * the body's whole length (more than cap: it did not fit).
 */
size_t record_body(const struct record_reader *r, const unsigned char *buf,
    unsigned char *out, size_t cap);

/*
 * record_reply: answer request id on fd: FCGI_STDOUT records holding
 * head then body (CGI response, RFC 3875 6), the empty FCGI_STDOUT,
 * and FCGI_END_REQUEST with FCGI_REQUEST_COMPLETE, in one write(2)
 * that never blocks. An answer of a few KiB always fits a unix socket's
 * buffer (over 200 KiB); of a larger one (a program's), what did not
 * fit is put in *rest (malloc'd, *rest_len bytes) for the caller to
 * write when the socket is writable; rest NULL: it is an error.
 * Returns 0, or -1 with errno set (EAGAIN: the peer's buffer is full;
 * EPIPE, ECONNRESET: the peer left; ENOMEM).
 */
int record_reply(int fd, unsigned id, const char *head, size_t hlen,
    const char *body, size_t blen, unsigned char **rest, size_t *rest_len);

/*
 * record_peer_gone: has the web server closed its end of fd? nginx does so as
 * soon as its client goes (fastcgi_ignore_client_abort off). poll(2)
 * POLLRDHUP with no wait. Returns 1 or 0.
 */
int record_peer_gone(int fd);

#endif
