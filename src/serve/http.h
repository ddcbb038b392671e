/*
 * http.h - one FastCGI request as the event loop holds it, and its
 * HTTP meaning: route, park for a turn, answer (CGI/1.1 variables of
 * RFC 3875 as nginx's fastcgi_params sends them; statuses of RFC 9110).
 */
#ifndef SERIALCGI_HTTP_H
#define SERIALCGI_HTTP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "record.h"
#include "settings.h"
#include "source.h"

#define HTTP_KEY_MAX	128	/* bytes of an Idempotency-Key */
#define HTTP_BODY_MAX	4096	/* bytes of a request body kept */

struct conn {
	struct source	 src;		/* first: a parked request is a
					 * source for the turn runner */
	int		 fd;
	int		 armed;		/* registered with the epoll set */
	int		 parked;	/* whole and handed to the runner */
	struct record_reader rr;
	unsigned char	*buf;		/* the request so far, if it came
					 * in pieces; else NULL */
	size_t		 len, cap;
	double		 deadline;	/* mono s: whole by then, or closed */
	struct conn	*prev, *next;	/* reading list, or done list */
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
	char		 key[HTTP_KEY_MAX + 3];	/* Idempotency-Key, maybe
						 * in quotes */
	size_t		 key_len;	/* its whole length */
	int		 local;		/* SERIALCGI_LOCAL: nginx says the
					 * client is this host */
	char		*body;		/* FCGI_STDIN, NUL-ended, or NULL */
	size_t		 body_len;	/* its whole length */
};

/*
 * http_params: read what the routes need from the FCGI_PARAMS of the
 * whole request in buf (record_params: buf is changed), and keep its
 * body, up to HTTP_BODY_MAX bytes. Returns 0, or -1 with errno EPROTO
 * or ENOMEM.
 */
int http_params(struct conn *c, unsigned char *buf);

/*
 * http_route: answer c at once (/status, /metrics, 404, 405, the 503s)
 * or, for GET and HEAD /test, stamp its arrival, take its ticket and
 * park it with the turn runner. stopping: the responder no longer
 * queues anything. Returns an enum route_verdict.
 */
enum route_verdict {
	ROUTE_ANSWERED,		/* c may be closed */
	ROUTE_PARKED,		/* the runner or the loop owns c now */
	ROUTE_PARKED_IDLE,	/* the same, in a process that had nothing
				 * to do until then */
	ROUTE_ANSWERED_BUSY	/* c may be closed; a job it submitted
				 * gave an idle process work */
};
int http_route(struct conn *c, int stopping);

/* http_init: the answers' constants from cfg (Retry-After); lock_engine
 * is the lock backend's name when it has an engine, else NULL, for
 * /status and /metrics (metrics.h). */
void http_init(const struct config *cfg, const char *lock_engine);

/*
 * http_reply: answer c with status and a JSON body printed by cJSON
 * (NULL: a 500 for want of memory); extra is more header lines, each
 * ending in CRLF, or "". http_reply_error: the body {"error": why}.
 * http_retry_after: the Retry-After header line for this service's
 * 503s and monitors. Return 0, or -1 with errno set (record_reply).
 */
int http_reply(struct conn *c, int status, const char *extra, cJSON *body);
int http_reply_error(struct conn *c, int status, const char *extra,
    const char *why);
const char *http_retry_after(void);

/* The source operations of a parked request (runner.c calls them). */
extern const struct source_ops http_source;

#endif
