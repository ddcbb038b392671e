/* procfs.h - small reads of proc(5): whole files, and a process's start
 * time. */
#ifndef SERIALCGI_PROCFS_H
#define SERIALCGI_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * procfs_read: read the small proc(5) file at path whole, NUL-ended,
 * into buf (len bytes), never through a symlink. Returns its length,
 * or -1 with errno set (EOVERFLOW: it does not fit; ENOENT: no such
 * process, for /proc/PID/...).
 */
ssize_t procfs_read(const char *path, char *buf, size_t len);

/*
 * procfs_stat_after: the fields of /proc/PID/stat after the command
 * name (which, in parentheses, may hold anything: they start after the
 * last ')', proc(5)), into buf (len bytes). Returns a pointer into buf
 * at field 3 (state), or NULL with errno set (EPROTO: no ')').
 */
char *procfs_stat_after(long pid, char *buf, size_t len);

/* procfs_start: pid's start time, clock ticks after boot (field 22 of
 * /proc/PID/stat). Returns 0, or -1 with errno set (ENOENT: no such
 * process; ESRCH: a zombie, which has exited; EPROTO). */
int procfs_start(long pid, unsigned long long *ticks);

#endif
