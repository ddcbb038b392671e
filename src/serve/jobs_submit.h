/*
 * jobs_submit.h - submissions of jobs, stored in batches: one
 * transaction, and one fsync of the store's log, for every submission
 * whose request came whole in one round of the event loop; each takes
 * its ticket when its request is whole, as GET /test does, and is
 * answered after the commit: 202 Accepted with Location, or the
 * refusal's status.
 */
#ifndef SERIALCGI_JOBS_SUBMIT_H
#define SERIALCGI_JOBS_SUBMIT_H

#include "conn.h"

/* jobs_submit_init: went_busy is called when a batch gave this idle
 * process work (fcgi_went_busy: it moves to the back of the listener's
 * queue). Call before the loop runs. */
void jobs_submit_init(void (*went_busy)(void));

/*
 * jobs_submit: POST /jobs, a job of the sleep (its body: nothing, or
 * {"callback_url": ...}); stopping: the responder takes no new job.
 * Returns 1 if c is held for its batch (answered after it, and handed
 * back through c->done), or 0 if it was answered already.
 */
int jobs_submit(struct conn *c, int stopping);

/*
 * jobs_submit_work: a /work request that asks respond-async
 * (work_async_wanted): kept as a job of real work (work_async.h), and
 * answered 202 with Preference-Applied: respond-async (RFC 7240 3) too.
 * Returns as jobs_submit.
 */
int jobs_submit_work(struct conn *c, int stopping);

#endif
