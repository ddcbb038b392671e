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
#include "turn.h"

/* reply_init: the length of one work (s) the Retry-After of this
 * service's 503s and monitors counts on until works are measured. */
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

/*
 * reply_cgi: answer c with a program's answer (a CGI response, cgi.h:
 * its header block is answer[0..head_len), its body the rest of len
 * bytes), with extra header lines (each ending in CRLF) after its own.
 * Returns 0, or -1 with errno set (reply_text).
 */
int reply_cgi(struct conn *c, const unsigned char *answer, size_t head_len,
    size_t len, const char *extra);

/* reply_busy: the 503 for a request nginx's limit_conn refused and sent
 * here (SERIALCGI_REJECTED), counted as rejected. Returns as
 * reply_text. */
int reply_busy(struct conn *c);

/* reply_timing: the Server-Timing header line of turn t (wait and work,
 * ms, and the fencing token) and X-Fence-Token with an engine, into buf
 * (REPLY_TIMING_MAX bytes), each line CRLF-ended. */
#define REPLY_TIMING_MAX	192
void reply_timing(const struct turn *t, char *buf, size_t len);

/* reply_retry_after: the "Retry-After: N\r\n" header line: one work
 * from now, the median of the last works' lengths rounded up (an
 * estimate), at least 1 s. Valid until the thread's next call. */
const char *reply_retry_after(void);

#endif
