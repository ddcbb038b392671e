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

/* Each statement, in one write transaction, so responders that start
 * together do not race each other's CREATE. */
int
db_schema(struct db *d, const char *sql)
{
	char *all, *stmt, *save = NULL;
	int rc = -1, e;

	if ((all = strdup(sql)) == NULL)
		return -1;
	if (db_begin(d) == -1)
		goto out;
	if (d->be->serialize != NULL && db_exec(d, d->be->serialize, 0, NULL,
	    NULL, NULL, NULL) == -1) {
		e = errno;
		(void)db_rollback(d);
		errno = e;
		goto out;
	}
	for (stmt = strtok_r(all, ";", &save); stmt != NULL;
	    stmt = strtok_r(NULL, ";", &save))
		if (db_exec(d, stmt, 0, NULL, NULL, NULL, NULL) == -1) {
			e = errno;
			(void)db_rollback(d);
			errno = e;
			goto out;
		}
	rc = db_commit(d);
out:
	free(all);
	return rc;
}
