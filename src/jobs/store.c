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
#include "store_id.h"

static struct {
	struct db	 db;		/* closed: db.be is NULL */
	pthread_mutex_t	 mu;		/* recursive: see store.h */
	const char	*path, *url;	/* SQLite's file, or the engine */
	char		 idpath[PATH_MAX];	/* the identity file, or ""
						 * for none */
	int		 schema_done;
	dev_t		 dev;		/* the SQLite file open, to tell */
	ino_t		 ino;		/* one put in its place */
	int		 refused;	/* not the store of record */
	char		 why[200];	/* why, for clients */
	char		 err[sizeof(((struct db *)0)->error)];
} sto;

static const char *const status_names[] = {
	"queued", "running", "succeeded", "failed", "canceled"
};

#define COLS	"seq, id, status, node, gen, ticket, owner_slot, owner_pid, " \
	"arrived_mono, created_at, started_at, finished_at, elapsed, wait, " \
	"work, fence, error_code, error_message, cb_url, cb_state, " \
	"cb_attempts, cb_next_at, cb_last_status, cb_last_error, cb_node, " \
	"cb_gen, cb_slot, cb_pid"
#define NCOLS	28
#define TABLE	"serialcgi_jobs"
#define META	"serialcgi_meta"
#define APP_ID	1396919874L	/* SQLite's application_id: "SCJB" */

/* The one table, in types both backends take (SQLite reads BIGINT as
 * INTEGER and DOUBLE PRECISION as REAL); %s is the backend's serial. */
#define SCHEMA	"CREATE TABLE IF NOT EXISTS " TABLE " (" \
	"seq %s, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, " \
	"node TEXT NOT NULL, gen TEXT NOT NULL, ticket BIGINT NOT NULL, " \
	"owner_slot INTEGER NOT NULL, owner_pid INTEGER NOT NULL, " \
	"arrived_mono DOUBLE PRECISION NOT NULL, " \
	"created_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, " \
	"finished_at DOUBLE PRECISION, elapsed DOUBLE PRECISION, " \
	"wait DOUBLE PRECISION, work DOUBLE PRECISION, fence BIGINT, " \
	"error_code TEXT, error_message TEXT, idem_key TEXT UNIQUE, " \
	"idem_body TEXT, cb_url TEXT, cb_state TEXT, " \
	"cb_attempts INTEGER NOT NULL DEFAULT 0, " \
	"cb_next_at DOUBLE PRECISION, cb_last_status INTEGER, " \
	"cb_last_error TEXT, cb_node TEXT, cb_gen TEXT, cb_slot INTEGER, " \
	"cb_pid INTEGER);" \
	"CREATE INDEX IF NOT EXISTS serialcgi_jobs_status " \
	"ON " TABLE " (status, seq);" \
	"CREATE INDEX IF NOT EXISTS serialcgi_jobs_callback " \
	"ON " TABLE " (cb_state, cb_next_at);" \
	"CREATE INDEX IF NOT EXISTS serialcgi_jobs_finished " \
	"ON " TABLE " (finished_at);" \
	"CREATE TABLE IF NOT EXISTS " META " (name TEXT PRIMARY KEY, " \
	"value TEXT NOT NULL)"
/* The store's id, once: the first writer's stays (store_id.h). */
#define SET_ID	"INSERT INTO " META " (name, value) VALUES ('store_id', " \
	"'%s') ON CONFLICT DO NOTHING"

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

static void
lock(void)
{
	pthread_mutex_lock(&sto.mu);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&sto.mu);
}

/* What happened to the store, for /status and /metrics, on the
 * scoreboard that every responder shares: a success of a write clears
 * a full store; any success clears the rest. */
static void
note(int rc, int wrote)
{
	int e = errno, now = board_stats_store_state();

	if (rc == 0 && now != STORE_OK && (wrote || now != STORE_FULL))
		board_stats_store(STORE_OK, 0);
	else if (rc == -1)	/* a refusal is a state, not a failure */
		board_stats_store(e == ENOSPC ? STORE_FULL : e == ESTALE ?
		    STORE_REFUSED : STORE_FAILING, e != ESTALE);
	errno = e;
}

