/*
 * lock_pg.c - the cohort lock (Dice, Marathe, Shavit, PPoPP 2012):
 * within a host, the ticket and flock(2) as with lock_flock.c; across
 * hosts, a PostgreSQL session-level advisory lock, which only the
 * host's head asks for. The engine's lock queue is FIFO and hands the
 * lock to its first waiter on release (src/backend/storage/lmgr/lock.c,
 * ProcLockWakeup); like flock, the lock dies with the session.
 *
 * The head sends "pg_advisory_lock(K); nextval(fence)" as one simple
 * query on its process's own session and waits on the socket and a
 * cancel fd together (libpq "Asynchronous Command Processing"); the
 * second statement runs only once the first has the lock, so fencing
 * tokens rise in grant order across every host. It lets go after every
 * work: pg_advisory_unlock must return true, or the work is not
 * reported done. Never put PgBouncer in transaction mode in between:
 * it would hand a session's lock to whoever uses the server next.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lock.h"
#include "lock_flock.h"
#include "lock_pg.h"
#include "pq.h"

#define CONNECT_TIMEOUT	1.0	/* s: fail closed within a second */
#define SETUP_TIMEOUT	1.0	/* s for the sequence's CREATE */
#define UNLOCK_TIMEOUT	2.0	/* s for pg_advisory_unlock's answer */
#define CANCEL_DRAIN	1.0	/* s for a cancelled query to end */
#define BACKOFF_FIRST	0.1	/* s before the first reconnect */
#define BACKOFF_MAX	1.0	/* s between reconnects, at most */
/* The fencing tokens' sequence: ours, by a name no search_path can
 * send elsewhere. Before 0.5 it was serialcgi_fence, found by the
 * search_path: the new one starts past it. Nothing is made that is
 * there: CREATE SCHEMA checks the database's CREATE privilege even
 * with IF NOT EXISTS, and a role the operator gave the schema and the
 * sequence alone has none. */
#define FENCE_SCHEMA	"serialcgi"
#define FENCE_SEQUENCE	FENCE_SCHEMA ".fence"
#define FENCE_SETUP	"SELECT pg_advisory_xact_lock(" PQ_SETUP_KEY "); " \
	"DO $$DECLARE old bigint := 0; BEGIN " \
	"IF to_regclass('" FENCE_SEQUENCE "') IS NULL THEN " \
	"IF to_regnamespace('" FENCE_SCHEMA "') IS NULL THEN " \
	"CREATE SCHEMA " FENCE_SCHEMA "; END IF; " \
	"IF to_regclass('serialcgi_fence') IS NOT NULL THEN " \
	"EXECUTE 'SELECT last_value FROM serialcgi_fence' INTO old; " \
	"END IF; EXECUTE format('CREATE SEQUENCE IF NOT EXISTS " \
	FENCE_SEQUENCE " CACHE 1 START %s', old + 1); END IF; END$$; " \
	"SELECT cache_size FROM pg_sequences WHERE schemaname = '" \
	FENCE_SCHEMA "' AND sequencename = 'fence'"

/*
 * Liveness bounds. Client side (libpq): keepalive probes after 1 s idle,
 * 1 s apart, 2 lost = dead, and tcp_user_timeout 3 s for unacked data:
 * a holder learns of a silent partition within about 3 s and stops.
 * Server side (the options below): 5 s idle, 1 s apart, 5 lost, and
 * tcp_user_timeout 10 s: the engine frees the lock only after about
 * 10 s, once the old holder has surely stopped. client_connection_check
 * _interval finds a vanished client while its query waits on the lock.
 * lock_timeout and statement_timeout 0: waiting is the point.
 * idle_session_timeout 0: a holder sits idle during work().
 */
static const char *const keys[] = {
	"application_name", "dbname", PQ_LIVENESS_KEYS, "connect_timeout",
	"options", NULL
};
#define SERVER_OPTIONS	"-c tcp_keepalives_idle=5 " \
	"-c tcp_keepalives_interval=1 -c tcp_keepalives_count=5 " \
	"-c tcp_user_timeout=10000 -c client_connection_check_interval=1000 " \
	"-c lock_timeout=0 -c statement_timeout=0 -c idle_session_timeout=0 " \
	"-c client_min_messages=warning"

