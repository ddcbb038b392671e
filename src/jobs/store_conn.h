/*
 * store_conn.h - the job store's connection, for store.c alone: the
 * one connection of a process and its mutex, opening it (the store of
 * record, store_id.h; the tables; the schema's version, migrated once
 * under a lock), and what became of it for /status (the board). The
 * rest of the program uses store.h.
 */
#ifndef SERIALCGI_STORE_CONN_H
#define SERIALCGI_STORE_CONN_H

#include <limits.h>
#include <pthread.h>
#include <sys/types.h>

#include "db.h"

#define STORE_TABLE	"serialcgi_jobs"

struct store_conn {
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
};

extern struct store_conn store_conn;

/* store_conn_lock, store_conn_unlock: the store's recursive mutex. */
void store_conn_lock(void);
void store_conn_unlock(void);

/*
 * store_conn_ensure: with the mutex held, open the store if it is
 * closed and make sure it is the store of record, its tables made and
 * its schema at this build's version. Returns 0, or -1 with errno set
 * and the db's error (ESTALE: refused).
 */
int store_conn_ensure(void);

/* store_conn_run: one statement (db_exec) under the mutex, the store
 * opened first, its outcome noted. Returns as db_exec. */
int store_conn_run(const char *sql, int n, const char *const *v,
    db_row_fn fn, void *arg, long *changes);

/* store_conn_note: a call's outcome (rc 0 or -1, errno), a write or
 * not, onto the board's state of the store. store_conn_failed: after a
 * failure, let go of a store whose file moved (ESTALE).
 * store_conn_rollback: roll back, keeping the error of what failed. */
void store_conn_note(int rc, int wrote);
void store_conn_failed(void);
void store_conn_rollback(void);

/* store_conn_blank: is the SQLite file new and empty? store_conn_recorded:
 * the id of record into want (STORE_ID_LEN + 1 bytes): 1, 0 none, or
 * -1 refused. */
int store_conn_blank(void);
int store_conn_recorded(char *want);

#endif
