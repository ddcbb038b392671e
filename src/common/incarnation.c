/* incarnation.c - who a process is, beyond its pid: incarnation.h. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "incarnation.h"
#include "procfs.h"

static struct {
	char		 boot[40];	/* boot_id, read once */
	uint64_t	 self;
} inc;

/* FNV-1a, 64 bits, over len bytes: a mix, not a secret. */
static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len-- > 0)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static int
boot_id(void)
{
	if (inc.boot[0] != '\0')
		return 0;
	if (procfs_read("/proc/sys/kernel/random/boot_id", inc.boot,
	    sizeof(inc.boot)) == -1)
		return -1;
	inc.boot[strcspn(inc.boot, "\n")] = '\0';
	return 0;
}

uint64_t
incarnation_of(long pid)
{
	unsigned long long start;
	uint64_t h = 0xcbf29ce484222325ULL;

	if (boot_id() == -1 || procfs_start(pid, &start) == -1)
		return 0;
	h = fnv(h, inc.boot, strlen(inc.boot));
	h = fnv(h, &pid, sizeof(pid));
	h = fnv(h, &start, sizeof(start));
	return h != 0 ? h : 1;
}

uint64_t
incarnation_self(void)
{
	if (inc.self == 0)
		inc.self = incarnation_of((long)getpid());
	return inc.self;
}

int
incarnation_alive(long pid, uint64_t i)
{
	uint64_t now;

	if (pid <= 0)
		return 0;
	if ((now = incarnation_of(pid)) != 0)
		return now == i;
	return errno == ENOENT || errno == ESRCH ? 0 : -1;
}
