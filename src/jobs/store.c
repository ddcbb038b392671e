/* store.c - the job store's SQL, the same for both backends (db.h). */
#define _GNU_SOURCE	/* malloc_trim */

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board_stats.h"
#include "db.h"
#include "lock.h"
#include "log.h"
#include "parse.h"
#include "store.h"
#include "store_conn.h"
#include "store_row.h"
#include "store_id.h"
#include "store_work.h"

#define TABLE	STORE_TABLE
#define COLS	STORE_ROW_COLS
#define NCOLS	STORE_ROW_NCOLS
#define OURS	STORE_ROW_OURS
/* A job of real work that is final lets its request go: its body (the
 * room it takes counts against JOB_RESULTS_MAX) and its environment
 * (the request's headers, credentials among them, are kept no longer
 * than needed). */
#define LET_GO	"request = NULL, body = NULL, body_size = 0"

/* One statement, its parameters as a holds them (store_row.h). */
static int
run(const char *sql, const struct store_row_args *a, db_row_fn fn,
    void *arg, long *changes)
{
	return store_row_run(sql, a, fn, arg, changes);
}


void
store_init(const char *path, const char *url, const char *board_path)
{
	struct store_conn *sc = &store_conn;
	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&sc->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	sc->path = path;
	sc->url = url;
	if (store_id_path(board_path, sc->idpath, sizeof(sc->idpath)) == -1)
		sc->idpath[0] = '\0';
}

int
store_check(void)
{
	struct store_conn *sc = &store_conn;
	char want[STORE_ID_LEN + 1];
	int rc;

	store_conn_lock();
	rc = sc->db.be == NULL && store_conn_recorded(want) == -1 ? -1 : 0;
	store_conn_unlock();
	return rc;
}

int
store_blank(void)
{
	return store_conn_blank();
}

void
store_close(void)
{
	struct store_conn *sc = &store_conn;

	store_conn_lock();
	if (sc->db.be != NULL) {
		db_close(&sc->db);
		/* Give the connection's pages back to the kernel, not only
		 * to malloc (malloc_trim(3)). */
		(void)malloc_trim(0);
	}
	store_conn_unlock();
}

const char *
store_backend(void)
{
	struct store_conn *sc = &store_conn;

	return sc->url != NULL ? "postgresql" : "sqlite";
}

const char *
store_path(void)
{
	struct store_conn *sc = &store_conn;

	return sc->url != NULL ? NULL : sc->path;
}

const char *
store_error(void)
{
	struct store_conn *sc = &store_conn;

	return sc->refused ? sc->why : sc->db.error;
}

const char *
store_state_name(int state)
{
	static const char *const names[] = { "ok", "full", "refused",
	    "failing" };

	return state >= 0 && state <= STORE_FAILING ? names[state] : "ok";
}

int
store_tx_begin(void)
{
	struct store_conn *sc = &store_conn;

	store_conn_lock();
	if (store_conn_ensure() == 0 && db_begin(&sc->db) == 0)
		return 0;
	store_conn_failed();
	store_conn_note(-1, 1);
	store_conn_unlock();
	return -1;
}

int
store_tx_end(int commit)
{
	struct store_conn *sc = &store_conn;
	int rc = 0;

	if (!commit)
		store_conn_rollback();
	else if ((rc = db_commit(&sc->db)) == -1)
		store_conn_rollback();
	if (commit) {
		if (rc == -1)
			store_conn_failed();
		store_conn_note(rc, 1);
	}
	store_conn_unlock();
	return rc;
}

struct keyed {
	struct job	*j;
	char		*body;
	size_t		 blen;
	int		 found;
};

static int
key_row(void *arg, int n, const char *const *v)
{
	struct keyed *k = arg;

	if (n < NCOLS + 1)
		return 1;
	store_row_decode(v, k->j);
	snprintf(k->body, k->blen, "%s", v[NCOLS] ? v[NCOLS] : "");
	k->found = 1;
	return 1;
}

