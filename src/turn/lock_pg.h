/* lock_pg.h - the lock backend across hosts: a cohort lock, flock(2)
 * within the host, then a PostgreSQL session advisory lock taken by
 * the host's head only, with a fencing token from a sequence. */
#ifndef SERIALCGI_LOCK_PG_H
#define SERIALCGI_LOCK_PG_H

#include "lock.h"

extern const struct lock_backend lock_pg;

#endif
