/* utf8.c - well-formed UTF-8 (RFC 3629): see utf8.h. */
#include "utf8.h"

/*
 * The length of the well-formed sequence at s (at most n bytes), or 0.
 * The ranges of the second byte are those of RFC 3629's table (section
 * 4): E0 needs A0-BF (no overlong), ED 80-9F (no surrogate), F0 90-BF,
 * F4 80-8F (nothing past U+10FFFF); C0, C1 and F5-FF never appear.
 */
static size_t
seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t at = 0, k;

	while (at < n) {
		if ((k = seq(p + at, n - at)) == 0)
			return 0;
		at += k;
	}
	return 1;
}

size_t
utf8_scrub(char *s, size_t n)
{
	unsigned char *p = (unsigned char *)s;
	size_t at = 0, k, bad = 0;

	while (at < n) {
		if ((k = seq(p + at, n - at)) == 0) {
			p[at] = '?';
			k = 1;
			bad++;
		}
		at += k;
	}
	return bad;
}

size_t
utf8_cut(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (n < max && p[n] != '\0')
		n++;
	/* Back off continuation bytes (10xxxxxx) to the start of their
	 * character, if the whole of it does not fit. */
	if (p[n] != '\0')
		while (n > 0 && (p[n] & 0xc0) == 0x80)
			n--;
	return n;
}
