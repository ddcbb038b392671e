/* store_conn.c - the job store's connection: see store_conn.h. */
#define _POSIX_C_SOURCE 200809L

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board_stats.h"
#include "db.h"
#include "lock.h"
#include "log.h"
#include "job.h"
#include "store_conn.h"
#include "store_id.h"

#define TABLE	STORE_TABLE
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
/*
 * The schema's versions: a store is made as version 1 was (SCHEMA), and
 * steps[v - 1] takes it from version v to v + 1; its version is kept
 * in the meta table, and in SQLite's header too (PRAGMA user_version).
 * Each step is run once, by whichever process finds the store behind,
 * in one write transaction under the backend's serialize lock: four
 * responders starting together, or two hosts on one engine, migrate
 * it once. A store newer than this build is refused.
 */
#define VERSION		2
static const char *const steps[VERSION - 1] = {
	/* 2: jobs of real work: the request they keep, and the answer,
	 * progress and cancel of their program (store.h). */
	"ALTER TABLE " TABLE " ADD COLUMN kind TEXT NOT NULL DEFAULT "
	"'sleep';"
	"ALTER TABLE " TABLE " ADD COLUMN request TEXT;"
	"ALTER TABLE " TABLE " ADD COLUMN body TEXT;"
	"ALTER TABLE " TABLE " ADD COLUMN body_size BIGINT NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE " TABLE " ADD COLUMN result TEXT;"
	"ALTER TABLE " TABLE " ADD COLUMN result_size BIGINT NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE " TABLE " ADD COLUMN result_status INTEGER;"
	"ALTER TABLE " TABLE " ADD COLUMN result_type TEXT;"
	"ALTER TABLE " TABLE " ADD COLUMN partial INTEGER NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE " TABLE " ADD COLUMN exit_status INTEGER;"
	"ALTER TABLE " TABLE " ADD COLUMN progress DOUBLE PRECISION;"
	"ALTER TABLE " TABLE " ADD COLUMN progress_note TEXT;"
	"ALTER TABLE " TABLE " ADD COLUMN cancel_asked INTEGER NOT NULL "
	"DEFAULT 0",
};
#define VERSION_ROW	"SELECT value FROM " META " WHERE name = " \
	"'schema_version'"
#define VERSION_SET	"INSERT INTO " META " (name, value) VALUES " \
	"('schema_version', $1) ON CONFLICT (name) DO UPDATE SET value = " \
	"excluded.value"

/* The store's id, once: the first writer's stays (store_id.h). */
#define SET_ID	"INSERT INTO " META " (name, value) VALUES ('store_id', " \
	"'%s') ON CONFLICT DO NOTHING"

struct store_conn store_conn;

void
store_conn_lock(void)
{
	struct store_conn *sc = &store_conn;
	pthread_mutex_lock(&sc->mu);
}

void
store_conn_unlock(void)
{
	struct store_conn *sc = &store_conn;
	pthread_mutex_unlock(&sc->mu);
}

/* What happened to the store, for /status and /metrics, on the
 * scoreboard that every responder shares: a success of a write clears
 * a full store; any success clears the rest. */
void
store_conn_note(int rc, int wrote)
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
int
store_conn_blank(void)
{
	struct store_conn *sc = &store_conn;
	char wal[PATH_MAX + 8];
	struct stat st;

	if (sc->url != NULL || sc->path == NULL ||
	    stat(sc->path, &st) == -1 || st.st_size != 0)
		return 0;
	snprintf(wal, sizeof(wal), "%s-wal", sc->path);
	return stat(wal, &st) == -1 || st.st_size == 0;
}

static const char *
where(void)
{
	struct store_conn *sc = &store_conn;

	return sc->url != NULL ? "in the engine" : sc->path;
}

/* The store is refused: why in sc->why (for clients) by now. Returns
 * -1, errno ESTALE. */
static int
refused(void)
{
	struct store_conn *sc = &store_conn;

	sc->refused = 1;
	snprintf(sc->db.error, sizeof(sc->db.error), "%.199s", sc->why);
	board_stats_store(STORE_REFUSED, 0);
	errno = ESTALE;
	return -1;
}

/* The store is not the store of record (what: why, in words a client
 * may read; want: the id of record): refused, and said once in the
 * log with what an operator does about it. Returns -1, errno ESTALE. */
static int
refuse(const char *what, const char *want)
{
	struct store_conn *sc = &store_conn;

	if (!sc->refused)
		log_err("job store %s: %s, but the store of record is %s "
		    "(%s): jobs are refused until an operator starts "
		    "afresh: remove %s", where(), what, want, sc->idpath,
		    sc->idpath);
	snprintf(sc->why, sizeof(sc->why), "job store lost: %s; jobs are "
	    "refused until the operator starts afresh", what);
	return refused();
}

/* The store's schema is newer than this build's: a later serialcgi
 * wrote it, and this one would not know its rows. */
