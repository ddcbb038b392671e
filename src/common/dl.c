/* dl.c - libraries loaded when used: see dl.h. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"

void *
dl_load(const char *lib, const struct dl_sym *syms, size_t n, char *why,
    size_t len)
{
	void *h, *p;
	size_t i;

	if ((h = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, len, "%s", dlerror());
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if ((p = dlsym(h, syms[i].name)) == NULL) {
			snprintf(why, len, "%s: no %s", lib, syms[i].name);
			dlclose(h);
			return NULL;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return h;
}
