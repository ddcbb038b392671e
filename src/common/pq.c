/* pq.c - libpq through dlopen(3): see pq.h for why. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
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

int
pq_wait(int fd, short ev, int cancel_fd, double deadline)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = ev },
		{ .fd = cancel_fd, .events = POLLIN },
	};
	int rc;

	do
		rc = poll(p, cancel_fd >= 0 ? 2 : 1,
		    deadline > 0 ? clock_ms_until(deadline) : -1);
	while (rc == -1 && errno == EINTR);
	if (rc <= 0)
		return rc;
	return cancel_fd >= 0 && p[1].revents ? 2 : 1;
}

PGconn *
pq_start(const char *const *keys, const char *const *vals, double timeout,
    int cancel_fd, char *why, size_t len)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	double deadline = clock_now() + timeout;
	PGconn *c;
	int rc;

	if ((c = pq.connectStartParams(keys, vals, 1)) == NULL) {
		snprintf(why, len, "out of memory");
		errno = ENOTCONN;
		return NULL;
	}
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED ||
		    pq.status(c) == CONNECTION_BAD) {
			snprintf(why, len, "%s", pq.errorMessage(c));
			why[strcspn(why, "\n")] = '\0';
			goto fail;
		}
		rc = pq_wait(pq.socket(c), st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, cancel_fd, deadline);
		if (rc == 2) {
			pq.finish(c);
			errno = ECANCELED;
			return NULL;
		}
		if (rc <= 0) {
			snprintf(why, len, "timed out after %g s", timeout);
			goto fail;
		}
		st = pq.connectPoll(c);
	}
	return c;
fail:
	pq.finish(c);
	errno = ENOTCONN;
	return NULL;
}
