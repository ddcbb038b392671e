/*
 * utf8.h - UTF-8 as RFC 3629 defines it: what a JSON text exchanged
 * between systems must be (RFC 8259 8.1). Job bodies are judged by it
 * when they come, and every answer is held to it when it goes, whatever
 * an older build stored.
 */
#ifndef SERIALCGI_UTF8_H
#define SERIALCGI_UTF8_H

#include <stddef.h>

/*
 * utf8_valid: are the n bytes at s well-formed UTF-8 (RFC 3629 4: no
 * overlong form, no surrogate, nothing above U+10FFFF)? A NUL byte is
 * valid UTF-8; callers that want none look for it themselves.
 * Returns 1 or 0.
 */
int utf8_valid(const char *s, size_t n);

/*
 * utf8_scrub: make the n bytes at s well-formed UTF-8 in place: each
 * byte that begins no well-formed sequence becomes '?'. The length
 * stays. Returns how many bytes were replaced.
 */
size_t utf8_scrub(char *s, size_t n);

/* utf8_cut: the length of the longest prefix of s (NUL-ended) of at
 * most max bytes that ends where a character does: a cut there keeps
 * well-formed text well-formed. */
size_t utf8_cut(const char *s, size_t max);

#endif
