/* db.c - the store's SQL interface: entry points, the schema. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

int
db_exec(struct db *d, const char *sql, int nparams,
    const char *const *params, db_row_fn fn, void *arg, long *changes)
{
	return d->be->exec(d, sql, nparams, params, fn, arg, changes);
}

int
db_begin(struct db *d)
{
	return d->be->begin(d);
}

int
db_commit(struct db *d)
{
	return d->be->commit(d);
}

int
db_rollback(struct db *d)
{
	return d->be->rollback(d);
}

void
db_close(struct db *d)
{
	if (d->be != NULL && d->h != NULL)
		d->be->close(d);
	d->be = NULL;
}

int
db_serialize(struct db *d)
{
	return d->be->serialize == NULL ? 0 : db_exec(d, d->be->serialize, 0,
	    NULL, NULL, NULL, NULL);
}

int
db_exec_all(struct db *d, const char *sql)
{
	char *all, *stmt, *save = NULL;
	int rc = 0, e;

	if ((all = strdup(sql)) == NULL)
		return -1;
	for (stmt = strtok_r(all, ";", &save); rc == 0 && stmt != NULL;
	    stmt = strtok_r(NULL, ";", &save))
		rc = db_exec(d, stmt, 0, NULL, NULL, NULL, NULL);
	e = errno;
	free(all);
	errno = e;
	return rc;
}

/* Each statement, in one write transaction, so responders that start
 * together do not race each other's CREATE. */
int
db_schema(struct db *d, const char *sql)
{
	int e;

	if (db_begin(d) == -1)
		return -1;
	if (db_serialize(d) == -1 || db_exec_all(d, sql) == -1) {
		e = errno;
		(void)db_rollback(d);
		errno = e;
		return -1;
	}
	return db_commit(d);
}
