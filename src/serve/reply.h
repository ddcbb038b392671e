/*
 * reply.h - the responder's answers: a whole CGI response (RFC 3875
 * 6.3: Status, headers, body) on a FastCGI connection, with the
 * statuses of RFC 9110 and JSON bodies printed by cJSON.
 */
#ifndef SERIALCGI_REPLY_H
#define SERIALCGI_REPLY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "conn.h"

/* reply_init: the Retry-After of this service's 503s and monitors: one
 * work of work_seconds, rounded up to whole seconds, at least 1 (RFC
 * 9110 10.2.3). */
void reply_init(double work_seconds);

/*
 * reply_text: answer c with status, Content-Type type, extra header
 * lines (each ending in CRLF, or "") and len bytes of text, the body
 * left out for HEAD. Returns 0, or -1 with errno set (record_reply;
 * EOVERFLOW: the header block is over 1 KiB).
 */
int reply_text(struct conn *c, int status, const char *type,
    const char *extra, const char *text, size_t len);

/*
 * reply_json: answer c with status and a JSON body printed by cJSON,
 * made valid UTF-8 (utf8_scrub), then a newline (a NULL body, or one
 * cJSON cannot print for want of
 * memory: a 500 "out of memory" instead); reply_error: the
 * body {"error": why}; reply_unavailable: a 503 with Retry-After and
 * {"error": why}. Return 0, or -1 with errno set (reply_text).
 */
int reply_json(struct conn *c, int status, const char *extra, cJSON *body);
int reply_error(struct conn *c, int status, const char *extra,
    const char *why);
int reply_unavailable(struct conn *c, const char *why);

/* reply_retry_after: the "Retry-After: N\r\n" header line. */
const char *reply_retry_after(void);

#endif
