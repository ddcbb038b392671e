/* textbuf.h - text printed piece by piece into a caller's buffer. */
#ifndef SERIALCGI_TEXTBUF_H
#define SERIALCGI_TEXTBUF_H

#include <stddef.h>

struct textbuf {
	char	*buf;
	size_t	 len, used;	/* bytes: the buffer's, and printed */
	int	 full;		/* a piece did not fit: all is lost */
};

/*
 * textbuf_put: append printf(3)'s fmt to t, NUL-terminated, unless it
 * is full already; a piece that does not fit whole marks it full and
 * appends nothing (vsnprintf(3)).
 */
void textbuf_put(struct textbuf *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
