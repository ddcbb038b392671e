/*
 * secret.h - the key that signs callbacks, in Standard Webhooks' form
 * (standardwebhooks.com): a private file holding "whsec_" and the
 * base64 of 24 to 64 bytes, made 0600 at the first callback if it does
 * not exist; the signature is v1, base64 of HMAC-SHA256 over
 * "id.timestamp.body". libcrypto comes through webapi.h.
 */
#ifndef SERIALCGI_SECRET_H
#define SERIALCGI_SECRET_H

#include <stddef.h>

/*
 * secret_init: the secret lives at path (NULL: callbacks are off). A
 * file that is there must be right now: a regular file of ours, mode
 * 0600 or 0400, never a symlink, in the form above. Returns 0, or -1
 * with why (at most len bytes) and errno set.
 */
int secret_init(const char *path, char *why, size_t len);

/* secret_on: is a secret file configured? Returns 1 or 0. */
int secret_on(void);

/*
 * secret_load: the secret in memory: read from its file, made first if
 * missing, by one responder of many (link(2) settles a race). Needs
 * webapi_load(). Returns 0, or -1 with why (at most len bytes).
 */
int secret_load(char *why, size_t len);

/*
 * secret_sign: the signature of one delivery, base64 of HMAC-SHA256
 * over "id.ts.body" (ts: Unix seconds), into out (at most len bytes).
 * Needs secret_load(). Returns 0, or -1 (the secret does not decode,
 * out is too small, or no memory).
 */
int secret_sign(const char *id, long ts, const char *body, char *out,
    size_t len);

#endif
