/*
 * log.h - one line per event on stderr, "serialcgi[pid]: message". When
 * stderr is the journal (systemd's JOURNAL_STREAM names it), each line
 * begins with its syslog priority, "<3>" error, "<4>" warning, "<6>"
 * info (sd-daemon(3)), and so do err(3)'s messages of a failed start.
 */
#ifndef SERIALCGI_LOG_H
#define SERIALCGI_LOG_H

#include <syslog.h>	/* LOG_ERR, LOG_WARNING, LOG_INFO */

/* log_init: look once whether stderr is the journal (its device and
 * inode are JOURNAL_STREAM's, systemd.exec(5)). Call before any log
 * line and any thread. */
void log_init(void);

/*
 * log_at: write one line of priority prio (syslog(3)'s LOG_ERR,
 * LOG_WARNING, LOG_INFO) to stderr with a single write(2), so lines
 * from many threads and processes never interleave (pipes and O_APPEND
 * files keep writes up to PIPE_BUF whole). A write that fails is
 * ignored: there is nowhere left to report it, and nothing else may
 * stop for it. errno is kept.
 * log_msg: an event; log_warn: something went wrong and was dealt
 * with; log_err: something failed.
 */
void log_at(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_msg(...)	log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_WARNING, __VA_ARGS__)
#define log_err(...)	log_at(LOG_ERR, __VA_ARGS__)

#endif