static int
too_new(long long v)
{
	struct store_conn *sc = &store_conn;

	if (!sc->refused)
		log_err("job store %s: its schema is version %lld, newer than "
		    "this serialcgi's (version %d): jobs are refused; run "
		    "the serialcgi that wrote it", where(), v, VERSION);
	snprintf(sc->why, sizeof(sc->why), "job store refused: its schema "
	    "is version %lld, newer than this serialcgi's (version %d)", v,
	    VERSION);
	return refused();
}

/*
 * The id of record into want, if the identity file has one. A store
 * of record whose SQLite file is gone or empty is lost, found without
 * opening (or making) anything. With no file, a refusal is over: the
 * operator started afresh. Returns 1 (want set), 0 (none), or -1.
 */
int
store_conn_recorded(char *want)
{
	struct store_conn *sc = &store_conn;
	struct stat st;
	int rc;

	if (sc->idpath[0] == '\0')
		return 0;
	if ((rc = store_id_read(sc->idpath, want)) == -1) {
		snprintf(want, STORE_ID_LEN + 1, "unknown");
		return refuse("its identity file cannot be read", want);
	}
	if (rc == 0) {
		if (sc->refused)
			log_msg("job store %s: %s is gone: starting afresh "
			    "with the store as it is", sc->url != NULL ?
			    "in the engine" : sc->path, sc->idpath);
		sc->refused = 0;
		return 0;
	}
	if (sc->url == NULL && stat(sc->path, &st) == -1 && errno == ENOENT)
		return refuse("its file is gone", want);
	if (store_conn_blank())
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

/* A version, the highest of the rows (the meta table's, SQLite's
 * header's): a store older than versions has none, and is version 1. */
static int
version_row(void *arg, int n, const char *const *v)
{
	long long *ver = arg, x;

	if (n > 0 && v[0] != NULL && (x = strtoll(v[0], NULL, 10)) > *ver)
		*ver = x;
	return 0;
}

static int
read_version(long long *v)
{
	struct store_conn *sc = &store_conn;
	const struct db_backend *be = sc->db.be;

	*v = 1;
	if (be->version_read != NULL && db_exec(&sc->db, be->version_read, 0,
	    NULL, version_row, v, NULL) == -1)
		return -1;
	return db_exec(&sc->db, VERSION_ROW, 0, NULL, version_row, v, NULL);
}

static int
write_version(void)
{
	struct store_conn *sc = &store_conn;
	const struct db_backend *be = sc->db.be;
	char sql[64], num[16];
	const char *v[] = { num };

	snprintf(num, sizeof(num), "%d", VERSION);
	if (be->version_write != NULL) {
		snprintf(sql, sizeof(sql), be->version_write, VERSION);
		if (db_exec(&sc->db, sql, 0, NULL, NULL, NULL, NULL) == -1)
			return -1;
	}
	return db_exec(&sc->db, VERSION_SET, 1, v, NULL, NULL, NULL);
}

/* Bring the store to this build's version, step by step, in one write
 * transaction under the serialize lock; fresh: the store was just made
 * (its upgrade is no news). Returns 0, or -1 with errno set (ESTALE:
 * a newer store, refused). */
static int
migrate(int fresh)
{
	struct store_conn *sc = &store_conn;
	long long v, from;

	if (db_begin(&sc->db) == -1)
		return -1;
	if (db_serialize(&sc->db) == -1 || read_version(&v) == -1)
		goto fail;
	if (v > VERSION) {
		store_conn_rollback();
		return too_new(v);
	}
	for (from = v; from < VERSION; from++)
		if (db_exec_all(&sc->db, steps[from - 1]) == -1)
			goto fail;
	if (v < VERSION && write_version() == -1)
		goto fail;
	if (db_commit(&sc->db) == -1)
		return -1;
	if (v < VERSION && !fresh)
		log_msg("job store %s: schema upgraded from version %lld to "
		    "%d, every job kept", where(), v, VERSION);
	return 0;
fail:
	store_conn_rollback();
	return -1;
}

/* The tables, made once per process where either is missing (tables:
 * read_identity's bits), with the store's id (id, or NULL to leave it)
 * and its mark, at this build's version. PostgreSQL checks the
 * schema's CREATE privilege even for CREATE TABLE IF NOT EXISTS of a
 * table that is there: a role granted the tables alone runs none. */
static int
make_schema(const char *id, int tables)
{
	struct store_conn *sc = &store_conn;
	char sql[sizeof(SCHEMA) + sizeof(SET_ID) + 256];
	int n = 0;

	if (sc->schema_done && id == NULL)
		return 0;
	sql[0] = '\0';
	if ((tables & 3) != 3)
		n = snprintf(sql, sizeof(sql), SCHEMA "%s", sc->db.be->serial,
		    id != NULL ? ";" : "");
	if (id != NULL)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, SET_ID, id);
	if (sc->db.be->mark != NULL)
		snprintf(sql + n, sizeof(sql) - (size_t)n, "%s%s",
		    n > 0 ? ";" : "", sc->db.be->mark);
	if ((sql[0] != '\0' && db_schema(&sc->db, sql) == -1) ||
	    migrate(!(tables & 1)) == -1)
		return -1;
	sc->schema_done = 1;
	return 0;
}

/* What the open store says it is: its mark (SQLite's application_id),
 * its tables (bit 1 the jobs, bit 2 the meta table) and its id. */
