/*
 * work_upstream.h - the work as a call to an HTTP upstream that must
 * never see two callers at once (WORK_URL): the request of /work/...
 * (its CGI environment and body, as a program would get them, work.h)
 * is forwarded to the base URL with the path after /work appended as
 * it came (one with a dot segment is refused, 400: it could climb out
 * of the base): method, query, body and end-to-end headers; hop-by-hop
 * ones dropped (RFC 9110 7.6.1); Forwarded (RFC 7239), X-Request-Id and,
 * with a lock engine, X-Fence-Token added. The upstream's status,
 * end-to-end headers and body (up to WORK_OUTPUT_MAX) become the answer,
 * as a CGI response; redirects are relayed, never followed. The turn
 * ends when the whole answer is in hand or the call has failed, never
 * later. libcurl's multi interface, polled with the lock's and the
 * requester's descriptors (curl_multi_poll(3)).
 */
#ifndef SERIALCGI_WORK_UPSTREAM_H
#define SERIALCGI_WORK_UPSTREAM_H

#include <stddef.h>

#include "work.h"

extern const struct work_backend work_upstream;

/*
 * work_upstream_check: may url be WORK_URL? http or https, a host, a
 * port from 1 to 65535 if given, no credentials (why never shows
 * them), no query or fragment (the request's own query is appended),
 * parsed by libcurl's URL API (loaded now: call before any thread
 * starts). Returns 0, or -1 with why (at most len bytes).
 */
int work_upstream_check(const char *url, char *why, size_t len);

/*
 * work_upstream_init: the base URL, the CA file for a private CA (NULL:
 * the system's), the timeout (s) and the bytes of an answer kept.
 */
void work_upstream_init(const char *url, const char *ca_file,
    double timeout, size_t output_max);

#endif
