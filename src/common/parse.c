/* parse.c - strict numbers from options, environment and params. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int
parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *s == ' ' || *end != '\0' || errno != 0 ||
	    !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int
parse_seconds_upto(const char *s, double max, double *out)
{
	double v;

	if (parse_double(s, &v) == -1 || v <= 0.0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_seconds(const char *s, double *out)
{
	return parse_seconds_upto(s, 3600.0, out);
}

int
parse_count(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	/* Digits, a minus first at most: strtol(3) would skip blanks
	 * and take a plus. */
	if (!(s[0] >= '0' && s[0] <= '9') && !(s[0] == '-' &&
	    s[1] >= '0' && s[1] <= '9'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_number(const char *s, double min, double max, double *out)
{
	double v;

	if (parse_double(s, &v) == -1 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_is(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(s, want, n) == 0;
}
