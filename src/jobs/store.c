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
#include "store_id.h"

static const char *const status_names[] = {
	"queued", "running", "succeeded", "failed", "canceled"
};

#define COLS	"seq, id, status, node, gen, ticket, owner_slot, owner_pid, " \
	"arrived_mono, created_at, started_at, finished_at, elapsed, wait, " \
	"work, fence, error_code, error_message, cb_url, cb_state, " \
	"cb_attempts, cb_next_at, cb_last_status, cb_last_error, cb_node, " \
	"cb_gen, cb_slot, cb_pid"
#define NCOLS	28
#define TABLE	STORE_TABLE
/* Text for one parameter: numbers are printed into bufs. */
struct args {
	const char	*v[16];
	char		 buf[16][32];
	int		 n;
};

static void
arg_s(struct args *a, const char *s)
{
	a->v[a->n++] = s;
}

static void
arg_s0(struct args *a, const char *s)	/* "" is NULL */
{
	a->v[a->n++] = s != NULL && *s != '\0' ? s : NULL;
}

static void
arg_ll(struct args *a, long long x)
{
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%lld", x);
	a->v[a->n] = a->buf[a->n];
	a->n++;
}

static void
arg_u64(struct args *a, uint64_t x)
{
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%llu",
	    (unsigned long long)x);
	a->v[a->n] = a->buf[a->n];
	a->n++;
}

static void
arg_d(struct args *a, double x)		/* 0 is NULL */
{
	if (x == 0) {
		a->v[a->n++] = NULL;
		return;
	}
	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%.6f", x);
	a->v[a->n] = a->buf[a->n];
	a->n++;
}

/* One statement under the store's mutex (store_conn_run). */
static int
run(const char *sql, const struct args *a, db_row_fn fn, void *arg,
    long *changes)
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

/* A row of COLS into j. */
static void
decode(const char *const *v, struct job *j)
{
	enum job_status st = JOB_FAILED;

	memset(j, 0, sizeof(*j));
	j->seq = whole(v[0]);
	copy(j->id, sizeof(j->id), v[1]);
	(void)store_status_parse(v[2] != NULL ? v[2] : "", &st);
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
}

/* Row callbacks: one job into *arg, or each job to a store_job_fn. */
static int
one_row(void *arg, int n, const char *const *v)
{
	if (n >= NCOLS)
		decode(v, arg);
	return 1;	/* one is enough */
}

struct each {
	store_job_fn	 fn;
	void		*arg;
	long		 n;
	struct job	 j;
};

static int
each_row(void *arg, int n, const char *const *v)
{
	struct each *e = arg;

	if (n < NCOLS)
		return 0;
	decode(v, &e->j);
	e->n++;
	return e->fn(e->arg, &e->j);
}

static int
count_row(void *arg, int n, const char *const *v)
{
	*(long *)arg = n > 0 ? (long)whole(v[0]) : 0;
	return 1;
}

const char *
store_status_name(enum job_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ?
	    status_names[s] : "failed";
}

int
store_status_parse(const char *name, enum job_status *s)
{
	size_t i;

	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(name, status_names[i]) == 0) {
			*s = (enum job_status)i;
			return 0;
		}
	return -1;
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
	decode(v, k->j);
	snprintf(k->body, k->blen, "%s", v[NCOLS] ? v[NCOLS] : "");
	k->found = 1;
	return 1;
}

int
store_find_key(const char *key, struct job *j, char *body, size_t blen)
{
	struct keyed k = { j, body, blen, 0 };
	struct args a = { .n = 0 };

	arg_s(&a, key);
	if (run("SELECT " COLS ", idem_body FROM " TABLE
	    " WHERE idem_key = $1", &a, key_row, &k, NULL) == -1)
		return -1;
	return k.found;
}

long
store_count(enum job_status s)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_s(&a, store_status_name(s));
	if (run("SELECT count(*) FROM " TABLE " WHERE status = $1", &a,
	    count_row, &n, NULL) == -1)
		return -1;
	return n;
}

