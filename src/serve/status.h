/*
 * status.h - the fuller views of /status, as php-fpm's status page has
 * them (?json, ?full, ?html): the queue in order, the wait histogram
 * and the host's load and free disk (?full), and a page that polls
 * ?full every second (?html). The plain answer is metrics.h's.
 */
#ifndef SERIALCGI_STATUS_H
#define SERIALCGI_STATUS_H

#include <stddef.h>

#include "board_stats.h"

#define STATUS_QUEUE_MAX 256	/* waiters ?full lists, the earliest */

enum status_view {
	STATUS_PLAIN,		/* no query, or ?json */
	STATUS_FULL,		/* ?full (and ?full&json) */
	STATUS_HTML,		/* ?html (and ?html&full) */
	STATUS_BAD = -1		/* anything else */
};

/*
 * status_view: the view a QUERY_STRING (RFC 3875 4.1.7; q[0..len),
 * not NUL-terminated) asks for: words from "json", "full" and "html"
 * joined by '&'; empty words are ignored, "html" with "json" is
 * refused. Returns an enum status_view.
 */
int status_view(const char *q, size_t len);

/*
 * status_init: ?full's estimates count on work_seconds (s) until the
 * first works are measured. ?full reports the free space of the file
 * system that holds board_path, the scoreboard file (statvfs(3) on its
 * directory).
 */
void status_init(const char *board_path, double work_seconds);

/* status_free_bytes: what the service user may still write on the
 * file system of the scoreboard's directory (statvfs(3) f_bavail), or
 * -1 if it cannot be told. */
double status_free_bytes(void);

/*
 * status_full: what metrics_status() answers, and: the holder's
 * request id and wait; "queue", the waiters in ticket order (at most
 * STATUS_QUEUE_MAX, and at most 8 more than st counted) with pid,
 * request id and seconds waited, "job": true for a stored job's ticket
 * and "orphan": true for one waiting to be adopted; the wait
 * histogram's buckets (cumulative, as in /metrics); "host", the load
 * average (sysinfo(2)) and the free space for the service user
 * (statvfs(3) f_bavail); with jobs on, "jobs": the store's backend,
 * its state as the responders last found it ("ok", "full", "refused",
 * "failing"), the count of its failed calls, this responder's word for
 * a failure ("error", else null), and the free space of the SQLite
 * store's directory ("disk", else null). st is a board_stats()
 * snapshot, now is clock_now() in seconds; the queue is a snapshot of
 * its own (board_stats_queue). Returns a string to free with
 * cJSON_free(), or NULL with errno set (ENOMEM, or
 * board_stats_queue's).
 */
char *status_full(const struct board_stats *st, const char *engine,
    double now);

/* The page of ?html, text/html in UTF-8, no external assets: built from
 * src/status.html by the Makefile (status_html.c). */
extern const char status_html[];
extern const size_t status_html_len;

/* The page's Content-Security-Policy: nothing from elsewhere, no
 * request but to its own origin, never in another site's frame. */
#define STATUS_HTML_CSP "default-src 'none'; connect-src 'self'; " \
	"script-src 'unsafe-inline'; style-src 'unsafe-inline'; " \
	"img-src data:; frame-ancestors 'none'; base-uri 'none'"

#endif