int
store_find_key(const char *key, struct job *j, char *body, size_t blen)
{
	struct keyed k = { j, body, blen, 0 };
	struct store_row_args a = { .n = 0 };

	store_row_s(&a, key);
	if (run("SELECT " COLS ", idem_body FROM " TABLE
	    " WHERE idem_key = $1", &a, key_row, &k, NULL) == -1)
		return -1;
	return k.found;
}

long
store_count(enum job_status s)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_s(&a, job_status_name(s));
	if (run("SELECT count(*) FROM " TABLE " WHERE status = $1", &a,
	    store_row_count, &n, NULL) == -1)
		return -1;
	return n;
}

int
store_insert(const struct job *j, const char *key, const char *body,
    const struct job_blob *env, const struct job_blob *in)
{
	struct store_conn *sc = &store_conn;
	struct store_row_args a = { .n = 0 };
	char *env64 = NULL, *in64 = NULL;
	long n = 0;
	int rc;

	store_row_s(&a, j->id);
	store_row_s(&a, j->node);
	store_row_u64(&a, j->gen);
	store_row_u64(&a, j->ticket);
	store_row_ll(&a, j->owner_slot);
	store_row_ll(&a, j->owner_pid);
	store_row_d(&a, j->arrived_mono);
	store_row_d(&a, j->created);
	store_row_s0(&a, key);
	store_row_s0(&a, key != NULL ? body : NULL);
	store_row_s0(&a, j->cb_url);
	store_row_s(&a, j->kind == JOB_WORK ? "work" : "sleep");
	if ((env != NULL && (env64 = store_work_encode(env)) == NULL) ||
	    (in != NULL && in->len > 0 && (in64 = store_work_encode(in)) ==
	    NULL)) {
		free(env64);
		return -1;
	}
	store_row_s(&a, env64);
	store_row_s(&a, in64);
	store_row_ll(&a, in != NULL ? (long long)in->len : 0);
	/* A taken key (or id) is no error: an error would end a
	 * PostgreSQL transaction, and with it the others of its batch. */
	rc = run("INSERT INTO " TABLE " (id, status, node, gen, ticket, "
	    "owner_slot, owner_pid, arrived_mono, created_at, idem_key, "
	    "idem_body, cb_url, kind, request, body, body_size) VALUES ($1, "
	    "'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
	    "$14, $15) ON CONFLICT DO NOTHING", &a, NULL, NULL, &n);
	free(env64);
	free(in64);
	if (rc == -1) {
		if (sc->db.conflict)
			errno = EEXIST;
		return -1;
	}
	if (n == 0) {
		errno = EEXIST;
		return -1;
	}
	return 0;
}

int
store_get(const char *id, struct job *j)
{
	struct store_row_args a = { .n = 0 };

	j->id[0] = '\0';
	store_row_s(&a, id);
	if (run("SELECT " COLS " FROM " TABLE " WHERE id = $1", &a,
	    store_row_one, j, NULL) == -1)
		return -1;
	return j->id[0] != '\0';
}

int
store_cancel(const char *id, double now, struct job *j)
{
	struct store_conn *sc = &store_conn;
	struct store_row_args a = { .n = 0 };
	long n = 0;
	int rc = -1, found;

	store_row_s(&a, id);
	store_row_d(&a, now);
	store_conn_lock();
	if (store_conn_ensure() == 0 && db_exec(&sc->db, "UPDATE " TABLE
	    " SET status = 'canceled', finished_at = $2, cb_state = CASE "
	    "WHEN cb_url IS NULL THEN NULL ELSE 'pending' END, cb_next_at = "
	    "$2, " LET_GO " WHERE id = $1 AND status = 'queued'", a.n, a.v,
	    NULL, NULL, &n) == 0 &&
	    (found = store_get(id, j)) != -1)
		rc = n == 1 ? 1 : found ? 2 : 0;
	if (rc == -1)
		store_conn_failed();
	store_conn_note(rc == -1 ? -1 : 0, 1);
	store_conn_unlock();
	return rc;
}


