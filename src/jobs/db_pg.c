/*
 * db_pg.c - the PostgreSQL backend of db.h: the job store across hosts,
 * in the lock engine. Plain blocking libpq (PQexecParams), bounded by a
 * 1 s connect, the lock session's client keepalives and a 5 s
 * statement_timeout; synchronous_commit on, so a COMMIT that returns is
 * durable on the engine. The engine's advisory transaction lock keeps
 * responders that start together from racing each other's CREATE.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "pq.h"

#define CONNECT_TIMEOUT	0.5	/* s the loop may wait for a session */
#define RETRY_AFTER	2.0	/* s between tries while it is away */

static const char *const keys[] = {
	"dbname", "application_name", PQ_LIVENESS_KEYS, "connect_timeout",
	"options", NULL
};
#define OPTIONS	"-c statement_timeout=5000 -c lock_timeout=5000 " \
	"-c idle_session_timeout=0 -c synchronous_commit=on " \
	"-c client_min_messages=warning"

/* One line of libpq's message, for the log. */
static void
say(struct db *d, const char *what, const char *msg)
{
	snprintf(d->error, sizeof(d->error), "postgresql %s: %s", what,
	    msg != NULL && *msg ? msg : "no message");
	d->error[strcspn(d->error, "\n")] = '\0';
}

/* Connect, within CONNECT_TIMEOUT: the store is used from the event
 * loop, which must not stall on an engine that is away (libpq's own
 * connect_timeout cannot go below 2 s). After a failure, no new try
 * for RETRY_AFTER: fail at once meanwhile. */
static int
connect_pg(struct db *d)
{
	static double retry_at;
	const char *vals[] = { d->url, "serialcgi-store", PQ_LIVENESS_VALS,
	    "2", OPTIONS, NULL };
	char why[160];

	if (d->h != NULL)
		pq.finish(d->h);
	d->h = NULL;
	if (clock_now() < retry_at) {
		errno = ENOTCONN;
		return -1;
	}
	if ((d->h = pq_start(keys, vals, CONNECT_TIMEOUT, -1, why,
	    sizeof(why))) != NULL)
		return 0;
	say(d, "connect", why);
	retry_at = clock_now() + RETRY_AFTER;
	errno = ENOTCONN;
	return -1;
}

static int
pg_exec(struct db *d, const char *sql, int nparams,
    const char *const *params, db_row_fn fn, void *arg, long *changes)
{
	const char *vals[DB_COLS_MAX];
	PGresult *r;
	ExecStatusType st;
	const char *state;
	int i, k, n, stop = 0;

	d->conflict = 0;
	if ((d->h == NULL || pq.status(d->h) != CONNECTION_OK) &&
	    connect_pg(d) == -1) {
		if (d->error[0] == '\0')
			say(d, "connect", "the engine is away; trying again "
			    "soon");
		return -1;
	}
	r = pq.execParams(d->h, sql, nparams, NULL, params, NULL, NULL, 0);
	st = r != NULL ? pq.resultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		state = r != NULL ? pq.resultErrorField(r, PG_DIAG_SQLSTATE) :
		    NULL;
		d->conflict = state != NULL && strcmp(state, "23505") == 0;
		say(d, "query", r != NULL ? pq.resultErrorMessage(r) :
		    pq.errorMessage(d->h));
		pq.clear(r);
		errno = pq.status(d->h) == CONNECTION_OK ? EIO : ENOTCONN;
		return -1;
	}
	n = pq.nfields(r);
	if (n > DB_COLS_MAX)
		n = DB_COLS_MAX;
	for (i = 0; fn != NULL && !stop && i < pq.ntuples(r); i++) {
		for (k = 0; k < n; k++)
			vals[k] = pq.getisnull(r, i, k) ? NULL :
			    pq.getvalue(r, i, k);
		stop = fn(arg, n, vals) != 0;
	}
	if (changes != NULL)
		*changes = strtol(pq.cmdTuples(r), NULL, 10);
	pq.clear(r);
	return 0;
}

static int
plain(struct db *d, const char *sql)
{
	return pg_exec(d, sql, 0, NULL, NULL, NULL, NULL);
}

static int
pg_begin(struct db *d)
{
	return plain(d, "BEGIN");
}

static int
pg_commit(struct db *d)
{
	return plain(d, "COMMIT");
}

static int
pg_rollback(struct db *d)
{
	return plain(d, "ROLLBACK");
}

static void
pg_close(struct db *d)
{
	pq.finish(d->h);
	d->h = NULL;
}

static const struct db_backend db_pg = {
	.name = "postgresql",
	.serial = "BIGSERIAL PRIMARY KEY",
	.serialize = "SELECT pg_advisory_xact_lock(" PQ_SETUP_KEY ")",
	.tables = "SELECT tablename FROM pg_catalog.pg_tables WHERE "
	    "schemaname = ANY (current_schemas(false)) AND "
	    "tablename LIKE 'serialcgi%'",
	.mark = NULL,		/* the meta table alone */
	.mark_read = NULL,
	.version_read = NULL,	/* the meta table's row alone */
	.version_write = NULL,
	.exec = pg_exec,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.close = pg_close,
};

int
db_open_pg(struct db *d, const char *url)
{
	char why[160];

	memset(d, 0, sizeof(*d));
	d->be = &db_pg;
	d->url = url;
	if (pq_load(why, sizeof(why)) == -1) {
		say(d, "libpq", why);
		errno = ENOTCONN;
		return -1;
	}
	return connect_pg(d);
}