int
store_insert(const struct job *j, const char *key, const char *body)
{
	struct store_conn *sc = &store_conn;
	struct args a = { .n = 0 };
	long n = 0;

	arg_s(&a, j->id);
	arg_s(&a, j->node);
	arg_u64(&a, j->gen);
	arg_u64(&a, j->ticket);
	arg_ll(&a, j->owner_slot);
	arg_ll(&a, j->owner_pid);
	arg_d(&a, j->arrived_mono);
	arg_d(&a, j->created);
	arg_s0(&a, key);
	arg_s0(&a, key != NULL ? body : NULL);
	arg_s0(&a, j->cb_url);
	/* A taken key (or id) is no error: an error would end a
	 * PostgreSQL transaction, and with it the others of its batch. */
	if (run("INSERT INTO " TABLE " (id, status, node, gen, ticket, "
	    "owner_slot, owner_pid, arrived_mono, created_at, idem_key, "
	    "idem_body, cb_url) VALUES ($1, 'queued', $2, $3, $4, $5, $6, "
	    "$7, $8, $9, $10, $11) ON CONFLICT DO NOTHING", &a, NULL, NULL,
	    &n) == -1) {
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
	struct args a = { .n = 0 };

	j->id[0] = '\0';
	arg_s(&a, id);
	if (run("SELECT " COLS " FROM " TABLE " WHERE id = $1", &a,
	    one_row, j, NULL) == -1)
		return -1;
	return j->id[0] != '\0';
}

int
store_cancel(const char *id, double now, struct job *j)
{
	struct store_conn *sc = &store_conn;
	struct args a = { .n = 0 };
	long n = 0;
	int rc = -1, found;

	arg_s(&a, id);
	arg_d(&a, now);
	store_conn_lock();
	if (store_conn_ensure() == 0 && db_exec(&sc->db, "UPDATE " TABLE
	    " SET status = 'canceled', finished_at = $2, cb_state = CASE "
	    "WHEN cb_url IS NULL THEN NULL ELSE 'pending' END, cb_next_at = "
	    "$2 WHERE id = $1 AND status = 'queued'", a.n, a.v, NULL, NULL,
	    &n) == 0 &&
	    (found = store_get(id, j)) != -1)
		rc = n == 1 ? 1 : found ? 2 : 0;
	if (rc == -1)
		store_conn_failed();
	store_conn_note(rc == -1 ? -1 : 0, 1);
	store_conn_unlock();
	return rc;
}

/* Ours: the same owner (incarnation), slot and pid as j's. */
#define OURS	"gen = $2 AND owner_slot = $3 AND owner_pid = $4"

static void
arg_owner(struct args *a, const struct job *j)
{
	arg_s(a, j->id);
	arg_u64(a, j->gen);
	arg_ll(a, j->owner_slot);
	arg_ll(a, j->owner_pid);
}

int
store_start(const struct job *j, double started)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_owner(&a, j);
	arg_d(&a, started);
	if (run("UPDATE " TABLE " SET status = 'running', started_at = $5 "
	    "WHERE id = $1 AND status = 'queued' AND " OURS, &a, NULL, NULL,
	    &n) == -1)
		return -1;
	return n == 1;
}