int
store_start(const struct job *j, double started)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_owner(&a, j);
	store_row_d(&a, started);
	if (run("UPDATE " TABLE " SET status = 'running', started_at = $5 "
	    "WHERE id = $1 AND status = 'queued' AND " OURS, &a, NULL, NULL,
	    &n) == -1)
		return -1;
	return n == 1;
}

int
store_end(const struct job *j, const struct job_blob *result)
{
	struct store_row_args a = { .n = 0 };
	char *res64 = NULL;
	long n = 0;
	int rc;

	store_row_owner(&a, j);
	store_row_s(&a, job_status_name(j->status));
	store_row_d(&a, j->finished);
	store_row_d(&a, j->status == JOB_SUCCEEDED ? j->elapsed : 0);
	store_row_d(&a, j->status == JOB_SUCCEEDED ? j->wait : 0);
	store_row_d(&a, j->status == JOB_SUCCEEDED ? j->work : 0);
	if (j->fence != 0)
		store_row_u64(&a, j->fence);
	else
		store_row_s(&a, NULL);
	store_row_s0(&a, j->error_code);
	store_row_s0(&a, j->error_message);
	if (result != NULL && result->len > 0 &&
	    (res64 = store_work_encode(result)) == NULL)
		return -1;
	store_row_s(&a, res64);
	store_row_ll(&a, res64 != NULL ? (long long)result->len : 0);
	store_row_ll_or_null(&a, j->result_status, j->result_status == 0);
	store_row_s0(&a, j->result_type);
	store_row_ll(&a, j->partial);
	store_row_ll_or_null(&a, j->exit_status, j->kind != JOB_WORK ||
	    j->exit_status == -1);
	store_row_f(&a, j->progress, j->kind != JOB_WORK || j->progress < 0);
	store_row_s0(&a, j->progress_note);
	rc = run("UPDATE " TABLE " SET status = $5, finished_at = $6, "
	    "elapsed = $7, wait = $8, work = $9, fence = $10, "
	    "error_code = $11, error_message = $12, cb_state = CASE WHEN "
	    "cb_url IS NULL THEN NULL ELSE 'pending' END, cb_next_at = $6, "
	    "result = $13, result_size = $14, result_status = $15, "
	    "result_type = $16, partial = $17, exit_status = $18, "
	    "progress = $19, progress_note = $20, " LET_GO " WHERE id = $1 "
	    "AND status IN ('queued', 'running') AND " OURS,
	    &a, NULL, NULL, &n);
	free(res64);
	return rc == -1 ? -1 : n == 1;
}

long
store_list(const enum job_status *s, long long before, long limit,
    job_fn fn, void *arg)
{
	struct store_row_each e = { fn, arg, 0, { 0 } };
	struct store_row_args a = { .n = 0 };

	store_row_s(&a, s != NULL ? job_status_name(*s) : NULL);
	store_row_ll(&a, before > 0 ? before : (1LL << 62));
	store_row_ll(&a, limit);
	if (run("SELECT " COLS " FROM " TABLE " WHERE (CAST($1 AS TEXT) IS "
	    "NULL OR status = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3", &a,
	    store_row_each_fn, &e, NULL) == -1)
		return -1;
	return e.n;
}

int
store_scan(const char *node, enum job_status s, job_fn fn, void *arg)
{
	struct store_row_each e = { fn, arg, 0, { 0 } };
	struct store_row_args a = { .n = 0 };

	store_row_s(&a, node);
	store_row_s(&a, job_status_name(s));
	return run("SELECT " COLS " FROM " TABLE " WHERE node = $1 AND "
	    "status = $2 ORDER BY seq", &a, store_row_each_fn, &e, NULL);
}

