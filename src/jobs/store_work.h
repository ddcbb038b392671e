/*
 * store_work.h - what the job store keeps for a job of real work beyond
 * its row (store.h): the request it runs later (its environment block
 * and its body), its answer, its progress while it runs, a cancel asked
 * from any host; and the bytes they all hold, against JOB_RESULTS_MAX.
 * Bytes are kept as base64 (RFC 4648 section 4, through libcrypto's
 * EVP_EncodeBlock): SQL text holds no NUL.
 */
#ifndef SERIALCGI_STORE_WORK_H
#define SERIALCGI_STORE_WORK_H

#include "job.h"

/* store_work_encode: b's bytes in base64, NUL-ended, malloc'd. Returns
 * it, or NULL with errno ENOMEM, or ENOSYS if libcrypto cannot be
 * loaded (webapi.h). */
char *store_work_encode(const struct job_blob *b);

/*
 * store_work_request: the request job id keeps, to run it: its
 * environment block into env and its body into in (malloc'd, free()
 * p of each; in->p NULL for none). Returns 1, 0 if the job keeps no
 * request (gone, or not a job of real work), or -1 with errno set
 * (EBADMSG: what is stored is no base64).
 */
int store_work_request(const char *id, struct job_blob *env,
    struct job_blob *in);

/* store_work_result: the answer job id keeps, as its work made it, into
 * res (malloc'd; res->p NULL for none). Returns 1, 0 if there is none,
 * or -1 as store_work_request. */
int store_work_result(const char *id, struct job_blob *res);

/* store_work_progress: j's last progress line (j->progress, 0..1, and
 * j->progress_note), if j still runs and is still ours (store_start's
 * owner). Returns 1 written, 0 not, -1 error. */
int store_work_progress(const struct job *j);

/* store_work_ask_cancel: a running job of real work is asked to stop,
 * from any responder of any host; its owner stops the work
 * (store_work_cancel_asked) and ends it canceled. Returns 1 asked (or
 * asked already), 0 if it is not such a job running, -1 error. */
int store_work_ask_cancel(const char *id);

/* store_work_cancel_asked: was a cancel of job id asked? Returns 1, 0,
 * or -1 on error. */
int store_work_cancel_asked(const char *id);

/* store_work_bytes: bytes of request bodies and answers the store keeps
 * now, in all. Returns them, or -1 on error. */
long long store_work_bytes(void);

#endif
