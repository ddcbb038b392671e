/* work.c - the work, behind one interface: see work.h. */
#define _GNU_SOURCE	/* memfd_create */

#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "work.h"

int
work_run(struct work *w)
{
	w->end = WORK_DONE;
	w->answer = NULL;
	w->answer_len = w->head_len = 0;
	w->status = 200;
	w->exit_status = -1;
	w->why[0] = '\0';
	return w->be->run(w);
}

const char *
work_end_name(enum work_end end)
{
	static const char *const names[] = {
		[WORK_DONE] = "done", [WORK_LOST] = "lost",
		[WORK_TIMEOUT] = "timeout", [WORK_BAD] = "bad answer",
		[WORK_ABORTED] = "aborted", [WORK_FAILED] = "failed",
	};

	return (unsigned)end < sizeof(names) / sizeof(names[0]) ?
	    names[end] : "failed";
}

int
work_stdin_fd(const void *p, size_t len)
{
	const char *s = p;
	ssize_t n;
	int fd, e;

	if ((fd = memfd_create("serialcgi-body", MFD_CLOEXEC)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, s, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n == 0 ? EIO : errno;
			close(fd);
			errno = e;
			return -1;
		}
		s += n;
		len -= (size_t)n;
	}
	return fd;
}

void
work_clear(struct work *w)
{
	free(w->answer);
	w->answer = NULL;
	w->answer_len = w->head_len = 0;
}
