/*
 * dl.h - a library loaded only when a setting needs it (dlopen(3)):
 * libpq for a lock engine (pq.h), libcurl and libcrypto for callbacks
 * (webapi.h). Linked in, each maps its dependencies into every
 * responder and costs each memory that most deployments never use.
 */
#ifndef SERIALCGI_DL_H
#define SERIALCGI_DL_H

#include <stddef.h>

/* One function: its name in the library, and where its address goes. */
struct dl_sym {
	const char	*name;
	void		**slot;
};

#define DL_SYM(table, f, name)	{ name, (void **)(void *)&(table).f }

/*
 * dl_load: dlopen(3) lib (RTLD_NOW | RTLD_LOCAL) and fill the n slots
 * of syms. Returns the handle, or NULL with the loader's message
 * (dlerror(3)) or the missing name written to why (at most len bytes).
 */
void *dl_load(const char *lib, const struct dl_sym *syms, size_t n,
    char *why, size_t len);

#endif
