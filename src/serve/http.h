/*
 * http.h - the routes of a whole request: GET and HEAD /test park for
 * a turn and are answered by the turn runner; /status, /metrics, the
 * jobs (jobs_http.h), 404, 405 and the 503s are answered at once.
 */
#ifndef SERIALCGI_HTTP_H
#define SERIALCGI_HTTP_H

#include "conn.h"
#include "settings.h"

/* http_init: the answers' constants from cfg; lock_engine is the lock
 * backend's name when it has an engine, else NULL, for /status and
 * /metrics (metrics.h). */
void http_init(const struct config *cfg, const char *lock_engine);

/*
 * http_route: answer c at once, or, for GET and HEAD /test, stamp its
 * arrival, take its ticket and park it with the turn runner, which
 * calls c->done once it is finished with it. stopping: the responder
 * no longer queues anything. Returns an enum http_verdict.
 */
enum http_verdict {
	HTTP_ANSWERED,		/* c may be closed */
	HTTP_PARKED,		/* the runner owns c now */
	HTTP_PARKED_IDLE,	/* the same, in a process that had nothing
				 * to do until then */
	HTTP_HELD		/* a job submission, held for its batch,
				 * which calls c->done once it answered */
};
int http_route(struct conn *c, int stopping);

#endif