int
store_interrupt(const struct job *j, double now, const char *why)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_owner(&a, j);
	store_row_d(&a, now);
	store_row_s(&a, why);
	if (run("UPDATE " TABLE " SET status = 'failed', finished_at = $5, "
	    "error_code = 'interrupted', error_message = $6, "
	    "cb_state = CASE WHEN cb_url IS NULL THEN NULL ELSE 'pending' "
	    "END, cb_next_at = $5, " LET_GO " WHERE id = $1 AND status = "
	    "'running' AND " OURS, &a, NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

int
store_queued_ticket(const char *node, uint64_t gen, uint64_t ticket)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_s(&a, node);
	store_row_u64(&a, gen);
	store_row_u64(&a, ticket);
	if (run("SELECT count(*) FROM " TABLE " WHERE node = $1 AND "
	    "gen = $2 AND ticket = $3 AND status = 'queued'", &a,
	    store_row_count, &n, NULL) == -1)
		return -1;
	return n > 0;
}

int
store_adopt(const struct job *j, const char *node, uint64_t gen,
    uint64_t ticket, int slot, long pid)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_owner(&a, j);
	store_row_u64(&a, gen);
	store_row_u64(&a, ticket);
	store_row_ll(&a, slot);
	store_row_ll(&a, pid);
	store_row_s(&a, node);
	if (run("UPDATE " TABLE " SET gen = $5, ticket = $6, owner_slot = $7,"
	    " owner_pid = $8, node = $9 WHERE id = $1 AND status = 'queued' "
	    "AND " OURS, &a, NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

long
store_purge(double before)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_d(&a, before);
	if (run("DELETE FROM " TABLE " WHERE finished_at < $1 AND "
	    "(cb_state IS NULL OR cb_state <> 'delivering')", &a, NULL, NULL,
	    &n) == -1)
		return -1;
	return n;
}

int
store_due(long limit, job_fn fn, void *arg)
{
	struct store_row_each e = { fn, arg, 0, { 0 } };
	struct store_row_args a = { .n = 0 };

	store_row_ll(&a, limit);
	return run("SELECT " COLS " FROM " TABLE " WHERE cb_state IN "
	    "('pending', 'delivering') ORDER BY cb_next_at LIMIT $1", &a,
	    store_row_each_fn, &e, NULL);
}

int
store_cb_claim(const struct job *j, const char *node, uint64_t gen,
    int slot, long pid, double now)
{
	struct store_row_args a = { .n = 0 };
	long n = 0;

	store_row_s(&a, j->id);
	store_row_s(&a, j->cb_state);
	store_row_ll(&a, j->cb_attempts);
	store_row_s(&a, node);
	store_row_u64(&a, gen);
	store_row_ll(&a, slot);
	store_row_ll(&a, pid);
	store_row_ll(&a, j->cb_pid);
	store_row_s(&a, j->cb_node);
	store_row_d(&a, now);
	/* cb_next_at becomes the claim's time: another node judges a
	 * claim stale by it (janitor.c). */
	if (run("UPDATE " TABLE " SET cb_state = 'delivering', cb_node = $4, "
	    "cb_gen = $5, cb_slot = $6, cb_pid = $7, cb_next_at = $10 "
	    "WHERE id = $1 AND cb_state = $2 AND cb_attempts = $3 AND "
	    "COALESCE(cb_pid, 0) = CAST($8 AS INTEGER) AND "
	    "COALESCE(cb_node, '') = $9", &a,
	    NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

int
store_cb_result(const struct job *j)
{
	struct store_row_args a = { .n = 0 };

	store_row_s(&a, j->id);
	store_row_s(&a, j->cb_state);
	store_row_ll(&a, j->cb_attempts);
	store_row_d(&a, j->cb_next_at);
	if (j->cb_last_status != 0)
		store_row_ll(&a, j->cb_last_status);
	else
		store_row_s(&a, NULL);
	store_row_s0(&a, j->cb_last_error);
	store_row_s(&a, j->cb_node);
	store_row_ll(&a, j->cb_pid);
	/* Only while the claim is still ours: a node that took it over
	 * (ours looked stale) records its own result. */
	return run("UPDATE " TABLE " SET cb_state = $2, cb_attempts = $3, "
	    "cb_next_at = $4, cb_last_status = $5, cb_last_error = $6, "
	    "cb_node = NULL, cb_gen = NULL, cb_slot = NULL, cb_pid = NULL "
	    "WHERE id = $1 AND cb_state = 'delivering' AND cb_node = $7 AND "
	    "cb_pid = $8", &a, NULL, NULL, NULL);
}