int
store_end(const struct job *j)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_owner(&a, j);
	arg_s(&a, store_status_name(j->status));
	arg_d(&a, j->finished);
	arg_d(&a, j->status == JOB_SUCCEEDED ? j->elapsed : 0);
	arg_d(&a, j->status == JOB_SUCCEEDED ? j->wait : 0);
	arg_d(&a, j->status == JOB_SUCCEEDED ? j->work : 0);
	if (j->fence != 0)
		arg_u64(&a, j->fence);
	else
		arg_s(&a, NULL);
	arg_s0(&a, j->error_code);
	arg_s0(&a, j->error_message);
	if (run("UPDATE " TABLE " SET status = $5, finished_at = $6, "
	    "elapsed = $7, wait = $8, work = $9, fence = $10, "
	    "error_code = $11, error_message = $12, cb_state = CASE WHEN "
	    "cb_url IS NULL THEN NULL ELSE 'pending' END, cb_next_at = $6 "
	    "WHERE id = $1 AND status IN ('queued', 'running') AND " OURS,
	    &a, NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

long
store_list(const enum job_status *s, long long before, long limit,
    store_job_fn fn, void *arg)
{
	struct each e = { fn, arg, 0, { 0 } };
	struct args a = { .n = 0 };

	arg_s(&a, s != NULL ? store_status_name(*s) : NULL);
	arg_ll(&a, before > 0 ? before : (1LL << 62));
	arg_ll(&a, limit);
	if (run("SELECT " COLS " FROM " TABLE " WHERE (CAST($1 AS TEXT) IS "
	    "NULL OR status = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3", &a,
	    each_row, &e, NULL) == -1)
		return -1;
	return e.n;
}

int
store_scan(const char *node, enum job_status s, store_job_fn fn, void *arg)
{
	struct each e = { fn, arg, 0, { 0 } };
	struct args a = { .n = 0 };

	arg_s(&a, node);
	arg_s(&a, store_status_name(s));
	return run("SELECT " COLS " FROM " TABLE " WHERE node = $1 AND "
	    "status = $2 ORDER BY seq", &a, each_row, &e, NULL);
}

int
store_interrupt(const struct job *j, double now, const char *why)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_owner(&a, j);
	arg_d(&a, now);
	arg_s(&a, why);
	if (run("UPDATE " TABLE " SET status = 'failed', finished_at = $5, "
	    "error_code = 'interrupted', error_message = $6, "
	    "cb_state = CASE WHEN cb_url IS NULL THEN NULL ELSE 'pending' "
	    "END, cb_next_at = $5 WHERE id = $1 AND status = 'running' AND "
	    OURS, &a, NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

int
store_queued_ticket(const char *node, uint64_t gen, uint64_t ticket)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_s(&a, node);
	arg_u64(&a, gen);
	arg_u64(&a, ticket);
	if (run("SELECT count(*) FROM " TABLE " WHERE node = $1 AND "
	    "gen = $2 AND ticket = $3 AND status = 'queued'", &a, count_row,
	    &n, NULL) == -1)
		return -1;
	return n > 0;
}

int
store_adopt(const struct job *j, const char *node, uint64_t gen,
    uint64_t ticket, int slot, long pid)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_owner(&a, j);
	arg_u64(&a, gen);
	arg_u64(&a, ticket);
	arg_ll(&a, slot);
	arg_ll(&a, pid);
	arg_s(&a, node);
	if (run("UPDATE " TABLE " SET gen = $5, ticket = $6, owner_slot = $7,"
	    " owner_pid = $8, node = $9 WHERE id = $1 AND status = 'queued' "
	    "AND " OURS, &a, NULL, NULL, &n) == -1)
		return -1;
	return n == 1;
}

long
store_purge(double before)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_d(&a, before);
	if (run("DELETE FROM " TABLE " WHERE finished_at < $1 AND "
	    "(cb_state IS NULL OR cb_state <> 'delivering')", &a, NULL, NULL,
	    &n) == -1)
		return -1;
	return n;
}

int
store_due(long limit, store_job_fn fn, void *arg)
{
	struct each e = { fn, arg, 0, { 0 } };
	struct args a = { .n = 0 };

	arg_ll(&a, limit);
	return run("SELECT " COLS " FROM " TABLE " WHERE cb_state IN "
	    "('pending', 'delivering') ORDER BY cb_next_at LIMIT $1", &a,
	    each_row, &e, NULL);
}

int
store_cb_claim(const struct job *j, const char *node, uint64_t gen,
    int slot, long pid, double now)
{
	struct args a = { .n = 0 };
	long n = 0;

	arg_s(&a, j->id);
	arg_s(&a, j->cb_state);
	arg_ll(&a, j->cb_attempts);
	arg_s(&a, node);
	arg_u64(&a, gen);
	arg_ll(&a, slot);
	arg_ll(&a, pid);
	arg_ll(&a, j->cb_pid);
	arg_s(&a, j->cb_node);
	arg_d(&a, now);
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
	struct args a = { .n = 0 };

	arg_s(&a, j->id);
	arg_s(&a, j->cb_state);
	arg_ll(&a, j->cb_attempts);
	arg_d(&a, j->cb_next_at);
	if (j->cb_last_status != 0)
		arg_ll(&a, j->cb_last_status);
	else
		arg_s(&a, NULL);
	arg_s0(&a, j->cb_last_error);
	arg_s(&a, j->cb_node);
	arg_ll(&a, j->cb_pid);
	/* Only while the claim is still ours: a node that took it over
	 * (ours looked stale) records its own result. */
	return run("UPDATE " TABLE " SET cb_state = $2, cb_attempts = $3, "
	    "cb_next_at = $4, cb_last_status = $5, cb_last_error = $6, "
	    "cb_node = NULL, cb_gen = NULL, cb_slot = NULL, cb_pid = NULL "
	    "WHERE id = $1 AND cb_state = 'delivering' AND cb_node = $7 AND "
	    "cb_pid = $8", &a, NULL, NULL, NULL);
}
