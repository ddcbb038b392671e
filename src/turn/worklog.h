/* worklog.h - the opt-in work log: a line at the start and at the end
 * of every work, the record the tests and make bench check for
 * overlaps. */
#ifndef SERIALCGI_WORKLOG_H
#define SERIALCGI_WORKLOG_H

#include <stdint.h>

/*
 * worklog_open: open the opt-in work log for appending, 0600,
 * O_NOFOLLOW|O_CLOEXEC. Returns the fd, or -1 with errno set.
 */
int worklog_open(const char *path);

/*
 * worklog_reopen: open path anew (as worklog_open) and put it in place
 * of fd (dup2(2): atomic, so a line being written goes to one file or
 * the other, whole). Returns 0, or -1 with errno set, fd unchanged.
 */
int worklog_reopen(const char *path, int fd);

/*
 * worklog_write: append one line "<event> <mono seconds> <pid> <id>
 * <arrival mono seconds> <fencing token, 0 with flock>" with a
 * single write(2), so lines from many processes never mix (O_APPEND,
 * write(2)). Does nothing if fd < 0. Returns 0, or -1 with errno set.
 */
int worklog_write(int fd, const char *event, double t, const char *id,
    double arrived, uint64_t token);

#endif
