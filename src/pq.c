/* pq.c - libpq through dlopen(3): see pq.h for why. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "pq.h"

#define LIBPQ	"libpq.so.5"

struct pq_api pq;

/* Each entry: the libpq name, and where its address goes. */
#define SYM(f, name)	{ name, (void **)(void *)&pq.f }
static const struct {
	const char	*name;
	void		**slot;
} syms[] = {
	SYM(connectStartParams, "PQconnectStartParams"),
	SYM(connectPoll, "PQconnectPoll"),
	SYM(status, "PQstatus"),
	SYM(errorMessage, "PQerrorMessage"),
	SYM(socket, "PQsocket"),
	SYM(backendPID, "PQbackendPID"),
	SYM(sendQuery, "PQsendQuery"),
	SYM(consumeInput, "PQconsumeInput"),
	SYM(isBusy, "PQisBusy"),
	SYM(getResult, "PQgetResult"),
	SYM(resultStatus, "PQresultStatus"),
	SYM(resultErrorField, "PQresultErrorField"),
	SYM(resultErrorMessage, "PQresultErrorMessage"),
	SYM(ntuples, "PQntuples"),
	SYM(getvalue, "PQgetvalue"),
	SYM(clear, "PQclear"),
	SYM(getCancel, "PQgetCancel"),
	SYM(cancel, "PQcancel"),
	SYM(freeCancel, "PQfreeCancel"),
	SYM(finish, "PQfinish"),
	SYM(conninfoParse, "PQconninfoParse"),
	SYM(conninfoFree, "PQconninfoFree"),
	SYM(freemem, "PQfreemem"),
};

int
pq_load(char *why, size_t len)
{
	static void *lib;
	size_t i;
	void *p;

	if (lib != NULL)
		return 0;
	if ((lib = dlopen(LIBPQ, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, len, "%s", dlerror());
		return -1;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if ((p = dlsym(lib, syms[i].name)) == NULL) {
			snprintf(why, len, "%s: no %s", LIBPQ, syms[i].name);
			dlclose(lib);
			lib = NULL;
			return -1;
		}
		memcpy(syms[i].slot, &p, sizeof(p));
	}
	return 0;
}
