/*
 * privfile.h - small private files the responders share: a key, an
 * identity. Ours, regular, no access for group or others, never
 * through a symlink; made once by whichever responder comes first.
 */
#ifndef SERIALCGI_PRIVFILE_H
#define SERIALCGI_PRIVFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * privfile_read: read the private file at path, at most cap - 1 bytes,
 * NUL-ended, into buf. Returns the length, or -1 with errno set and why
 * (at most len bytes): "is a symlink" (ELOOP), "must be a regular file
 * of ours, mode 0600 or 0400" (EPERM), or the open's (ENOENT: none).
 */
ssize_t privfile_read(const char *path, char *buf, size_t cap, char *why,
    size_t len);

/*
 * privfile_create: make the private file at path holding the n bytes
 * of data, 0600: written and fsync(2)ed under a name of our own, then
 * link(2)ed into place, so that of processes racing to make it one
 * wins and the others find its file (an existing one is no error).
 * Returns 0, or -1 with errno set and why (at most len bytes).
 */
int privfile_create(const char *path, const void *data, size_t n,
    char *why, size_t len);

#endif
