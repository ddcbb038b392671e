/* store_id.c - the job store's identity file: see store_id.h. */
#define _GNU_SOURCE	/* getrandom */

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privfile.h"
#include "store_id.h"

int
store_id_path(const char *board_path, char *buf, size_t len)
{
	const char *slash = strrchr(board_path, '/');
	int n;

	if (slash == NULL)
		n = snprintf(buf, len, "%s", STORE_ID_NAME);
	else
		n = snprintf(buf, len, "%.*s/%s", (int)(slash - board_path),
		    board_path, STORE_ID_NAME);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
is_id(const char *s)
{
	return strspn(s, "0123456789abcdef") == STORE_ID_LEN;
}

int
store_id_read(const char *path, char *id)
{
	char buf[STORE_ID_LEN + 8], why[160];

	/* A private file, as the callback secret and the node's
	 * identity are (privfile.h): ours, 0600, never a symlink. */
	if (privfile_read(path, buf, sizeof(buf), why, sizeof(why)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!is_id(buf)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(id, buf, STORE_ID_LEN);
	id[STORE_ID_LEN] = '\0';
	return 1;
}

int
store_id_write(const char *path, const char *id)
{
	char line[STORE_ID_LEN + 2], why[160];

	snprintf(line, sizeof(line), "%.*s\n", STORE_ID_LEN, id);
	return privfile_create(path, line, strlen(line), why, sizeof(why));
}

void
store_id_new(char *id)
{
	unsigned char r[STORE_ID_LEN / 2];
	size_t i;

	/* The kernel's CSPRNG: two stores must never share an id. */
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		abort();
	for (i = 0; i < sizeof(r); i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
}
