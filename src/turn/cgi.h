/*
 * cgi.h - a program's answer as RFC 3875 section 6 has it: header
 * fields, each ending in LF or CRLF, a blank line, then the body. One
 * of Content-Type, Location (local or absolute) or Status must be
 * there; Status gives the code (6.3.3), else 200 (302 for a Location
 * alone, a client redirect, 6.2.3).
 */
#ifndef SERIALCGI_CGI_H
#define SERIALCGI_CGI_H

#include <stddef.h>

#define CGI_HEAD_MAX	(64 * 1024)	/* bytes of a header block */

/*
 * cgi_parse: check that buf[0..len) begins with a valid header block.
 * Returns 0 with *head_len (its bytes, through the blank line) and
 * *status set, or -1 with a one-line reason in why (at most wlen
 * bytes): "no header block", "bad header line", "bad Status", "no
 * Content-Type, Location or Status", "header block over 64 KiB".
 */
int cgi_parse(const unsigned char *buf, size_t len, size_t *head_len,
    int *status, char *why, size_t wlen);

/*
 * cgi_head: the header block of a parsed answer (buf, head_len) as
 * CRLF-ended lines, without its blank line, into out (at most cap
 * bytes, NUL-ended). Returns the length, or -1 if it does not fit.
 */
long cgi_head(const unsigned char *buf, size_t head_len, char *out,
    size_t cap);

/*
 * cgi_field: the value of header field name (case-insensitive) in a
 * parsed answer's header block (buf, head_len), without the blanks
 * around it, into out (cut to cap - 1 bytes, NUL-ended). Returns 1,
 * or 0 if the block has no such field (out is "").
 */
int cgi_field(const unsigned char *buf, size_t head_len, const char *name,
    char *out, size_t cap);

#endif
