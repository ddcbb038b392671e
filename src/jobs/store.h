/*
 * store.h - the job store: every job and its state, durable before a
 * 202 is sent. SQLite on one host, PostgreSQL (the lock engine) across
 * hosts, behind db.h. Safe from the loop and the runner thread alike
 * (one recursive mutex: a transaction is never interleaved).
 */
#ifndef SERIALCGI_STORE_H
#define SERIALCGI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/*
 * store_init: the store is the SQLite database at path, or, if url is
 * not NULL, the PostgreSQL engine at url; its identity is kept beside
 * the scoreboard at board_path (store_id.h). Nothing is opened yet: the
 * first call that needs the store opens it (creating the tables if
 * missing), and opens it again after store_close(). Each open checks
 * that the store is the store of record: one that was emptied,
 * replaced or deleted is refused (errno ESTALE, said once in the log)
 * until an operator removes the identity file. Call after fork(2).
 */
void store_init(const char *path, const char *url, const char *board_path);

/*
 * store_check: at start, without loading SQLite: is the store of
 * record lost, its file gone or empty? Then it is refused from now on
 * (logged). Returns 0, or -1 with errno ESTALE.
 */
int store_check(void);

/* store_blank: is the store a new, empty SQLite file (as jobs_init's
 * check made it), so that no job can be in it? Tells without loading
 * SQLite. Returns 1 or 0 (PostgreSQL: 0, it cannot tell). */
int store_blank(void);

/* store_close: let the connection go while no job is about (its memory,
 * or an engine session); the next call opens it again. */
void store_close(void);

/* store_backend: "sqlite" or "postgresql". store_path: the SQLite
 * file, or NULL (the engine holds the jobs). */
const char *store_backend(void);
const char *store_path(void);

/* store_error: the last failure, one line, for the log; while the
 * store is refused, why, in words a client may read. */
const char *store_error(void);

/* store_state_name: "ok", "full", "refused" or "failing". */
const char *store_state_name(int state);

/*
 * store_tx_begin, store_tx_end: one write transaction (commit 1: COMMIT,
 * 0: ROLLBACK), holding the store to this thread from begin to end. A
 * rollback keeps the error of what failed before it. Return 0, or -1
 * with errno set (store_error says why).
 *
 * Every call that uses the store returns -1 with errno ENOSPC when the
 * store is full, ESTALE when it is refused (not the store of record),
 * and another errno for other failures.
 */
int store_tx_begin(void);
int store_tx_end(int commit);

/* store_find_key: the job submitted with Idempotency-Key key, and the
 * body it came with (at most blen bytes with its NUL). Returns 1 found,
 * 0 not, -1 error. */
int store_find_key(const char *key, struct job *j, char *body,
    size_t blen);

/* store_count: how many jobs have status s. Returns it, or -1. */
long store_count(enum job_status s);

/*
 * store_insert: a new queued job, with its Idempotency-Key and what
 * tells its request (or NULLs); for a job of real work (j->kind), the
 * request's environment block (work_env.h) and its body, as bytes, to
 * run later (or NULLs). Returns 0, or -1 with errno EEXIST if the id
 * or the key is taken (the transaction goes on), ENOMEM, or another
 * errno on failure.
 */
int store_insert(const struct job *j, const char *key, const char *body,
    const struct job_blob *env, const struct job_blob *in);

/* store_get: the job with id. Returns 1 found, 0 not, -1 error. */
int store_get(const char *id, struct job *j);

/*
 * store_cancel: a queued job becomes canceled at now (wall s), its
 * callback due. Returns 1 canceled, 0 no such job, 2 not queued (j
 * holds it as it is), -1 error. j holds the job after.
 */
int store_cancel(const char *id, double now, struct job *j);

/*
 * store_start: mark j running at started (wall s), if it is still
 * queued and still ours (gen, owner slot and pid as in j): the one
 * write that makes a job run at most once. Returns 1 marked, 0 not
 * (canceled, or adopted by another), -1 error.
 */
int store_start(const struct job *j, double started);

/*
 * store_end: j, running (or queued, when its turn failed before work)
 * and ours, ends with j->status (succeeded with
 * elapsed, wait, work and fence; failed with error_code and
 * error_message) at j->finished; a callback becomes due. A job of
 * real work keeps its answer (result: the bytes, or NULL), with
 * j's result_*, partial, exit_status and last progress, and lets its
 * request's body go. Returns 1 written, 0 not ours any more, -1 error.
 */
int store_end(const struct job *j, const struct job_blob *result);

/* store_list: jobs newest first, status s (or any with NULL), seq below
 * before (0: from the newest), at most limit, each to fn. Returns the
 * number listed, or -1. */
long store_list(const enum job_status *s, long long before, long limit,
    job_fn fn, void *arg);

/* store_scan: the jobs of node with status s, oldest first, each to fn
 * (janitor: adoption and interruption). Returns 0 or -1. */
int store_scan(const char *node, enum job_status s, job_fn fn,
    void *arg);

/*
 * store_interrupt: j, running when its responder died (or when the end
 * of its work could not be known), becomes failed "interrupted" at now,
 * with why as the message, if it is still as j says (same owner).
 * Returns 1, 0, or -1 as store_start.
 */
int store_interrupt(const struct job *j, double now, const char *why);

/*
 * store_adopt: j, queued, whose owner died, becomes ours with a place
 * in the queue: node, incarnation gen, ticket, slot, pid; only if it
 * is still as j says. Returns 1 adopted, 0 not (taken by another), -1
 * error.
 */
int store_adopt(const struct job *j, const char *node, uint64_t gen,
    uint64_t ticket, int slot, long pid);

/* store_queued_ticket: does a queued job of node, owned by incarnation
 * gen, hold ticket? Returns 1, 0, or -1 on error. */
int store_queued_ticket(const char *node, uint64_t gen, uint64_t ticket);

/* store_purge: forget jobs finished before `before` (wall s). Returns
 * how many, or -1. */
long store_purge(double before);

/* store_due: jobs whose callback is pending (due or not) or being
 * delivered (for the caller to tell whether its deliverer lives),
 * soonest first, each to fn, at most limit. Returns 0 or -1. */
int store_due(long limit, job_fn fn, void *arg);

/*
 * store_cb_claim: take j's delivery for node, gen, slot, pid at now
 * (wall s), if it is still as j says (pending and due, or delivering
 * by the same dead deliverer). Returns 1 taken, 0 not, -1 error.
 */
int store_cb_claim(const struct job *j, const char *node, uint64_t gen,
    int slot, long pid, double now);

/* store_cb_result: record an attempt of j's delivery: its new state
 * (pending again with next_at, delivered or failed), attempts, the last
 * HTTP status and error; only if the claim is still j's (cb_node and
 * cb_pid). Returns 0 or -1. */
int store_cb_result(const struct job *j);

#endif
