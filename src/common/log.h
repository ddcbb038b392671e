/* log.h - one line per event on stderr. */
#ifndef SERIALCGI_LOG_H
#define SERIALCGI_LOG_H

/*
 * log_msg: write "serialcgi[pid]: <message>\n" to stderr with a single
 * write(2), so lines from many threads and processes never interleave
 * (pipes and O_APPEND files keep writes up to PIPE_BUF whole).
 * Errors are ignored: there is nowhere left to report them.
 */
void log_msg(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
