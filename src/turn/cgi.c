/* cgi.c - a program's answer as RFC 3875 has it: see cgi.h. */
#define _GNU_SOURCE	/* strncasecmp */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cgi.h"

/* RFC 9110 5.6.2: tchar. */
static int
token_char(unsigned char c)
{
	return c > ' ' && c < 127 && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* One field line, [p, end) without its line end: name ":" value.
 * Returns 0 and what it says about the response, or -1. */
static int
field(const unsigned char *p, const unsigned char *end, int *seen,
    int *status)
{
	const unsigned char *colon = p, *v;
	size_t n;

	while (colon < end && token_char(*colon))
		colon++;
	if (colon == p || colon == end || *colon != ':')
		return -1;
	for (v = colon + 1; v < end; v++)
		if (*v < ' ' && *v != '\t')
			return -1;	/* no control characters */
	n = (size_t)(colon - p);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	if (n == 6 && strncasecmp((const char *)p, "Status", 6) == 0) {
		if (end - v < 3 || v[0] < '1' || v[0] > '5' ||
		    v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' ||
		    (end - v > 3 && v[3] != ' '))
			return -2;
		*status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + v[2] - '0';
	}
	*seen |= (n == 6 && strncasecmp((const char *)p, "Status", 6) == 0) |
	    (n == 8 && strncasecmp((const char *)p, "Location", 8) == 0) << 1 |
	    (n == 12 && strncasecmp((const char *)p, "Content-Type", 12) ==
	    0) << 2;
	return 0;
}

int
cgi_parse(const unsigned char *buf, size_t len, size_t *head_len,
    int *status, char *why, size_t wlen)
{
	const unsigned char *p = buf, *nl, *end = buf + len;
	int seen = 0, rc;

	*status = 0;
	for (;;) {
		if (p - buf > CGI_HEAD_MAX) {
			snprintf(why, wlen, "header block over 64 KiB");
			return -1;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			snprintf(why, wlen, "no header block (no blank line "
			    "after the header fields)");
			return -1;
		}
		if (nl == p || (nl == p + 1 && *p == '\r'))
			break;		/* the blank line */
		if ((rc = field(p, nl > p && nl[-1] == '\r' ? nl - 1 : nl,
		    &seen, status)) == -1) {
			snprintf(why, wlen, "bad header line: %.40s",
			    (const char *)p);
			why[strcspn(why, "\r\n")] = '\0';
			return -1;
		}
		if (rc == -2) {
			snprintf(why, wlen, "bad Status (want 3 digits, 100 "
			    "to 599)");
			return -1;
		}
		p = nl + 1;
	}
	if (seen == 0) {
		snprintf(why, wlen, "no Content-Type, Location or Status");
		return -1;
	}
	*head_len = (size_t)(nl + 1 - buf);
	if (*status == 0)
		*status = seen == 2 ? 302 : 200;
	return 0;
}

int
cgi_field(const unsigned char *buf, size_t head_len, const char *name,
    char *out, size_t cap)
{
	const unsigned char *p = buf, *nl, *v, *end = buf + head_len;
	size_t n = strlen(name), k;

	out[0] = '\0';
	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p = nl + 1) {
		if ((size_t)(nl - p) <= n || p[n] != ':' ||
		    strncasecmp((const char *)p, name, n) != 0)
			continue;
		for (v = p + n + 1; v < nl && (*v == ' ' || *v == '\t'); v++)
			;
		k = (size_t)(nl - v);
		while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == ' ' ||
		    v[k - 1] == '\t'))
			k--;
		snprintf(out, cap, "%.*s", (int)k, (const char *)v);
		return 1;
	}
	return 0;
}

long
cgi_head(const unsigned char *buf, size_t head_len, char *out, size_t cap)
{
	const unsigned char *p = buf, *nl, *end = buf + head_len;
	size_t n = 0, k;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
		if (k == 0)
			break;
		if (n + k + 3 > cap)
			return -1;
		memcpy(out + n, p, k);
		memcpy(out + n + k, "\r\n", 2);
		n += k + 2;
		p = nl + 1;
	}
	out[n] = '\0';
	return (long)n;
}
