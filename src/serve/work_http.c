/* work_http.c - /work: a CGI program as the work. See work_http.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "cgi_env.h"
#include "log.h"
#include "reply.h"
#include "runner.h"
#include "work_cgi.h"
#include "work_env.h"
#include "work_http.h"
#include "work_upstream.h"

static struct {
	const struct work_backend *be;	/* a program's, an upstream's, or
					 * NULL: /work is 404 */
	int		 stop_on_abort;	/* WORK_ON_ABORT=stop */
} wh;

/* A small body kept in c->body: into a memfd too, so that the program
 * reads every body the same way, as a file on its stdin. */
static int
body_fd(struct conn *c)
{
	if (c->body_fd >= 0 || c->body_len == 0)
		return c->body_fd;
	return c->body_fd = work_stdin_fd(c->body, c->body_len);
}

/* The lock is held: the program, its environment, its stdin. */
static int
prepare(struct source *s, struct work *w)
{
	struct conn *c = (struct conn *)s;
	const struct turn *t = &s->turn;
	char *block = NULL;
	size_t blen;

	w->be = wh.be;
	if (cgi_env_request(c->params, c->params_len, c->body_len, &block,
	    &blen) == 0)
		c->env = work_env_turn(block, blen, c->id, t->t1 - t->t0,
		    t->token, NULL);
	free(block);
	if (c->env == NULL || (c->body_len > 0 && body_fd(c) == -1)) {
		snprintf(w->why, sizeof(w->why), "the program's %s: %s",
		    c->env == NULL ? "environment" : "stdin",
		    strerror(errno));
		return -1;
	}
	w->env = c->env;
	w->stdin_fd = c->body_fd;
	w->abort_fd = wh.stop_on_abort ? c->fd : -1;
	return 0;
}

/* The program's answer, as it made it, with our timing. */
static void
answer_done(struct conn *c, const struct turn *t, const struct work *w)
{
	char extra[REPLY_TIMING_MAX];

	reply_timing(t, extra, sizeof(extra));
	if (reply_cgi(c, w->answer, w->head_len, w->answer_len, extra) ==
	    -1)
		log_err("req=%s worked, but the answer was lost: %s", c->id,
		    strerror(errno));
	else
		log_msg("req=%s %d wait=%.3fms work=%.3fms", c->id, w->status,
		    (t->t1 - t->t0) * 1e3, (t->t2 - t->t1) * 1e3);
}

/* A work that ended otherwise: its status and one line why. */
static void
answer_failed(struct conn *c, const struct work *w)
{
	int status = w->end == WORK_TIMEOUT ? 504 : 502;

	log_warn("req=%s %d: %s", c->id, status, w->why);
	(void)reply_error(c, status, "", w->why);
}

static void
answer(struct source *s, enum turn_outcome how)
{
	struct conn *c = (struct conn *)s;
	const struct work *w = runner_work(s);

	runner_count_work(s, how);
	switch (how) {
	case TURN_SERVED:
		if (w->end == WORK_DONE && conn_gone(s))
			/* WORK_ON_ABORT=finish: it ran to its end for
			 * nobody; not a failure to write. */
			log_msg("req=%s %d, answer dropped: client gone",
			    c->id, w->status);
		else if (w->end == WORK_DONE)
			answer_done(c, &s->turn, w);
		else if (w->end == WORK_ABORTED)
			log_msg("req=%s program stopped: client gone", c->id);
		else
			answer_failed(c, w);
		break;
	case TURN_FAILED:
		if (w->end == WORK_FAILED)
			answer_failed(c, w);
		else
			reply_error(c, 500, "", "lock failed");
		break;
	case TURN_LOST:
		reply_unavailable(c, "lock lost");
		break;
	case TURN_UNAVAILABLE:
		reply_unavailable(c, "lock engine unreachable");
		break;
	case TURN_REPLACED:
		reply_unavailable(c, "responder is restarting");
		break;
	case TURN_STOPPING:
		reply_unavailable(c, "responder is stopping");
		break;
	case TURN_SKIPPED:
		break;
	}
}

static const struct source_ops work_source = {
	.gone = conn_gone,
	.prepare = prepare,
	.answer = answer,
	.release = conn_release,
};

const struct source_ops *
work_http_ops(struct conn *c)
{
	if (wh.be == NULL) {
		log_msg("req=%s 404 %.64s: no WORK_COMMAND or WORK_URL",
		    c->id, c->path);
		reply_error(c, 404, "", "not found: no work here "
		    "(WORK_COMMAND, WORK_URL)");
		return NULL;
	}
	if (c->rejected) {
		reply_busy(c);
		return NULL;
	}
	return &work_source;
}

const struct work_backend *
work_http_backend(void)
{
	return wh.be;
}

void
work_http_init(const struct config *cfg)
{
	wh.be = cfg->work_command != NULL ? &work_cgi :
	    cfg->work_url != NULL ? &work_upstream : NULL;
	wh.stop_on_abort = cfg->work_on_abort != NULL &&
	    strcmp(cfg->work_on_abort, "stop") == 0;
}