struct engine {
	PGconn		*conn;
	PGcancel	*cancel;
	double		 retry_at;	/* no reconnect before, mono s */
	double		 backoff;	/* s */
	char		 lock_sql[128];
	char		 unlock_sql[64];
	int		 misset;	/* the fencing sequence is not as
					 * tokens need it: l->error says */
};

/* What a query gave: each statement's status and first value. */
struct reply {
	int		 n;		/* results seen */
	int		 ok[2];		/* the statement succeeded */
	char		 val[2][24];	/* its first value, cut */
	int		 cancelled;	/* we sent a cancel request */
};

/* Keep the engine's message for the log, on one line: libpq's span
 * several, with tabs. */
static void
complain(struct lock *l, const char *what, const char *msg)
{
	char *p, *q;

	snprintf(l->error, sizeof(l->error), "%s: %s", what,
	    msg != NULL && *msg ? msg : "no message");
	for (p = q = l->error; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\t')
			*p = ' ';
		if (*p != ' ' || (q > l->error && q[-1] != ' '))
			*q++ = *p;
	}
	while (q > l->error && q[-1] == ' ')
		q--;
	*q = '\0';
}

/* Close the session; the engine drops whatever lock it held. */
static void
drop(struct engine *e)
{
	if (e->cancel != NULL)
		pq.freeCancel(e->cancel);
	if (e->conn != NULL)
		pq.finish(e->conn);
	e->cancel = NULL;
	e->conn = NULL;
}

static void
keep_result(struct lock *l, PGresult *r, struct reply *rep)
{
	ExecStatusType st = pq.resultStatus(r);
	int i = rep->n < 2 ? rep->n : 1;

	rep->ok[i] = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	if (st == PGRES_TUPLES_OK && pq.ntuples(r) > 0)
		snprintf(rep->val[i], sizeof(rep->val[i]), "%s",
		    pq.getvalue(r, 0, 0));
	else if (!rep->ok[i])
		complain(l, "engine", pq.resultErrorMessage(r));
	rep->n++;
}

/* Ask the engine to cancel the running query (PQcancel: libpq 15 has
 * no non-blocking cancel; a short connect on the engine's address). */
static void
send_cancel(struct lock *l, struct reply *rep)
{
	char buf[160];

	rep->cancelled = 1;
	if (l->engine->cancel == NULL ||
	    !pq.cancel(l->engine->cancel, buf, sizeof(buf)))
		complain(l, "PQcancel", l->engine->cancel ? buf : "none");
}

/*
 * Send sql and gather every result into rep, watching cancel_fd (-1:
 * none) until the deadline (mono s; 0: none). A cancel is passed on to
 * the engine, and the results are still drained, for a grant may have
 * raced it. Returns 0, or -1 with errno ECONNRESET (the session was
 * lost, or timed out: it is dropped) and l->error set.
 */
static int
ask(struct lock *l, const char *sql, int cancel_fd, double deadline,
    struct reply *rep)
{
	struct engine *e = l->engine;
	PGresult *r;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if (!pq.sendQuery(e->conn, sql))
		goto lost;
	for (;;) {
		while (!pq.isBusy(e->conn)) {
			if ((r = pq.getResult(e->conn)) == NULL)
				return 0;
			keep_result(l, r, rep);
			pq.clear(r);
		}
		rc = pq_wait(pq.socket(e->conn), POLLIN,
		    rep->cancelled ? -1 : cancel_fd, deadline);
		if (rc == 2) {
			send_cancel(l, rep);
			deadline = clock_now() + CANCEL_DRAIN;
			continue;
		}
		if (rc == 0) {
			complain(l, "engine", "no answer in time");
			goto drop;
		}
		if (rc == -1 || !pq.consumeInput(e->conn))
			goto lost;
	}
lost:
	complain(l, "engine", pq.errorMessage(e->conn));
drop:
	drop(e);
	errno = ECONNRESET;
	return -1;
}

