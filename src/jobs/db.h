/*
 * db.h - a small SQL interface for the job store, one type with two
 * backends in the manner of nginx's ngx_shmtx: SQLite on one host
 * (db_sqlite.c), PostgreSQL across hosts (db_pg.c). Statements are
 * written once, with PostgreSQL's $1, $2 ... placeholders, which SQLite
 * reads as named parameters; values travel as text both ways (NULL is
 * SQL NULL), so the job logic (store.c) never sees a backend.
 */
#ifndef SERIALCGI_DB_H
#define SERIALCGI_DB_H

#include <stddef.h>

struct db;

#define DB_COLS_MAX	64	/* columns of a row given to a db_row_fn */

/* One row: n values as text, NULL for SQL NULL. Return 0 to go on. */
typedef int (*db_row_fn)(void *arg, int n, const char *const *vals);

struct db_backend {
	const char	*name;
	const char	*serial;	/* the type of a column that numbers
					 * rows as they are inserted */
	const char	*serialize;	/* a statement that makes schema
					 * changes wait for each other, or
					 * NULL */
	const char	*tables;	/* a query: the names of the tables
					 * beginning "serialcgi", one a row */
	const char	*mark;		/* statements (';'-separated) that
					 * mark a new store as serialcgi's,
					 * or NULL */
	const char	*mark_read;	/* a query: that mark, 0 for none,
					 * or NULL */
	const char	*version_read;	/* a query: the schema's version
					 * in the backend's own place, or
					 * NULL (the store's meta table
					 * holds it anyway) */
	const char	*version_write;	/* a statement setting it ("%d"),
					 * or NULL */
	int	(*exec)(struct db *, const char *sql, int nparams,
		    const char *const *params, db_row_fn fn, void *arg,
		    long *changes);
	int	(*begin)(struct db *);	/* a write transaction */
	int	(*commit)(struct db *);
	int	(*rollback)(struct db *);
	void	(*close)(struct db *);
};

struct db {
	const struct db_backend *be;
	void		*h;		/* sqlite3 *, or PGconn * */
	const char	*url;		/* PostgreSQL: to reconnect */
	int		 conflict;	/* the last statement broke a
					 * UNIQUE constraint */
	char		 error[200];	/* the last failure, one line */
};

/*
 * db_open_sqlite: open (creating, 0600) the SQLite database at path for
 * the store, without following a symlink (SQLITE_OPEN_NOFOLLOW), in WAL
 * mode with synchronous=FULL (a committed job survives a power cut)
 * and a busy timeout; SQLite serializes threads on the connection
 * (SQLITE_OPEN_FULLMUTEX). Call after fork(2): one connection per
 * process. Returns 0, or -1 with errno set and d->error.
 */
int db_open_sqlite(struct db *d, const char *path);

/*
 * db_open_pg: connect to the PostgreSQL engine at url (libpq URL or
 * conninfo; libpq is loaded through pq.h) for the store, with the same
 * client keepalives as the lock's session, a statement timeout, and
 * synchronous_commit on. Returns 0, or -1 with errno ENOTCONN and
 * d->error.
 */
int db_open_pg(struct db *d, const char *url);

/*
 * db_exec: run one statement with its parameters ($1..$n, as text or
 * NULL), calling fn for each row it returns (fn may be NULL). *changes,
 * if not NULL, gets the rows it inserted, updated or deleted.
 * Returns 0, or -1 with errno EIO (d->conflict set if a UNIQUE
 * constraint refused it), ENOSPC (the store is full: no room on its
 * disk, or its quota), ESTALE (SQLite: the file was moved or deleted
 * while open) or ENOTCONN (the engine is gone), d->error saying why.
 */
int db_exec(struct db *d, const char *sql, int nparams,
    const char *const *params, db_row_fn fn, void *arg, long *changes);

/* db_begin, db_commit, db_rollback: a write transaction (SQLite BEGIN
 * IMMEDIATE: a deferred read-then-write would fail with SQLITE_BUSY that
 * no timeout can help). A rollback after the backend rolled back by
 * itself (SQLite does on a full disk) does nothing, and keeps the error
 * that caused it. Return 0, or -1 as db_exec. */
int db_begin(struct db *d);
int db_commit(struct db *d);
int db_rollback(struct db *d);

/* db_schema: run the ';'-separated statements of sql (CREATE ... IF
 * NOT EXISTS) in one write transaction, after the backend's serialize
 * statement. Returns 0, or -1 as db_exec. */
int db_schema(struct db *d, const char *sql);

/* db_exec_all: run the ';'-separated statements of sql, without
 * parameters, in whatever transaction is open. Returns 0, or -1 as
 * db_exec (errno ENOMEM too). */
int db_exec_all(struct db *d, const char *sql);

/* db_serialize: within a write transaction, wait for the backend's
 * serialize statement (schema changes one at a time), if it has one.
 * Returns 0, or -1 as db_exec. */
int db_serialize(struct db *d);

/* db_close: let the connection go. */
void db_close(struct db *d);

#endif
