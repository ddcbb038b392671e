/*
 * pq.h - libpq, loaded only when a lock engine is configured. Linking
 * libpq maps libssl, libcrypto, GSSAPI and LDAP into every responder
 * and costs each about 2 MiB of memory (measured: 2.4 MiB against
 * 0.26 MiB PSS per idle process), though the default flock backend
 * never calls it: so it is dlopen(3)ed, and its functions are reached
 * through this table. The types come from libpq-fe.h as usual.
 */
#ifndef SERIALCGI_PQ_H
#define SERIALCGI_PQ_H

#include <libpq-fe.h>

struct pq_api {
	PGconn		*(*connectStartParams)(const char *const *,
			    const char *const *, int);
	PostgresPollingStatusType (*connectPoll)(PGconn *);
	ConnStatusType	 (*status)(const PGconn *);
	char		*(*errorMessage)(const PGconn *);
	int		 (*socket)(const PGconn *);
	int		 (*backendPID)(const PGconn *);
	int		 (*sendQuery)(PGconn *, const char *);
	int		 (*consumeInput)(PGconn *);
	int		 (*isBusy)(PGconn *);
	PGresult	*(*getResult)(PGconn *);
	ExecStatusType	 (*resultStatus)(const PGresult *);
	char		*(*resultErrorField)(const PGresult *, int);
	char		*(*resultErrorMessage)(const PGresult *);
	int		 (*ntuples)(const PGresult *);
	char		*(*getvalue)(const PGresult *, int, int);
	void		 (*clear)(PGresult *);
	PGcancel	*(*getCancel)(PGconn *);
	int		 (*cancel)(PGcancel *, char *, int);
	void		 (*freeCancel)(PGcancel *);
	void		 (*finish)(PGconn *);
	PQconninfoOption *(*conninfoParse)(const char *, char **);
	void		 (*conninfoFree)(PQconninfoOption *);
	void		 (*freemem)(void *);
	PGconn		*(*connectdbParams)(const char *const *,
			    const char *const *, int);
	PGresult	*(*execParams)(PGconn *, const char *, int,
			    const Oid *, const char *const *, const int *,
			    const int *, int);
	char		*(*cmdTuples)(PGresult *);
	int		 (*nfields)(const PGresult *);
	int		 (*getisnull)(const PGresult *, int, int);
};

extern struct pq_api pq;

/*
 * pq_load: dlopen(3) libpq.so.5 (Debian's libpq5) and fill pq. Safe to
 * call more than once. Returns 0, or -1 with the loader's message
 * (dlerror(3)) written to why (at most len bytes).
 */
int pq_load(char *why, size_t len);

#endif
