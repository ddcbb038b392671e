/* secret.c - the callbacks' signing secret: see secret.h. */
#define _GNU_SOURCE	/* O_NOFOLLOW, getrandom */

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privfile.h"
#include "secret.h"
#include "webapi.h"

#define SECRET_MAX	64	/* bytes of key */

static struct {
	const char	*path;		/* NULL: callbacks off */
	char		 text[128];	/* "whsec_...", once read */
	unsigned char	 key[SECRET_MAX];
	int		 key_len;	/* decoded at the first callback */
} sec;

/* "whsec_" and base64 of 24 to 64 bytes (Standard Webhooks' form), a
 * newline allowed after. Read and checked at start; decoded by
 * libcrypto at the first callback (decode_key), so that an idle
 * responder never loads it. */
static int
read_secret(const char *path, char *why, size_t len)
{
	const char *b64 = sec.text + 6;
	size_t n, k, pad, bytes;

	if (privfile_read(path, sec.text, sizeof(sec.text), why, len) ==
	    -1) {
		sec.text[0] = '\0';
		return -1;
	}
	sec.text[strcspn(sec.text, "\r\n")] = '\0';
	n = strlen(b64);
	k = strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/");
	pad = strspn(b64 + k, "=");
	/* Its length decoded: 3 bytes per 4 characters, less the pad. */
	bytes = n / 4 * 3 - pad;
	if (strncmp(sec.text, "whsec_", 6) != 0 || k + pad != n || pad > 2 ||
	    n % 4 != 0 || bytes < 24 || bytes > SECRET_MAX) {
		sec.text[0] = '\0';
		snprintf(why, len, "want whsec_ and base64 of 24 to %d bytes "
		    "(Standard Webhooks)", SECRET_MAX);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * The secret file does not exist yet: make it, 32 random bytes from
 * getrandom(2) in base64 (libcrypto), 0600 (privfile_create: responders
 * racing to make it agree on one). Then read it. Returns 0, or -1 with
 * why.
 */
static int
make_secret(char *why, size_t len)
{
	unsigned char raw[32], b64[48];
	char line[64];
	int n;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(why, len, "getrandom: %s", strerror(errno));
		return -1;
	}
	cr.encode_block(b64, raw, sizeof(raw));
	n = snprintf(line, sizeof(line), "whsec_%s\n", (char *)b64);
	if (privfile_create(sec.path, line, (size_t)n, why, len) == -1)
		return -1;
	return read_secret(sec.path, why, len);
}

/* The secret in memory: read from its file, made first if missing.
 * Returns 0, or -1 with why. */
int
secret_load(char *why, size_t len)
{
	if (sec.text[0] != '\0')
		return 0;
	if (read_secret(sec.path, why, len) == 0)
		return 0;
	return errno == ENOENT ? make_secret(why, len) : -1;
}

/* The key's bytes, once. Returns 0 or -1. */
static int
decode_key(void)
{
	const char *b64 = sec.text + 6;
	unsigned char raw[sizeof(sec.text)];
	int k, pad = 0, n = (int)strlen(b64);

	if (sec.key_len > 0)
		return 0;
	if ((k = cr.decode_block(raw, (const unsigned char *)b64, n)) < 0)
		return -1;
	while (pad < 2 && b64[n - 1 - pad] == '=')
		pad++;
	if ((k -= pad) < 24 || k > SECRET_MAX)
		return -1;
	memcpy(sec.key, raw, (size_t)k);
	sec.key_len = k;
	return 0;
}

int
secret_sign(const char *id, long ts, const char *body, char *out,
    size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE], *msg;
	unsigned int mlen = 0;
	int n;

	n = snprintf(NULL, 0, "%s.%ld.%s", id, ts, body);
	if ((msg = malloc((size_t)n + 1)) == NULL)
		return -1;
	snprintf((char *)msg, (size_t)n + 1, "%s.%ld.%s", id, ts, body);
	if (decode_key() == -1) {
		free(msg);
		return -1;
	}
	if (cr.hmac(cr.sha256(), sec.key, sec.key_len, msg, (size_t)n, mac,
	    &mlen) ==
	    NULL || len < 4 * ((mlen + 2) / 3) + 1) {
		free(msg);
		return -1;
	}
	free(msg);
	cr.encode_block((unsigned char *)out, mac, (int)mlen);
	return 0;
}

int
secret_init(const char *path, char *why, size_t len)
{
	if ((sec.path = path) == NULL)
		return 0;
	/* A secret that is there must be right now; a missing one is made
	 * at the first callback (make_secret). */
	if (read_secret(path, why, len) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

int
secret_on(void)
{
	return sec.path != NULL;
}