/*
 * Make the fencing sequence if it is missing, then check it: CACHE 1,
 * or tokens handed out by two sessions come out of order (a session
 * takes CACHE values at once: 1, 21, 2). All of it is one transaction
 * under the setup's advisory lock (PQ_SETUP_KEY): responders that start
 * together on a fresh engine would otherwise race each other's CREATE
 * SCHEMA, and the loser, a unique violation, refused to start. The
 * CREATE may still lack the privilege where an operator made the
 * sequence beforehand: the check says what is wrong. A sequence that is
 * not right makes every turn fail (e->misset) until it is.
 */
static void
setup(struct lock *l)
{
	struct engine *e = l->engine;
	struct reply rep;

	if (ask(l, FENCE_SETUP, -1, clock_now() + SETUP_TIMEOUT, &rep) == -1)
		return;
	e->misset = rep.n < 1 || !rep.ok[rep.n > 1] ||
	    strcmp(rep.val[rep.n > 1], "1") != 0;
	if (!e->misset)
		return;
	if (rep.ok[rep.n > 1] && rep.val[rep.n > 1][0] != '\0')
		snprintf(l->error, sizeof(l->error), "fencing sequence "
		    FENCE_SEQUENCE " has CACHE %s: tokens would not rise in "
		    "grant order (ALTER SEQUENCE " FENCE_SEQUENCE
		    " CACHE 1)", rep.val[rep.n > 1]);
	else if (rep.ok[rep.n > 1])
		snprintf(l->error, sizeof(l->error), "fencing sequence "
		    FENCE_SEQUENCE " is missing and could not be made "
		    "(CREATE SCHEMA " FENCE_SCHEMA "; CREATE SEQUENCE "
		    FENCE_SEQUENCE " CACHE 1)");
}

/* Start a session, without blocking past CONNECT_TIMEOUT
 * (PQconnectStartParams, PQconnectPoll). Returns 0, or -1 with errno
 * ENOTCONN or ECANCELED. */
static int
start_session(struct lock *l, int cancel_fd)
{
	struct engine *e = l->engine;
	const char *vals[] = { "serialcgi", l->url, PQ_LIVENESS_VALS, "2",
	    SERVER_OPTIONS, NULL };
	char why[160];

	/* Keywords after dbname override what the URL says: the bounds
	 * above must hold whatever the URL asks for. */
	if ((e->conn = pq_start(keys, vals, CONNECT_TIMEOUT, cancel_fd, why,
	    sizeof(why))) == NULL) {
		if (errno == ENOTCONN)
			complain(l, "connect", why);
		return -1;
	}
	e->cancel = pq.getCancel(e->conn);
	return 0;
}

/* A live session, or a new one; after a failed connect, none until the
 * backoff has passed (fail at once: ENOTCONN). */
