/* lock_flock.h - the lock backend of one host: flock(2) on a shared
 * file, which the kernel drops when its holder dies. */
#ifndef SERIALCGI_LOCK_FLOCK_H
#define SERIALCGI_LOCK_FLOCK_H

#include "lock.h"

extern const struct lock_backend lock_flock;

#endif
