/* store_id.c - the job store's identity file: see store_id.h. */
#define _GNU_SOURCE	/* O_NOFOLLOW, getrandom */

#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	char buf[STORE_ID_LEN + 2];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < STORE_ID_LEN) {
		errno = n == -1 ? errno : EINVAL;
		return -1;
	}
	buf[n] = '\0';
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
	char tmp[4096], line[STORE_ID_LEN + 2];
	int fd, rc = -1, e;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(line, sizeof(line), "%.*s\n", STORE_ID_LEN, id);
	(void)unlink(tmp);	/* one a dead process of this pid left */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	/* Durable before it is in place: a crash leaves the old file or
	 * the new one, never an empty one (rename(2)). */
	if (write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
	    fsync(fd) == 0)
		rc = rename(tmp, path);
	e = errno;
	close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	errno = e;
	return rc;
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