/* A new SQLite file: empty, and no write-ahead log holds what the file
 * does not show yet. */
static int
blank_file(void)
{
	char wal[PATH_MAX + 8];
	struct stat st;

	if (sto.url != NULL || sto.path == NULL ||
	    stat(sto.path, &st) == -1 || st.st_size != 0)
		return 0;
	snprintf(wal, sizeof(wal), "%s-wal", sto.path);
	return stat(wal, &st) == -1 || st.st_size == 0;
}

/* The store is not the store of record (what: why, in words a client
 * may read; want: the id of record): refused, and said once in the
 * log with what an operator does about it. Returns -1, errno ESTALE. */
static int
refuse(const char *what, const char *want)
{
	if (!sto.refused)
		log_err("job store %s: %s, but the store of record is %s "
		    "(%s): jobs are refused until an operator starts "
		    "afresh: remove %s", sto.url != NULL ? "in the engine" :
		    sto.path, what, want, sto.idpath, sto.idpath);
	sto.refused = 1;
	snprintf(sto.why, sizeof(sto.why), "job store lost: %s; jobs are "
	    "refused until the operator starts afresh", what);
	snprintf(sto.db.error, sizeof(sto.db.error), "%s", sto.why);
	board_stats_store(STORE_REFUSED, 0);
	errno = ESTALE;
	return -1;
}

/*
 * The id of record into want, if the identity file has one. A store
 * of record whose SQLite file is gone or empty is lost, found without
 * opening (or making) anything. With no file, a refusal is over: the
 * operator started afresh. Returns 1 (want set), 0 (none), or -1.
 */
static int
recorded(char *want)
{
	struct stat st;
	int rc;

	if (sto.idpath[0] == '\0')
		return 0;
	if ((rc = store_id_read(sto.idpath, want)) == -1) {
		snprintf(want, STORE_ID_LEN + 1, "unknown");
		return refuse("its identity file cannot be read", want);
	}
	if (rc == 0) {
		if (sto.refused)
			log_msg("job store %s: %s is gone: starting afresh "
			    "with the store as it is", sto.url != NULL ?
			    "in the engine" : sto.path, sto.idpath);
		sto.refused = 0;
		return 0;
	}
	if (sto.url == NULL && stat(sto.path, &st) == -1 && errno == ENOENT)
		return refuse("its file is gone", want);
	if (blank_file())
		return refuse("its file is empty", want);
	return 1;
}

/* Row callbacks for identify(): a number, a text, the tables. */
static int
long_row(void *arg, int n, const char *const *v)
{
	*(long long *)arg = n > 0 && v[0] != NULL ? strtoll(v[0], NULL, 10) :
	    0;
	return 1;
}

static int
text_row(void *arg, int n, const char *const *v)
{
	snprintf(arg, STORE_ID_LEN + 1, "%s", n > 0 && v[0] ? v[0] : "");
	return 1;
}

static int
table_row(void *arg, int n, const char *const *v)
{
	int *have = arg;

	if (n > 0 && v[0] != NULL)
		*have |= strcmp(v[0], TABLE) == 0 ? 1 :
		    strcmp(v[0], META) == 0 ? 2 : 0;
	return 0;
}

/* The tables, made once per process (CREATE ... IF NOT EXISTS), with
 * the store's id (id, or NULL to leave it) and its mark. */
static int
make_schema(const char *id)
{
	char sql[sizeof(SCHEMA) + sizeof(SET_ID) + 256];
	int n;

	if (sto.schema_done && id == NULL)
		return 0;
	n = snprintf(sql, sizeof(sql), SCHEMA, sto.db.be->serial);
	if (id != NULL)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, ";" SET_ID,
		    id);
	if (sto.db.be->mark != NULL)
		snprintf(sql + n, sizeof(sql) - (size_t)n, ";%s",
		    sto.db.be->mark);
	if (db_schema(&sto.db, sql) == -1)
		return -1;
	sto.schema_done = 1;
	return 0;
}

/* What the open store says it is: its mark (SQLite's application_id),
 * its tables (bit 1 the jobs, bit 2 the meta table) and its id. */
