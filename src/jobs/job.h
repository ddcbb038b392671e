/*
 * job.h - a job as the store keeps it and every part of the jobs code
 * passes it around: its fields, its states and kinds, and their names;
 * and the state of the store it lives in.
 */
#ifndef SERIALCGI_JOB_H
#define SERIALCGI_JOB_H

#include <stddef.h>
#include <stdint.h>

#define JOB_ID_LEN	32	/* 128 random bits, in hex */
#define JOB_URL_MAX	2048	/* bytes of a callback URL */
#define JOB_NODE_MAX	256	/* bytes of a node's name */

enum job_status {
	JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELED
};

/* What a job runs: the sleep (POST /jobs), or the work of a /work
 * request it keeps (Prefer: respond-async): a program or an upstream. */
enum job_kind { JOB_SLEEP, JOB_WORK };

#define JOB_TYPE_MAX	128	/* bytes of an answer's Content-Type kept */
#define JOB_NOTE_MAX	160	/* bytes of a progress note kept */

/* Bytes, as the store keeps them (base64 inside it: SQL text holds no
 * NUL). */
struct job_blob {
	unsigned char	*p;		/* malloc'd, or NULL */
	size_t		 len;
};

/* A job as stored. Times are wall clock seconds since the epoch, 0 for
 * none; arrived_mono is CLOCK_MONOTONIC, for elapsed. */
struct job {
	long long	 seq;		/* submission order */
	char		 id[JOB_ID_LEN + 1];
	enum job_status	 status;
	/* Who runs it: the node (jobs.h), the responder's incarnation
	 * (incarnation.h; the column keeps its first name, gen, as
	 * stores in the field have it), its ticket on that responder's
	 * board, its slot there and its pid. */
	char		 node[JOB_NODE_MAX];
	uint64_t	 gen, ticket;
	int		 owner_slot;
	long		 owner_pid;
	double		 arrived_mono, created, started, finished;
	double		 elapsed, wait, work;	/* seconds, when succeeded */
	uint64_t	 fence;			/* fencing token, or 0 */
	char		 error_code[32], error_message[200];
	char		 cb_url[JOB_URL_MAX + 1];	/* "" for none */
	char		 cb_state[16];	/* pending, delivering, delivered,
					 * failed; "" without a callback */
	int		 cb_attempts;
	double		 cb_next_at;
	int		 cb_last_status;	/* HTTP status, 0 for none */
	char		 cb_last_error[200];
	/* Who delivers it now (cb_state delivering): cb_gen is the
	 * deliverer's incarnation. */
	char		 cb_node[JOB_NODE_MAX];
	uint64_t	 cb_gen;
	int		 cb_slot;
	long		 cb_pid;
	/* A job of real work: the answer as its work made it (its body
	 * kept apart: store_work.h), its status and type, its size, and
	 * whether it is what a stopped program had written so far; the
	 * program's wait status (-1 for none); the last progress line
	 * (-1: none came); a cancel asked while it runs. */
	enum job_kind	 kind;
	int		 exit_status;
	int		 result_status;		/* 0: no answer */
	char		 result_type[JOB_TYPE_MAX];
	long long	 result_size;		/* bytes, header block too */
	long long	 body_size;		/* of its request, kept */
	int		 partial;
	double		 progress;
	char		 progress_note[JOB_NOTE_MAX];
	int		 cancel_asked;
};

/* Each job to a caller: return 0 to go on. */
typedef int (*job_fn)(void *arg, const struct job *j);

/* What the store was found to be at its last use, on the scoreboard
 * for every responder's /status and /metrics (board_stats_store). */
enum store_state {
	STORE_OK,		/* in use, or not used yet */
	STORE_FULL,		/* a write failed: no room (ENOSPC) */
	STORE_REFUSED,		/* not the store of record (ESTALE) */
	STORE_FAILING		/* any other failure */
};

/* job_status_name: "queued" ... "canceled". job_status_parse: the
 * reverse; returns 0, or -1 for an unknown name. */
const char *job_status_name(enum job_status s);
int job_status_parse(const char *name, enum job_status *s);

#endif
