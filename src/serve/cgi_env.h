/*
 * cgi_env.h - a program's environment for a /work request, as RFC 3875
 * section 4.1 has the meta-variables, built from an allow-list out of
 * the request's FastCGI params (nginx's fastcgi_params), never from the
 * responder's own environment:
 *   GATEWAY_INTERFACE CGI/1.1, SERVER_SOFTWARE serialcgi/version,
 *   SCRIPT_NAME /work, PATH_INFO (the path after /work), QUERY_STRING,
 *   REQUEST_METHOD, CONTENT_TYPE and CONTENT_LENGTH (of a body),
 *   REMOTE_ADDR, REMOTE_PORT, SERVER_NAME, SERVER_PORT, SERVER_ADDR,
 *   SERVER_PROTOCOL, REQUEST_URI, REQUEST_SCHEME, HTTPS, AUTH_TYPE,
 *   REMOTE_USER, every HTTP_* but HTTP_PROXY (httpoxy, CVE-2016-5385:
 *   a Proxy: header must never become a proxy setting) and those of
 *   CONTENT_LENGTH and CONTENT_TYPE (RFC 3875 4.1.18), and PATH; at
 *   its turn (work_env.h) SERIALCGI_REQUEST_ID, SERIALCGI_WAIT_SECONDS
 *   and, with a lock engine, SERIALCGI_FENCE_TOKEN.
 */
#ifndef SERIALCGI_CGI_ENV_H
#define SERIALCGI_CGI_ENV_H

#include <stddef.h>

#define CGI_ENV_PATH	"/usr/local/bin:/usr/bin:/bin"

/*
 * cgi_env_request: the request's part of the environment (all but what
 * only its turn knows: work_env_turn adds that), from its gathered
 * params[0..len) (record_params) and its body's length, as a block of
 * "NAME=value" strings (work_env.h) in *block (malloc'd, free() it),
 * *blen bytes. Kept as it is, a job's request runs later with the very
 * same environment. Returns 0, or -1 with errno ENOMEM or EPROTO.
 */
int cgi_env_request(const unsigned char *params, size_t len,
    size_t body_len, char **block, size_t *blen);

#endif
