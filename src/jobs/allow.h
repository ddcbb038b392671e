/*
 * allow.h - which addresses a callback may connect to: the operator's
 * allowlist (CALLBACK_ALLOW), checked on the very address a connection
 * is about to be made to, so that no job can make the service call
 * loopback, a private range or a cloud metadata address (169.254.169.254)
 * that the operator did not allow, whatever name or form the URL uses.
 */
#ifndef SERIALCGI_ALLOW_H
#define SERIALCGI_ALLOW_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define ALLOW_MAX	32	/* networks in a list */

struct allow_net {
	uint8_t		 addr[16];	/* IPv6, or IPv4 mapped (::ffff:) */
	int		 bits;		/* prefix length over the 128 */
};

struct allow {
	int		 public;	/* every globally routable address */
	size_t		 n;
	struct allow_net net[ALLOW_MAX];
};

/*
 * allow_parse: a comma-separated list of the word "public" (every
 * address outside the IANA special-purpose registries, RFC 6890) and
 * networks in CIDR form ("127.0.0.1/32", "10.0.0.0/8", "fd00::/8"; a
 * bare address is one host). "" allows nothing. Returns 0, or -1 with
 * the offending item in why (at most len bytes).
 */
int allow_parse(const char *list, struct allow *a, char *why, size_t len);

/*
 * allow_addr: may a connection go to sa (AF_INET or AF_INET6)? An IPv4
 * address in IPv6 form (::ffff:127.0.0.1, and the NAT64 and 6to4
 * forms) is judged as the IPv4 address it carries. Returns 1 or 0.
 */
int allow_addr(const struct allow *a, const struct sockaddr *sa);

/* allow_text: the same for an address literal (as in a URL's host,
 * without brackets). Returns 1, 0, or -1 if text is no address. */
int allow_text(const struct allow *a, const char *text);

#endif