static int
connect_engine(struct lock *l, int cancel_fd)
{
	struct engine *e = l->engine;
	double now = clock_now();

	if (e->conn != NULL && pq.status(e->conn) == CONNECTION_OK)
		return 0;
	drop(e);
	if (now < e->retry_at) {
		errno = ENOTCONN;
		return -1;
	}
	if (start_session(l, cancel_fd) == -1) {
		if (errno == ENOTCONN) {
			e->backoff = e->backoff == 0 ? BACKOFF_FIRST :
			    e->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
			    e->backoff * 2;
			e->retry_at = clock_now() + e->backoff;
		}
		return -1;
	}
	e->backoff = 0;
	setup(l);
	if (e->conn == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if (e->misset) {
		drop(e);
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* pg_advisory_unlock must say true: we held it to this moment.
 * Returns 0, or -1 with errno ENOLCK. */
static int
engine_unlock(struct lock *l)
{
	struct reply rep;

	if (l->engine->conn == NULL) {
		errno = ENOLCK;
		return -1;
	}
	if (ask(l, l->engine->unlock_sql, -1, clock_now() + UNLOCK_TIMEOUT,
	    &rep) == -1 || !rep.ok[0] || strcmp(rep.val[0], "t") != 0) {
		if (l->engine->conn != NULL && rep.ok[0])
			complain(l, "pg_advisory_unlock", "returned false");
		errno = ENOLCK;
		return -1;
	}
	return 0;
}

/* Queue in the engine, then take a fencing token. Returns 0 with the
 * lock and l->token, or -1 with errno ECANCELED, ECONNRESET (the
 * session was lost while waiting) or EIO. */
static int
engine_lock(struct lock *l, int cancel_fd)
{
	struct reply rep;
	char *end;
	unsigned long long tok;

	if (ask(l, l->engine->lock_sql, cancel_fd, 0, &rep) == -1)
		return -1;
	if (rep.cancelled) {
		/* The grant raced the cancel: give the lock straight back. */
		if (rep.ok[0])
			(void)engine_unlock(l);
		errno = ECANCELED;
		return -1;
	}
	errno = 0;
	tok = rep.n == 2 && rep.ok[0] && rep.ok[1] ?
	    strtoull(rep.val[1], &end, 10) : 0;
	if (tok == 0 || errno != 0 || *end != '\0') {
		if (rep.ok[0])
			(void)engine_unlock(l);
		errno = EIO;
		return -1;
	}
	l->token = (uint64_t)tok;
	return 0;
}

static int
pg_open(struct lock *l)
{
	struct engine *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	snprintf(e->lock_sql, sizeof(e->lock_sql), "SELECT pg_advisory_lock"
	    "(%ld); SELECT nextval('" FENCE_SEQUENCE "')", l->key);
	snprintf(e->unlock_sql, sizeof(e->unlock_sql),
	    "SELECT pg_advisory_unlock(%ld)", l->key);
	l->engine = e;
	if (lock_flock.open(l) == -1) {
		free(e);
		l->engine = NULL;
		return -1;
	}
	return 0;
}

static int
pg_connect(struct lock *l)
{
	return connect_engine(l, -1);
}

/* Within the host first: only the head asks the engine. A session lost
 * while waiting (an engine restart) is opened again and queued again,
 * once; then the engine counts as unreachable. */
static int
pg_acquire(struct lock *l, int cancel_fd)
{
	int tries, saved;

	if (lock_flock.acquire(l, cancel_fd) == -1)
		return -1;
	for (tries = 0; tries < 2; tries++) {
		if (connect_engine(l, cancel_fd) == -1)
			break;
		if (engine_lock(l, cancel_fd) == 0)
			return 0;
		if (errno != ECONNRESET)
			break;
		errno = ENOTCONN;
	}
	saved = errno;
	(void)lock_flock.release(l);
	errno = saved;
	return -1;
}

/* The session is still there: read what the engine sent (a FATAL on
 * pg_terminate_backend, EOF, a socket error) and ask libpq. */
static int
pg_still_held(struct lock *l)
{
	struct engine *e = l->engine;

	if (!lock_flock.still_held(l))
		return 0;
	if (e->conn != NULL && pq.consumeInput(e->conn) &&
	    pq.status(e->conn) == CONNECTION_OK)
		return 1;
	complain(l, "engine session lost", e->conn ?
	    pq.errorMessage(e->conn) : "no session");
	drop(e);
	errno = ENOLCK;
	return 0;
}

static int
pg_watch_fd(struct lock *l)
{
	return l->engine->conn != NULL ? pq.socket(l->engine->conn) : -1;
}

static int
pg_release(struct lock *l)
{
	int rc, saved;

	rc = engine_unlock(l);
	saved = errno;
	(void)lock_flock.release(l);
	errno = saved;
	return rc;
}

static void
pg_close(struct lock *l)
{
	if (l->engine != NULL) {
		drop(l->engine);
		free(l->engine);
	}
	l->engine = NULL;
	lock_flock.close(l);
}

const struct lock_backend lock_pg = {
	.name = "postgresql",
	.open = pg_open,
	.connect = pg_connect,
	.acquire = pg_acquire,
	.try_acquire = NULL,	/* a round trip: the runner waits instead */
	.still_held = pg_still_held,
	.watch_fd = pg_watch_fd,
	.release = pg_release,
	.close = pg_close,
};
