/*
 * db_sqlite.c - the SQLite backend of db.h: the job store on one host.
 * WAL with synchronous=FULL (a 202 is a promise: sqlite.org/pragma.html
 * #pragma_synchronous), a busy handler for the other responders' commits,
 * and BEGIN IMMEDIATE for every write (sqlite.org/lang_transaction.html:
 * a deferred transaction that reads, then writes, fails with
 * SQLITE_BUSY, which no busy timeout can help).
 *
 * libsqlite3 is loaded while the store is open and unloaded when it is
 * closed (dl.h): an idle responder, with no job about, keeps none of
 * its pages (measured: 0.37 MiB PSS in each responder, linked in).
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "db.h"
#include "dl.h"

#define LIBSQLITE	"libsqlite3.so.0"

static struct {
	int		 (*open_v2)(const char *, sqlite3 **, int,
			    const char *);
	int		 (*close)(sqlite3 *);
	int		 (*shutdown)(void);
	int		 (*busy_handler)(sqlite3 *, int (*)(void *, int),
			    void *);
	int		 (*prepare_v2)(sqlite3 *, const char *, int,
			    sqlite3_stmt **, const char **);
	int		 (*bind_parameter_index)(sqlite3_stmt *,
			    const char *);
	int		 (*bind_null)(sqlite3_stmt *, int);
	int		 (*bind_text)(sqlite3_stmt *, int, const char *, int,
			    void (*)(void *));
	int		 (*step)(sqlite3_stmt *);
	int		 (*column_count)(sqlite3_stmt *);
	const unsigned char *(*column_text)(sqlite3_stmt *, int);
	int		 (*finalize)(sqlite3_stmt *);
	int		 (*changes)(sqlite3 *);
	const char	*(*errmsg)(sqlite3 *);
	int		 (*extended_errcode)(sqlite3 *);
	int		 (*system_errno)(sqlite3 *);
	int		 (*get_autocommit)(sqlite3 *);
} sq;

#define SYM(f, name)	DL_SYM(sq, f, name)
static const struct dl_sym syms[] = {
	SYM(open_v2, "sqlite3_open_v2"), SYM(close, "sqlite3_close"),
	SYM(shutdown, "sqlite3_shutdown"),
	SYM(busy_handler, "sqlite3_busy_handler"),
	SYM(prepare_v2, "sqlite3_prepare_v2"),
	SYM(bind_parameter_index, "sqlite3_bind_parameter_index"),
	SYM(bind_null, "sqlite3_bind_null"),
	SYM(bind_text, "sqlite3_bind_text"), SYM(step, "sqlite3_step"),
	SYM(column_count, "sqlite3_column_count"),
	SYM(column_text, "sqlite3_column_text"),
	SYM(finalize, "sqlite3_finalize"), SYM(changes, "sqlite3_changes"),
	SYM(errmsg, "sqlite3_errmsg"),
	SYM(extended_errcode, "sqlite3_extended_errcode"),
	SYM(system_errno, "sqlite3_system_errno"),
	SYM(get_autocommit, "sqlite3_get_autocommit"),
};
static void *lib;		/* libsqlite3, while a connection is open */

#define BUSY_MS		5000	/* wait this long for another writer */
#define BUSY_STEP_US	100	/* look again after this long */
#define CACHE_KIB	256	/* page cache per connection */
#define DB_SQLITE_APP_ID "1396919874"	/* 0x53434a42, "SCJB" */

/* A full store, whichever way SQLite says it: SQLITE_FULL, or an I/O
 * error whose system errno is a full disk or quota
 * (sqlite.org/rescode.html#full, sqlite3_system_errno). */
static int
is_full(struct db *d)
{
	int se = sq.system_errno(d->h);

	return (sq.extended_errcode(d->h) & 0xff) == SQLITE_FULL ||
	    se == ENOSPC || se == EDQUOT;
}

/* errno for the last failure: a full store is ENOSPC; a file that was
 * moved or deleted while open (SQLITE_READONLY_DBMOVED: SQLite refuses
 * to write what would be lost at close) is ESTALE. */
static int
fail(struct db *d, int error)
{
	snprintf(d->error, sizeof(d->error), "sqlite: %s",
	    sq.errmsg(d->h));
	errno = is_full(d) ? ENOSPC : sq.extended_errcode(d->h) ==
	    SQLITE_READONLY_DBMOVED ? ESTALE : error;
	return -1;
}

/* Bind each $n by its name: SQLite numbers named parameters in the
 * order they first appear, which need not be n's. */
static int
bind(sqlite3_stmt *st, int n, const char *const *params)
{
	char name[16];
	int i, k;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "$%d", i + 1);
		if ((k = sq.bind_parameter_index(st, name)) == 0)
			continue;	/* not used by this statement */
		if (params[i] == NULL ? sq.bind_null(st, k) :
		    sq.bind_text(st, k, params[i], -1, SQLITE_STATIC))
			return -1;
	}
	return 0;
}

