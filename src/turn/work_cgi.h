/*
 * work_cgi.h - the work as a CGI program (RFC 3875): WORK_COMMAND runs
 * once per turn, with the environment and stdin its source gives
 * (work.h), and its whole answer (stdout, up to WORK_OUTPUT_MAX bytes)
 * is kept for the requester. It runs in its own directory, with no
 * descriptor but those three. Its stderr goes to the log, line by line,
 * with the request id. The work is over when the program and every
 * process it started have exited (proctree.h): at WORK_TIMEOUT they all
 * get SIGTERM, SIGKILL 2 s later; a lost lock kills them at once.
 * Waiting is on descriptors (pidfd_open(2), the pipes, the lock's and
 * the requester's), in one poll(2).
 */
#ifndef SERIALCGI_WORK_CGI_H
#define SERIALCGI_WORK_CGI_H

#include <stddef.h>

#include "work.h"

#define WORK_CGI_GRACE	2.0	/* s from SIGTERM to SIGKILL */

extern const struct work_backend work_cgi;

/*
 * work_cgi_check: may path be WORK_COMMAND? An absolute path to a
 * regular file this process may execute and neither it nor others may
 * write (a program the service could be made to rewrite would run with
 * its rights). Returns 0, or -1 with why (at most len bytes).
 */
int work_cgi_check(const char *path, char *why, size_t len);

/*
 * work_cgi_init: the program, its timeout (s) and the bytes of its
 * answer kept; makes this process the subreaper of what it starts
 * (proctree_init). Returns 0, or -1 with errno set.
 */
int work_cgi_init(const char *command, double timeout, size_t output_max);

#endif