static int
read_identity(long long *mark, int *tables, char *have)
{
	const struct db_backend *be = sto.db.be;

	*mark = 0;
	*tables = 0;
	have[0] = '\0';
	if ((be->mark_read != NULL && db_exec(&sto.db, be->mark_read, 0,
	    NULL, long_row, mark, NULL) == -1) ||
	    db_exec(&sto.db, be->tables, 0, NULL, table_row, tables,
	    NULL) == -1)
		return -1;
	if ((*tables & 2) && db_exec(&sto.db, "SELECT value FROM " META
	    " WHERE name = 'store_id'", 0, NULL, text_row, have, NULL) == -1)
		return -1;
	return 0;
}

/*
 * The open store against the record: the store of record goes on; any
 * other is refused. With no record, the store becomes the store of
 * record: a new one, one kept before there were identities, or the one
 * the operator started afresh with. Returns 0, or -1.
 */
static int
identify(int known, const char *want)
{
	char have[STORE_ID_LEN + 1], id[STORE_ID_LEN + 1];
	long long mark;
	int tables;

	if (read_identity(&mark, &tables, have) == -1)
		return -1;
	if (mark != 0 && mark != APP_ID)
		return refuse("it is not a serialcgi job store", known ?
		    want : "none");
	if (known) {
		if (!(tables & 1))
			return refuse("it holds no jobs table", want);
		if (strcmp(have, want) != 0)
			return refuse("it is another store", want);
		return make_schema(NULL);
	}
	store_id_new(id);
	if (make_schema(id) == -1 || read_identity(&mark, &tables, have) ==
	    -1)
		return -1;
	if (sto.idpath[0] != '\0' && store_id_write(sto.idpath, have) == -1)
		log_warn("job store: its identity %s not kept in %s: %s", have,
		    sto.idpath, strerror(errno));
	else if (sto.idpath[0] != '\0')
		log_msg("job store %s: store of record %s (kept in %s)",
		    sto.url != NULL ? "in the engine" : sto.path, have,
		    sto.idpath);
	return 0;
}

/* Is the SQLite file open still the one at the path? SQLite goes on
 * writing a file that was deleted or replaced (in WAL mode it does not
 * notice), and what it writes is lost at close: a stat(2) before each
 * use tells. If not, the store is let go; the next call finds out what
 * is at the path now. Returns 0, or -1 with errno ESTALE. */
static int
still_there(void)
{
	struct stat st;

	if (sto.url != NULL || (stat(sto.path, &st) == 0 &&
	    st.st_dev == sto.dev && st.st_ino == sto.ino))
		return 0;
	db_close(&sto.db);
	snprintf(sto.db.error, sizeof(sto.db.error), "job store lost: its "
	    "file was moved or deleted while in use");
	log_err("job store %s: %s", sto.path, sto.db.error);
	errno = ESTALE;
	return -1;
}

/* Open the store if it is closed, and make sure it is the store of
 * record (store_id.h); the tables are made by the first open of each
 * process. With the mutex held. Returns 0, or -1 with errno set and
 * the db's error (ESTALE: refused). */
static int
ensure(void)
{
	char want[STORE_ID_LEN + 1], why[160];
	struct stat st;
	int known, rc, e;

	if (sto.db.be != NULL)
		return still_there();
	if ((known = recorded(want)) == -1)
		return -1;
	/* A private file, made 0600 before SQLite opens it (lock.h). */
	if (sto.url == NULL && lock_check(sto.path, why, sizeof(why)) == -1) {
		e = errno;
		snprintf(sto.db.error, sizeof(sto.db.error), "%s: %s",
		    sto.path, why);
		errno = e;
		return -1;
	}
	/* The file as it is before SQLite opens it: a race with a rename
	 * then shows at the next call, as a file that moved. */
	if (sto.url == NULL && stat(sto.path, &st) == 0) {
		sto.dev = st.st_dev;
		sto.ino = st.st_ino;
	}
	rc = sto.url != NULL ? db_open_pg(&sto.db, sto.url) :
	    db_open_sqlite(&sto.db, sto.path);
	if (rc == 0)
		rc = identify(known, want);
	if (rc == -1 && sto.db.be != NULL) {
		e = errno;
		snprintf(sto.err, sizeof(sto.err), "%s", sto.db.error);
		db_close(&sto.db);
		snprintf(sto.db.error, sizeof(sto.db.error), "%s", sto.err);
		errno = e;
		return -1;
	}
	return rc;
}