/* One row to fn, its values as text. */
static int
row(sqlite3_stmt *st, db_row_fn fn, void *arg)
{
	const char *vals[DB_COLS_MAX];
	int i, n = sq.column_count(st);

	if (n > DB_COLS_MAX)
		n = DB_COLS_MAX;
	for (i = 0; i < n; i++)
		vals[i] = (const char *)sq.column_text(st, i);
	return fn(arg, n, vals);
}

static int
sqlite_exec(struct db *d, const char *sql, int nparams,
    const char *const *params, db_row_fn fn, void *arg, long *changes)
{
	sqlite3_stmt *st = NULL;
	int rc;

	d->conflict = 0;
	if (sq.prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(d, EIO);
	if (bind(st, nparams, params) == -1)
		goto fail;
	while ((rc = sq.step(st)) == SQLITE_ROW)
		if (fn != NULL && row(st, fn, arg) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		d->conflict = sq.extended_errcode(d->h) ==
		    SQLITE_CONSTRAINT_UNIQUE;
		goto fail;
	}
	if (changes != NULL)
		*changes = sq.changes(d->h);
	sq.finalize(st);
	return 0;
fail:
	fail(d, EIO);
	sq.finalize(st);
	return -1;
}

static int
plain(struct db *d, const char *sql)
{
	return sqlite_exec(d, sql, 0, NULL, NULL, NULL, NULL);
}

static int
sqlite_begin(struct db *d)
{
	return plain(d, "BEGIN IMMEDIATE");
}

static int
sqlite_commit(struct db *d)
{
	return plain(d, "COMMIT");
}

/* SQLite may have rolled the transaction back itself (on SQLITE_FULL,
 * SQLITE_IOERR, SQLITE_BUSY or SQLITE_NOMEM: sqlite.org/lang_
 * transaction.html, "Response To Errors Within A Transaction"); a
 * ROLLBACK then fails with "no transaction is active", and its message
 * would hide the cause. */
static int
sqlite_rollback(struct db *d)
{
	if (sq.get_autocommit(d->h))
		return 0;
	return plain(d, "ROLLBACK");
}

/* Close, then unload the library: nothing of it stays mapped. */
static void
sqlite_close(struct db *d)
{
	sq.close(d->h);
	d->h = NULL;
	(void)sq.shutdown();
	dlclose(lib);
	lib = NULL;
}

static const struct db_backend db_sqlite = {
	.name = "sqlite",
	.serial = "INTEGER PRIMARY KEY AUTOINCREMENT",
	.serialize = NULL,	/* BEGIN IMMEDIATE is enough */
	.tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	    "name LIKE 'serialcgi%'",
	/* The file's own mark, in its header (sqlite.org/fileformat.html
	 * 1.3.19): "SCJB"; and the schema's version there too (1.3.15),
	 * as the store's migrations leave it (store_conn.c). */
	.mark = "PRAGMA application_id = " DB_SQLITE_APP_ID,
	.mark_read = "PRAGMA application_id",
	.version_read = "PRAGMA user_version",
	.version_write = "PRAGMA user_version = %d",
	.exec = sqlite_exec,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.close = sqlite_close,
};

/* Another responder holds the write lock (its commit is an fsync): look
 * again every 100 us, up to 5 s. SQLite's own busy timeout sleeps 1, 2,
 * 5, 10 ms and more between looks, which made a turn's answer, and so
 * the next turn, wait for milliseconds after the lock was free. */
static int
on_busy(void *arg, int n)
{
	struct timespec ts = { 0, BUSY_STEP_US * 1000L };

	(void)arg;
	if ((long)n * BUSY_STEP_US >= BUSY_MS * 1000L)
		return 0;
	(void)nanosleep(&ts, NULL);
	return 1;
}

/* The pragmas, in order; journal_mode answers with a row. */
static int
setup(struct db *d)
{
	char sql[64];

	sq.busy_handler(d->h, on_busy, NULL);
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", CACHE_KIB);
	if (plain(d, "PRAGMA journal_mode = WAL") == -1 ||
	    plain(d, "PRAGMA synchronous = FULL") == -1 ||
	    plain(d, sql) == -1)
		return -1;
	return 0;
}

int
db_open_sqlite(struct db *d, const char *path)
{
	sqlite3 *h = NULL;
	int rc;

	memset(d, 0, sizeof(*d));
	d->be = &db_sqlite;
	if (lib == NULL && (lib = dl_load(LIBSQLITE, syms,
	    sizeof(syms) / sizeof(syms[0]), d->error, sizeof(d->error))) ==
	    NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = sq.open_v2(path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
	    SQLITE_OPEN_FULLMUTEX, NULL);
	d->h = h;
	if (rc != SQLITE_OK) {
		snprintf(d->error, sizeof(d->error), "sqlite: %s",
		    h != NULL ? sq.errmsg(h) : "out of memory");
		d->h = h;
		sqlite_close(d);
		errno = EIO;
		return -1;
	}
	if (setup(d) == -1) {
		rc = errno;
		sqlite_close(d);
		errno = rc;
		return -1;
	}
	return 0;
}
