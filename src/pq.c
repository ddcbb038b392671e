/* pq.c - libpq through dlopen(3): see pq.h for why. */
#define _POSIX_C_SOURCE 200809L

#include "dl.h"
#include "pq.h"

#define LIBPQ	"libpq.so.5"

struct pq_api pq;

#define SYM(f, name)	DL_SYM(pq, f, name)
static const struct dl_sym syms[] = {
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
	SYM(connectdbParams, "PQconnectdbParams"),
	SYM(execParams, "PQexecParams"),
	SYM(cmdTuples, "PQcmdTuples"),
	SYM(nfields, "PQnfields"),
	SYM(getisnull, "PQgetisnull"),
};

int
pq_load(char *why, size_t len)
{
	static void *lib;

	if (lib == NULL)
		lib = dl_load(LIBPQ, syms, sizeof(syms) / sizeof(syms[0]), why,
		    len);
	return lib != NULL ? 0 : -1;
}
