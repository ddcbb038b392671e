/* parse.h - strict numbers from options, environment and params. */
#ifndef SERIALCGI_PARSE_H
#define SERIALCGI_PARSE_H

#include <stddef.h>

/*
 * parse_seconds: the whole of s as a finite number of seconds in
 * (0, 3600] (strtod(3) alone accepts blanks, "nan", "inf" and tails).
 * Returns 0 with *out set, or -1.
 */
int parse_seconds(const char *s, double *out);

/* parse_seconds_upto: as parse_seconds, within (0, max]. */
int parse_seconds_upto(const char *s, double max, double *out);

/* parse_double: the whole of s as any finite number. Returns 0 with
 * *out set, or -1. */
int parse_double(const char *s, double *out);

/*
 * parse_count: the whole of s as a decimal integer in [min, max]
 * (strtol(3) alone accepts blanks, signs past the range and tails).
 * Returns 0 with *out set, or -1.
 */
int parse_count(const char *s, long min, long max, long *out);

/*
 * parse_number: the whole of s as a finite decimal number in [min, max]
 * (strtod(3) alone accepts blanks, "nan", "inf" and tails).
 * Returns 0 with *out set, or -1.
 */
int parse_number(const char *s, double min, double max, double *out);

/* parse_is: are the n bytes at s (not NUL-terminated: a FastCGI name,
 * a word of a query) exactly want? Returns 1 or 0. */
int parse_is(const char *s, size_t n, const char *want);

#endif
