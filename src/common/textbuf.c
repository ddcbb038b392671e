/* textbuf.c - text printed piece by piece into a caller's buffer. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>

#include "textbuf.h"

void
textbuf_put(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->len - t->used)
		t->full = 1;
	else
		t->used += (size_t)n;
}
