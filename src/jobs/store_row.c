/* store_row.c - the job store's rows: see store_row.h. */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "store_conn.h"
#include "store_row.h"

void
store_row_s(struct store_row_args *a, const char *s)
{
	a->v[a->n++] = s;
}

void
store_row_s0(struct store_row_args *a, const char *s)	/* "" is NULL */
{
	a->v[a->n++] = s != NULL && *s != '\0' ? s : NULL;
}

void
store_row_ll(struct store_row_args *a, long long x)
{
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%lld", x);
	a->v[a->n] = a->buf[a->n];
	a->n++;
}

void
store_row_u64(struct store_row_args *a, uint64_t x)
{
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%llu",
	    (unsigned long long)x);
	a->v[a->n] = a->buf[a->n];
	a->n++;
}

void
store_row_d(struct store_row_args *a, double x)		/* 0 is NULL */
{
	store_row_f(a, x, x == 0);
}

void
store_row_f(struct store_row_args *a, double x, int null)
{
	if (null) {
		a->v[a->n++] = NULL;
		return;
	}
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%.6f", x);
	a->v[a->n] = a->buf[a->n];
	a->n++;
}

void
store_row_ll_or_null(struct store_row_args *a, long long x, int null)
{
	if (null)
		a->v[a->n++] = NULL;
	else
		store_row_ll(a, x);
}

int
store_row_run(const char *sql, const struct store_row_args *a,
    db_row_fn fn, void *arg, long *changes)
{
	return store_conn_run(sql, a != NULL ? a->n : 0, a != NULL ? a->v :
	    NULL, fn, arg, changes);
}

static void
copy(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", v != NULL ? v : "");
}

static double
num(const char *v)
{
	double d;

	return v != NULL && parse_double(v, &d) == 0 ? d : 0;
}

static long long
whole(const char *v)
{
	long x;

	return v != NULL && parse_count(v, LONG_MIN, LONG_MAX, &x) == 0 ?
	    x : 0;
}

/* A row of STORE_ROW_COLS into j. */
void
store_row_decode(const char *const *v, struct job *j)
{
	enum job_status st = JOB_FAILED;

	memset(j, 0, sizeof(*j));
	j->seq = whole(v[0]);
	copy(j->id, sizeof(j->id), v[1]);
	(void)job_status_parse(v[2] != NULL ? v[2] : "", &st);
	j->status = st;
	copy(j->node, sizeof(j->node), v[3]);
	j->gen = (uint64_t)strtoull(v[4] != NULL ? v[4] : "0", NULL, 10);
	j->ticket = (uint64_t)whole(v[5]);
	j->owner_slot = (int)whole(v[6]);
	j->owner_pid = (long)whole(v[7]);
	j->arrived_mono = num(v[8]);
	j->created = num(v[9]);
	j->started = num(v[10]);
	j->finished = num(v[11]);
	j->elapsed = num(v[12]);
	j->wait = num(v[13]);
	j->work = num(v[14]);
	j->fence = (uint64_t)whole(v[15]);
	copy(j->error_code, sizeof(j->error_code), v[16]);
	copy(j->error_message, sizeof(j->error_message), v[17]);
	copy(j->cb_url, sizeof(j->cb_url), v[18]);
	copy(j->cb_state, sizeof(j->cb_state), v[19]);
	j->cb_attempts = (int)whole(v[20]);
	j->cb_next_at = num(v[21]);
	j->cb_last_status = (int)whole(v[22]);
	copy(j->cb_last_error, sizeof(j->cb_last_error), v[23]);
	copy(j->cb_node, sizeof(j->cb_node), v[24]);
	j->cb_gen = (uint64_t)strtoull(v[25] != NULL ? v[25] : "0", NULL,
	    10);
	j->cb_slot = (int)whole(v[26]);
	j->cb_pid = (long)whole(v[27]);
	j->kind = v[28] != NULL && strcmp(v[28], "work") == 0 ? JOB_WORK :
	    JOB_SLEEP;
	j->exit_status = v[29] != NULL ? (int)whole(v[29]) : -1;
	j->result_status = (int)whole(v[30]);
	copy(j->result_type, sizeof(j->result_type), v[31]);
	j->result_size = whole(v[32]);
	j->body_size = whole(v[33]);
	j->partial = whole(v[34]) != 0;
	j->progress = v[35] != NULL ? num(v[35]) : -1;
	copy(j->progress_note, sizeof(j->progress_note), v[36]);
	j->cancel_asked = whole(v[37]) != 0;
}

/* Row callbacks: one job into *arg, or each job to a job_fn. */
int
store_row_one(void *arg, int n, const char *const *v)
{
	if (n >= STORE_ROW_NCOLS)
		store_row_decode(v, arg);
	return 1;	/* one is enough */
}

int
store_row_each_fn(void *arg, int n, const char *const *v)
{
	struct store_row_each *e = arg;

	if (n < STORE_ROW_NCOLS)
		return 0;
	store_row_decode(v, &e->j);
	e->n++;
	return e->fn(e->arg, &e->j);
}

int
store_row_count(void *arg, int n, const char *const *v)
{
	*(long *)arg = n > 0 ? (long)whole(v[0]) : 0;
	return 1;
}


void
store_row_owner(struct store_row_args *a, const struct job *j)
{
	store_row_s(a, j->id);
	store_row_u64(a, j->gen);
	store_row_ll(a, j->owner_slot);
	store_row_ll(a, j->owner_pid);
}

