/*
 * http.h - one FastCGI request as the event loop holds it, and its
 * HTTP meaning: route, park for a turn, answer (CGI/1.1 variables of
 * RFC 3875 as nginx's fastcgi_params sends them; statuses of RFC 9110).
 */
#ifndef SERIALCGI_HTTP_H
#define SERIALCGI_HTTP_H

#include <stddef.h>

#include "record.h"
#include "settings.h"
#include "source.h"

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
	char		 id[65];
	signed char	 view;		/* /status's, from QUERY_STRING
					 * (status.h) */
	int		 rejected;	/* nginx's limit_conn said no */
	long		 queue;		/* nginx's bound, for the 503 */
};

/*
 * http_params: read what the routes need from the FCGI_PARAMS of the
 * whole request in buf (record_params: buf is changed). Returns 0, or
 * -1 with errno EPROTO.
 */
int http_params(struct conn *c, unsigned char *buf);

/*
 * http_route: answer c at once (/status, /metrics, 404, 405, the 503s)
 * or, for GET and HEAD /test, stamp its arrival, take its ticket and
 * park it with the turn runner. stopping: the responder no longer
 * queues anything. Returns 1 if c is parked (the runner or the loop
 * owns it now), 2 if parked in a process that had nothing to do until
 * then, 0 if it was answered and may be closed.
 */
int http_route(struct conn *c, int stopping);

/* http_init: the answers' constants from cfg (Retry-After); lock_engine
 * is the lock backend's name when it has an engine, else NULL, for
 * /status and /metrics (metrics.h). */
void http_init(const struct config *cfg, const char *lock_engine);

/* The source operations of a parked request (runner.c calls them). */
extern const struct source_ops http_source;

#endif
