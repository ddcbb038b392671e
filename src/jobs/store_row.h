/*
 * store_row.h - the job store's rows as store.c and store_work.c read
 * and write them: a job's columns (STORE_ROW_COLS) into a struct job,
 * and the text of a statement's parameters ($1, $2 ...), one statement
 * under the store's mutex. For the store's files alone; the rest of
 * the program uses store.h.
 */
#ifndef SERIALCGI_STORE_ROW_H
#define SERIALCGI_STORE_ROW_H

#include <stdint.h>

#include "db.h"
#include "job.h"

/* A job's columns, in the order store_row_decode reads them. */
#define STORE_ROW_COLS \
	"seq, id, status, node, gen, ticket, owner_slot, owner_pid, " \
	"arrived_mono, created_at, started_at, finished_at, elapsed, " \
	"wait, work, fence, error_code, error_message, cb_url, " \
	"cb_state, cb_attempts, cb_next_at, cb_last_status, " \
	"cb_last_error, cb_node, cb_gen, cb_slot, cb_pid, kind, " \
	"exit_status, result_status, result_type, result_size, " \
	"body_size, partial, progress, progress_note, cancel_asked"
#define STORE_ROW_NCOLS	38

/* A statement's parameters: n of them, as text or NULL; numbers are
 * printed into buf. */
struct store_row_args {
	const char	*v[24];
	char		 buf[24][32];
	int		 n;
};

/* For store_row_each_fn: each job to fn(arg), n counted. */
struct store_row_each {
	job_fn	 fn;
	void		*arg;
	long		 n;
	struct job	 j;
};

/* store_row_s: a text; store_row_s0: a text, NULL for ""; store_row_ll,
 * store_row_u64: a number; store_row_d: seconds (%.6f), NULL for 0;
 * store_row_f, store_row_ll_or_null: a number, or NULL if null;
 * store_row_owner: j's id, incarnation, slot and pid ($1 .. $4: see
 * STORE_ROW_OURS). Each appends one parameter (four) to a. */
void store_row_s(struct store_row_args *a, const char *s);
void store_row_s0(struct store_row_args *a, const char *s);
void store_row_ll(struct store_row_args *a, long long x);
void store_row_u64(struct store_row_args *a, uint64_t x);
void store_row_d(struct store_row_args *a, double x);
void store_row_f(struct store_row_args *a, double x, int null);
void store_row_ll_or_null(struct store_row_args *a, long long x, int null);
void store_row_owner(struct store_row_args *a, const struct job *j);

/* The job is still its owner's, as store_row_owner gave it. */
#define STORE_ROW_OURS	"gen = $2 AND owner_slot = $3 AND owner_pid = $4"

/* store_row_run: one statement with a's parameters (or none, NULL),
 * under the store's mutex (store_conn_run). Returns as db_exec. */
int store_row_run(const char *sql, const struct store_row_args *a,
    db_row_fn fn, void *arg, long *changes);

/* store_row_decode: a row of STORE_ROW_COLS into j. */
void store_row_decode(const char *const *v, struct job *j);

/* Row callbacks (db_row_fn): store_row_one, the first row into the
 * struct job at arg (untouched if none); store_row_each_fn, each row to
 * a struct store_row_each; store_row_count, the first column of the
 * first row, a number, into the long at arg. */
int store_row_one(void *arg, int n, const char *const *v);
int store_row_each_fn(void *arg, int n, const char *const *v);
int store_row_count(void *arg, int n, const char *const *v);

#endif
