/*
 * conn.h - one FastCGI connection as the responder holds it: the
 * request it carries (nginx sends one per connection), read from its
 * FCGI_PARAMS with the names of CGI/1.1 (RFC 3875 4.1) as nginx's
 * fastcgi_params sends them, and its body.
 */
#ifndef SERIALCGI_CONN_H
#define SERIALCGI_CONN_H

#include <stddef.h>

#include "loop.h"
#include "record.h"
#include "source.h"

#define CONN_KEY_MAX	128	/* bytes of an Idempotency-Key */
#define CONN_BODY_MAX	4096	/* bytes of a request body kept */

struct conn {
	struct source	 src;		/* first: a parked request is a
					 * source for the turn runner */
	struct loop_fd	 ev;		/* its socket in the event loop */
	int		 fd;
	int		 parked;	/* whole and handed to the runner */
	struct record_reader rr;
	unsigned char	*buf;		/* the request so far, if it came
					 * in pieces; else NULL */
	size_t		 len, cap;
	double		 deadline;	/* mono s: whole by then, or closed */
	struct conn	*prev, *next;	/* reading list, or done list */
	/* Called once the runner is done with it (any thread): hands the
	 * connection back to whoever closes it (fcgi.c). */
	void		(*done)(struct conn *);
	/* What the request asked, from its FCGI_PARAMS. */
	char		 method[16];
	char		 path[72];
	int		 path_cut;	/* longer than path holds */
	int		 doc_uri;	/* DOCUMENT_URI came: it wins */
	char		 id[65];
	int		 rejected;	/* nginx's limit_conn said no */
	long		 queue;		/* nginx's bound, for the 503 */
	char		 query[256];	/* QUERY_STRING, cut */
	char		 ctype[80];	/* CONTENT_TYPE, cut */
	char		 key[CONN_KEY_MAX + 3];	/* Idempotency-Key, maybe
						 * in quotes */
	size_t		 key_len;	/* its whole length */
	int		 local;		/* SERIALCGI_LOCAL: nginx says the
					 * client is this host */
	int		 prefer_async;	/* Prefer: respond-async */
	char		*body;		/* FCGI_STDIN, NUL-ended, or NULL:
					 * up to CONN_BODY_MAX bytes */
	size_t		 body_len;	/* its whole length */
	int		 body_fd;	/* a larger body, whole, in a
					 * memfd(2); else -1 */
	/* For /work: every param as record_params gathered them, for the
	 * program's environment (work_cgi.h). */
	unsigned char	*params;
	size_t		 params_len;
	char		**env;		/* the program's, once built */
	/* An answer too large for the socket's buffer: what is left of
	 * it, for the loop to write (fcgi.c). */
	unsigned char	*out;
	size_t		 out_len, out_off;
};

/*
 * conn_params: read what the routes need from the FCGI_PARAMS of the
 * whole request in buf (record_params: buf is changed), and keep its
 * body: up to CONN_BODY_MAX bytes in c->body, a larger one in a memfd
 * (c->body_fd); for /work, all its params too. Returns 0, or -1 with
 * errno EPROTO, ENOMEM or memfd_create(2)'s.
 */
int conn_params(struct conn *c, unsigned char *buf);

/* conn_is_work: is c for /work or below? */
int conn_is_work(const struct conn *c);

/* conn_pref_async: is the one preference pref[0..len) of a Prefer field
 * (RFC 7240 2: a token, maybe "=value" and ";parameters"; no comma)
 * respond-async? Returns 1 or 0. */
int conn_pref_async(const char *pref, size_t len);

/* conn_free: close and free what c holds beyond itself (body, params,
 * environment, a pending answer). */
void conn_free(struct conn *c);

/* The source operations every parked request shares: conn_gone: has
 * the requester left (s->gone, or nginx closed the connection: it does
 * when its client leaves)? Returns 1 or 0. conn_release: hand c back
 * to whoever closes it (c->done). */
int conn_gone(struct source *s);
void conn_release(struct source *s);

/* conn_is: is c's method one of the words of list ("GET HEAD")?
 * Returns 1 or 0. */
int conn_is(const struct conn *c, const char *list);

#endif
