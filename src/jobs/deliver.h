/*
 * deliver.h - callbacks: when a job is final, POST it to its
 * callback_url in the Standard Webhooks form (standardwebhooks.com:
 * webhook-id, the same on every retry; webhook-timestamp;
 * webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
 * keyed by the operator's secret, which travels in no payload).
 * Retries with exponential backoff and jitter, honouring Retry-After;
 * 2xx is done, 410 stops, a redirect is never followed. Only http and
 * https, and only to addresses the allowlist admits (allow.h), judged
 * on the address about to be connected to, before any connection.
 * libcurl's multi interface runs in the event loop (loop.h): its
 * sockets live in an epoll set of their own, which the loop watches as
 * one fd, made at the first callback; its timer is a loop timer.
 */
#ifndef SERIALCGI_DELIVER_H
#define SERIALCGI_DELIVER_H

#include "settings.h"
#include "store.h"

#define DELIVER_ATTEMPTS	8	/* then the delivery has failed */
#define DELIVER_TIMEOUT		10	/* s for one attempt */

/*
 * deliver_init: the secret (cfg->callback_secret: a private file
 * holding "whsec_" and base64, Standard Webhooks' form; made, 0600, at
 * the first callback if it does not exist) and the allowlist
 * (cfg->callback_allow). Without a secret file, callbacks are off and a
 * callback_url is refused (secret.h). Returns 0, or -1 with why (at
 * most len bytes): a secret file that is a symlink, readable by
 * others, or malformed; a bad allowlist.
 */
int deliver_init(const struct config *cfg, char *why, size_t len);

/*
 * deliver_check_url: may url be a callback? http or https, a host, no
 * credentials, parsed by libcurl's URL API; an address literal must be
 * allowed. A host name is judged when it is resolved, at delivery.
 * Returns 0, or -1 with why, beginning "callback_url: ", and errno
 * EINVAL (the URL's fault) or EAGAIN (libcurl cannot be loaded now).
 */
int deliver_check_url(const char *url, char *why, size_t len);

/* deliver_start: send j's callback now (the store has it claimed for
 * this process). Returns 0, or -1 with errno set (its state then
 * stays claimed; the janitor tries again when this process dies). */
int deliver_start(const struct job *j);

/* deliver_has: is job id's callback being sent by this process? */
int deliver_has(const char *id);

/* deliver_busy: how many callbacks are being sent. */
int deliver_busy(void);

/* deliver_stop: drop what is in flight; its claim is taken up again by
 * another responder once this one is gone. */
void deliver_stop(void);

#endif
