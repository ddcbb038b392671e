/*
 * store_id.h - the job store's identity, so that a store that was
 * emptied, replaced or deleted is told from a new one. A store holds a
 * random id of its own (store.c writes it in the store's meta table,
 * and an SQLite file carries serialcgi's application_id); the id of
 * the store of record is kept in a small file beside the scoreboard,
 * in the state directory, apart from the store's own files. A store
 * that does not hold that id is refused until an operator removes the
 * file: starting afresh is a decision, never a default.
 */
#ifndef SERIALCGI_STORE_ID_H
#define SERIALCGI_STORE_ID_H

#include <stddef.h>

#define STORE_ID_LEN	32	/* 128 random bits, in hex */
#define STORE_ID_NAME	"serialcgi.jobs-id"	/* the file's name */

/*
 * store_id_path: the identity file's path for the scoreboard at
 * board_path (the same directory), into buf. Returns 0, or -1 with
 * errno ENAMETOOLONG.
 */
int store_id_path(const char *board_path, char *buf, size_t len);

/*
 * store_id_read: the id in the private file at path (privfile.h) into
 * id (STORE_ID_LEN + 1 bytes). Returns 1 read, 0 no such file, -1 with
 * errno set (EINVAL: the file holds no id; EPERM: it is not a private
 * file of ours; ELOOP: a symlink).
 */
int store_id_read(const char *path, char *id);

/*
 * store_id_write: make the private file at path say id, 0600, durable
 * before it is in place, unless it exists already: of processes racing
 * to make it, one wins (privfile_create). Returns 0, or -1 with errno
 * set.
 */
int store_id_write(const char *path, const char *id);

/* store_id_new: a new random id (getrandom(2)) into id, NUL-ended. */
void store_id_new(char *id);

#endif
