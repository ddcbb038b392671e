/* allow.c - the callback allowlist, judged on addresses. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"
#include "parse.h"

/* Special-purpose ranges (RFC 6890 and the IANA registries that follow
 * it): never "public". IPv4 ones are given in their ::ffff: form. */
static const struct { const char *net; int bits; } special[] = {
	{ "0.0.0.0", 8 }, { "10.0.0.0", 8 }, { "100.64.0.0", 10 },
	{ "127.0.0.0", 8 }, { "169.254.0.0", 16 }, { "172.16.0.0", 12 },
	{ "192.0.0.0", 24 }, { "192.0.2.0", 24 }, { "192.88.99.0", 24 },
	{ "192.168.0.0", 16 }, { "198.18.0.0", 15 },
	{ "198.51.100.0", 24 }, { "203.0.113.0", 24 }, { "224.0.0.0", 4 },
	{ "240.0.0.0", 4 },
	/* ::/96: unspecified, loopback and the deprecated IPv4-compatible
	 * ::a.b.c.d (RFC 4291 2.5.5.1); 64:ff9b:1::/48, local-use NAT64
	 * (RFC 8215), whose IPv4 part sits where its operator chose. */
	{ "::", 96 }, { "64:ff9b:1::", 48 }, { "100::", 64 },
	{ "2001::", 23 }, { "2001:db8::", 32 }, { "fc00::", 7 },
	{ "fe80::", 10 }, { "fec0::", 10 }, { "ff00::", 8 },
};

/* Text to 16 bytes: IPv6, or IPv4 as ::ffff:a.b.c.d. *v4 is set for
 * the latter. Returns 0 or -1. */
static int
to16(const char *text, uint8_t out[16], int *v4)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4 = 1;
		return 0;
	}
	*v4 = 0;
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

static int
in_net(const uint8_t a[16], const uint8_t net[16], int bits)
{
	int full = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, net, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

/* An IPv4 address carried in an IPv6 one becomes its ::ffff: form:
 * 64:ff9b::/96 (NAT64, RFC 6052), ::ffff:0:0:0/96 (SIIT, RFC 6145) and
 * 2002::/16 (6to4, RFC 3056). The ::ffff: form itself is already the
 * one IPv4 addresses are kept in. */
static void
unwrap(uint8_t a[16])
{
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const uint8_t siit[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t v4[4];

	if (memcmp(a, nat64, 12) == 0 || memcmp(a, siit, 12) == 0)
		memcpy(v4, a + 12, 4);
	else if (a[0] == 0x20 && a[1] == 0x02)
		memcpy(v4, a + 2, 4);
	else
		return;
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	memcpy(a + 12, v4, 4);
}

static int
is_public(const uint8_t a[16])
{
	uint8_t net[16];
	size_t i;
	int v4;

	for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		(void)to16(special[i].net, net, &v4);
		if (in_net(a, net, special[i].bits + (v4 ? 96 : 0)))
			return 0;
	}
	return 1;
}

static int
judge(const struct allow *a, uint8_t addr[16])
{
	size_t i;

	unwrap(addr);
	for (i = 0; i < a->n; i++)
		if (in_net(addr, a->net[i].addr, a->net[i].bits))
			return 1;
	return a->public && is_public(addr);
}

int
allow_addr(const struct allow *a, const struct sockaddr *sa)
{
	uint8_t addr[16];

	if (sa->sa_family == AF_INET) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
	else
		return 0;
	return judge(a, addr);
}

int
allow_text(const struct allow *a, const char *text)
{
	uint8_t addr[16];
	int v4;

	if (to16(text, addr, &v4) == -1)
		return -1;
	return judge(a, addr);
}

/* One item: "public", or address[/bits]. */
static int
item(struct allow *a, char *s)
{
	struct allow_net *n = &a->net[a->n];
	char *slash = strchr(s, '/');
	long bits;
	int v4;

	if (strcmp(s, "public") == 0) {
		a->public = 1;
		return 0;
	}
	if (a->n == ALLOW_MAX)
		return -1;
	if (slash != NULL)
		*slash++ = '\0';
	if (to16(s, n->addr, &v4) == -1)
		return -1;
	if (slash == NULL)
		bits = v4 ? 32 : 128;
	else if (parse_count(slash, 0, v4 ? 32 : 128, &bits) == -1)
		return -1;
	n->bits = (int)bits + (v4 ? 96 : 0);
	a->n++;
	return 0;
}

int
allow_parse(const char *list, struct allow *a, char *why, size_t len)
{
	char *copy, *s, *save = NULL, bad[64];
	int rc = 0;

	memset(a, 0, sizeof(*a));
	if ((copy = strdup(list)) == NULL)
		return -1;
	for (s = strtok_r(copy, ", ", &save); s != NULL;
	    s = strtok_r(NULL, ", ", &save)) {
		snprintf(bad, sizeof(bad), "%s", s);	/* item() cuts it */
		if (item(a, s) == -1) {
			snprintf(why, len, "\"%s\" is not \"public\" or a "
			    "network such as 127.0.0.1/32 (at most %d)", bad,
			    ALLOW_MAX);
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}
