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
	PGresult	*(*execParams)(PGconn *, const char *, int,
			    const Oid *, const char *const *, const int *,
			    const int *, int);
	char		*(*cmdTuples)(PGresult *);
	int		 (*nfields)(const PGresult *);
	int		 (*getisnull)(const PGresult *, int, int);
};

extern struct pq_api pq;

/* libpq's client-side liveness for every session to the engine, the
 * lock's and the store's alike: keepalive probes after 1 s idle, 1 s
 * apart, 2 lost = dead, and 3 s for unacknowledged data (lock_pg.c says
 * why these bounds). Keywords and values, in the same order, for
 * PQconnectStartParams. */
#define PQ_LIVENESS_KEYS	"keepalives", "keepalives_idle", \
	"keepalives_interval", "keepalives_count", "tcp_user_timeout"
#define PQ_LIVENESS_VALS	"1", "1", "1", "2", "3000"

/* The advisory key every CREATE in the engine is made under, within its
 * transaction (pg_advisory_xact_lock): IF NOT EXISTS does not stop two
 * sessions creating one name at once, and responders start together.
 * The fencing sequence's (lock_pg.c) and the job store's (db_pg.c). */
#define PQ_SETUP_KEY	"1396918090"

/*
 * pq_load: dlopen(3) libpq.so.5 (Debian's libpq5) and fill pq. Safe to
 * call more than once. Returns 0, or -1 with the loader's message
 * (dlerror(3)) written to why (at most len bytes).
 */
int pq_load(char *why, size_t len);

/*
 * pq_wait: wait for ev (POLLIN, POLLOUT) on fd, or cancel_fd (-1: none)
 * readable, or the deadline (mono s; 0: none), with poll(2). Returns 1
 * (fd ready), 2 (called off), 0 (timed out), or -1 with errno set.
 */
int pq_wait(int fd, short ev, int cancel_fd, double deadline);

/*
 * pq_start: connect with keys and vals (PQconnectStartParams with
 * expand_dbname, then PQconnectPoll: libpq's "Connecting" without
 * blocking), never past timeout seconds, watching cancel_fd (-1: none).
 * libpq's own connect_timeout cannot go below 2 s. Returns the session,
 * or NULL with errno ENOTCONN (why says libpq's reason, one line) or
 * ECANCELED.
 */
PGconn *pq_start(const char *const *keys, const char *const *vals,
    double timeout, int cancel_fd, char *why, size_t len);

#endif