/* A statement failed: a store whose file was moved or deleted while it
 * was open (SQLITE_READONLY_DBMOVED: ESTALE) is let go, so that the
 * next call finds out what is at the path now. */
static void
after_failure(void)
{
	int e = errno;

	if (e == ESTALE && sto.db.be != NULL) {
		db_close(&sto.db);
		snprintf(sto.db.error, sizeof(sto.db.error), "job store lost: "
		    "its file was moved or deleted while in use");
	}
	errno = e;
}

/* One statement under the store's mutex. */
static int
run(const char *sql, const struct args *a, db_row_fn fn, void *arg,
    long *changes)
{
	int rc;

	lock();
	rc = ensure() == -1 ? -1 : db_exec(&sto.db, sql, a != NULL ? a->n : 0,
	    a != NULL ? a->v : NULL, fn, arg, changes);
	if (rc == -1)
		after_failure();
	note(rc, strncmp(sql, "SELECT", 6) != 0);
	unlock();
	return rc;
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
	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&sto.mu, &ma);
	pthread_mutexattr_destroy(&ma);
	sto.path = path;
	sto.url = url;
	if (store_id_path(board_path, sto.idpath, sizeof(sto.idpath)) == -1)
		sto.idpath[0] = '\0';
}

int
store_check(void)
{
	char want[STORE_ID_LEN + 1];
	int rc;

	lock();
	rc = sto.db.be == NULL && recorded(want) == -1 ? -1 : 0;
	unlock();
	return rc;
}

int
store_blank(void)
{
	return blank_file();
}

void
store_close(void)
{
	lock();
	if (sto.db.be != NULL) {
		db_close(&sto.db);
		/* Give the connection's pages back to the kernel, not only
		 * to malloc (malloc_trim(3)). */
		(void)malloc_trim(0);
	}
	unlock();
}

const char *
store_backend(void)
{
	return sto.url != NULL ? "postgresql" : "sqlite";
}

const char *
store_path(void)
{
	return sto.url != NULL ? NULL : sto.path;
}

const char *
store_error(void)
{
	return sto.refused ? sto.why : sto.db.error;
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
	lock();
	if (ensure() == 0 && db_begin(&sto.db) == 0)
		return 0;
	after_failure();
	note(-1, 1);
	unlock();
	return -1;
}

/* Roll back, keeping the error (and errno) of what failed before. */
static void
rollback_quietly(void)
{
	int e = errno;

	snprintf(sto.err, sizeof(sto.err), "%s", sto.db.error);
	(void)db_rollback(&sto.db);
	snprintf(sto.db.error, sizeof(sto.db.error), "%s", sto.err);
	errno = e;
}

int
store_tx_end(int commit)
{
	int rc = 0;

	if (!commit)
		rollback_quietly();
	else if ((rc = db_commit(&sto.db)) == -1)
		rollback_quietly();
	if (commit) {
		if (rc == -1)
			after_failure();
		note(rc, 1);
	}
	unlock();
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
		if (sto.db.conflict)
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
	struct args a = { .n = 0 };
	long n = 0;
	int rc = -1, found;

	arg_s(&a, id);
	arg_d(&a, now);
	lock();
	if (ensure() == 0 && db_exec(&sto.db, "UPDATE " TABLE " SET status = "
	    "'canceled', "
	    "finished_at = $2, cb_state = CASE WHEN cb_url IS NULL THEN NULL "
	    "ELSE 'pending' END, cb_next_at = $2 WHERE id = $1 AND "
	    "status = 'queued'", a.n, a.v, NULL, NULL, &n) == 0 &&
	    (found = store_get(id, j)) != -1)
		rc = n == 1 ? 1 : found ? 2 : 0;
	if (rc == -1)
		after_failure();
	note(rc == -1 ? -1 : 0, 1);
	unlock();
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