static int
read_identity(long long *mark, int *tables, char *have)
{
	struct store_conn *sc = &store_conn;
	const struct db_backend *be = sc->db.be;

	*mark = 0;
	*tables = 0;
	have[0] = '\0';
	if ((be->mark_read != NULL && db_exec(&sc->db, be->mark_read, 0,
	    NULL, long_row, mark, NULL) == -1) ||
	    db_exec(&sc->db, be->tables, 0, NULL, table_row, tables,
	    NULL) == -1)
		return -1;
	if ((*tables & 2) && db_exec(&sc->db, "SELECT value FROM " META
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
	struct store_conn *sc = &store_conn;
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
		return make_schema(NULL, tables);
	}
	store_id_new(id);
	if (make_schema(id, tables) == -1 ||
	    read_identity(&mark, &tables, have) == -1)
		return -1;
	if (sc->idpath[0] != '\0' && store_id_write(sc->idpath, have) == -1)
		log_warn("job store: its identity %s not kept in %s: %s", have,
		    sc->idpath, strerror(errno));
	else if (sc->idpath[0] != '\0')
		log_msg("job store %s: store of record %s (kept in %s)",
		    where(), have, sc->idpath);
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
	struct store_conn *sc = &store_conn;
	struct stat st;

	if (sc->url != NULL || (stat(sc->path, &st) == 0 &&
	    st.st_dev == sc->dev && st.st_ino == sc->ino))
		return 0;
	db_close(&sc->db);
	snprintf(sc->db.error, sizeof(sc->db.error), "job store lost: its "
	    "file was moved or deleted while in use");
	log_err("job store %s: %s", sc->path, sc->db.error);
	errno = ESTALE;
	return -1;
}

/* Open the store if it is closed, and make sure it is the store of
 * record (store_id.h); the tables are made by the first open of each
 * process. With the mutex held. Returns 0, or -1 with errno set and
 * the db's error (ESTALE: refused). */
int
store_conn_ensure(void)
{
	struct store_conn *sc = &store_conn;
	char want[STORE_ID_LEN + 1], why[160];
	struct stat st;
	int known, rc, e;

	if (sc->db.be != NULL)
		return still_there();
	if ((known = store_conn_recorded(want)) == -1)
		return -1;
	/* A private file, made 0600 before SQLite opens it (lock.h). */
	if (sc->url == NULL && lock_check(sc->path, why, sizeof(why)) == -1) {
		e = errno;
		snprintf(sc->db.error, sizeof(sc->db.error), "%s: %s",
		    sc->path, why);
		errno = e;
		return -1;
	}
	/* The file as it is before SQLite opens it: a race with a rename
	 * then shows at the next call, as a file that moved. */
	if (sc->url == NULL && stat(sc->path, &st) == 0) {
		sc->dev = st.st_dev;
		sc->ino = st.st_ino;
	}
	rc = sc->url != NULL ? db_open_pg(&sc->db, sc->url) :
	    db_open_sqlite(&sc->db, sc->path);
	if (rc == 0)
		rc = identify(known, want);
	if (rc == -1 && sc->db.be != NULL) {
		e = errno;
		snprintf(sc->err, sizeof(sc->err), "%.199s", sc->db.error);
		db_close(&sc->db);
		snprintf(sc->db.error, sizeof(sc->db.error), "%.199s", sc->err);
		errno = e;
		return -1;
	}
	return rc;
}

/* A statement failed: a store whose file was moved or deleted while it
 * was open (SQLITE_READONLY_DBMOVED: ESTALE) is let go, so that the
 * next call finds out what is at the path now. */
void
store_conn_failed(void)
{
	struct store_conn *sc = &store_conn;
	int e = errno;

	if (e == ESTALE && sc->db.be != NULL) {
		db_close(&sc->db);
		snprintf(sc->db.error, sizeof(sc->db.error), "job store lost: "
		    "its file was moved or deleted while in use");
	}
	errno = e;
}

int
store_conn_run(const char *sql, int n, const char *const *v, db_row_fn fn,
    void *arg, long *changes)
{
	struct store_conn *sc = &store_conn;
	long changed = 0;
	int rc;

	store_conn_lock();
	rc = store_conn_ensure() == -1 ? -1 : db_exec(&sc->db, sql, n, v, fn,
	    arg, &changed);
	if (changes != NULL)
		*changes = changed;
	if (rc == -1)
		store_conn_failed();
	/* Only a statement that wrote a row tells a full store has room
	 * again: a DELETE of nothing (retention) succeeds on a full disk. */
	store_conn_note(rc, strncmp(sql, "SELECT", 6) != 0 && changed > 0);
	store_conn_unlock();
	return rc;
}

/* Roll back, keeping the error (and errno) of what failed before. */
void
store_conn_rollback(void)
{
	struct store_conn *sc = &store_conn;
	int e = errno;

	snprintf(sc->err, sizeof(sc->err), "%.199s", sc->db.error);
	(void)db_rollback(&sc->db);
	snprintf(sc->db.error, sizeof(sc->db.error), "%.199s", sc->err);
	errno = e;
}

