/* log.c - one line per event on stderr: see log.h. */
#define _GNU_SOURCE	/* program_invocation_short_name */

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

static struct {
	int	 journal;	/* stderr is the journal: <N> first */
} lg;

void
log_init(void)
{
	unsigned long long dev, ino;
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return;
	lg.journal = (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
	/* err(3) begins its lines with this name: an error, then. */
	if (lg.journal)
		program_invocation_short_name = "<3>serialcgi";
}

void
log_at(int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = 0, m, e = errno;

	if (lg.journal)
		n = snprintf(buf, sizeof(buf), "<%d>", prio);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "serialcgi[%ld]: ",
	    (long)getpid());
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m >= 0) {
		n += m;
		if ((size_t)n > sizeof(buf) - 2)
			n = (int)sizeof(buf) - 2;	/* cut; keep the \n */
		buf[n++] = '\n';
		(void)!write(STDERR_FILENO, buf, (size_t)n);
	}
	errno = e;
}
