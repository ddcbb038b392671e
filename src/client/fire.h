/*
 * fire.h - serialcgi-client's transfers: GET requests through
 * libcurl's multi interface, driven by epoll, at most C in flight, each
 * answer handed back the moment it completes.
 */
#ifndef SERIALCGI_CLIENT_FIRE_H
#define SERIALCGI_CLIENT_FIRE_H

#define FIRE_ID_MAX	64	/* X-Request-Id, NUL included */
#define FIRE_ERROR_MAX	256	/* libcurl's reason, NUL included */

struct transfer;

/* One request and what came back. Times are CLOCK_MONOTONIC seconds
 * (clock.h), the clock of the server's work log on the same host. */
struct answer {
	long i;			/* 1..N, in send order */
	int round;		/* 0: first try; k: k-th retry round */
	char id[FIRE_ID_MAX];	/* the X-Request-Id sent */
	double start;		/* handed to libcurl */
	double sent;		/* connected, request about to go out;
				   NAN: never got that far */
	double arrival;		/* transfer complete */
	long status;		/* HTTP status; 0: no answer (see error) */
	char error[FIRE_ERROR_MAX]; /* libcurl's reason when status is 0 */
	double elapsed;		/* s, "elapsed" of a JSON body; NAN: none */
	double wait_ms;		/* Server-Timing wait;dur; NAN: none */
	double work_ms;		/* Server-Timing work;dur; NAN: none */
	long retry_after;	/* s, Retry-After (RFC 9110 10.2.3); -1: none */
	struct transfer *t;	/* while in flight */
};

struct fire_opts {
	const char *url;
	const char *prefix;	/* of the request ids: <prefix><i>[.r<k>] */
	long parallel;		/* at most this many in flight, >= 1 */
	double spacing_ms;	/* send k is due k x this after the first;
				   0: as fast as room allows */
	double timeout_s;	/* per transfer; 0: none */
};

/* Called once per request as it completes (answer or transport error). */
typedef void (*fire_done_fn)(const struct answer *a, void *arg);

/*
 * fire_init, fire_cleanup: libcurl's global set-up and tear-down
 * (curl_global_init(3)); call once, before any thread exists.
 * fire_init returns 0, or -1 (errno EIO: libcurl said no).
 */
int fire_init(void);
void fire_cleanup(void);

/*
 * fire: send the n requests of list, in order, as round `round`, each
 * on a connection of its own; at most o->parallel in flight, a send at
 * most every o->spacing_ms. Each answer's fields are reset, filled in,
 * and passed to done(a, arg) when it completes. A transfer that fails
 * on our side (refused, timed out, reset) is an answer with status 0,
 * not an error of fire_run().
 * Returns 0 once every request has an outcome, or -1 if the event loop
 * itself failed (errno set; EIO: libcurl refused a call).
 * Follows libcurl's "multi_socket" API: curl_multi_socket_action(3),
 * CURLMOPT_SOCKETFUNCTION(3), CURLMOPT_TIMERFUNCTION(3).
 */
int fire_run(struct answer **list, long n, int round, const struct fire_opts *o,
    fire_done_fn done, void *arg);

/*
 * fire_server_timing: the dur (ms) of `metric` in a Server-Timing header
 * value (W3C Server Timing: "name;dur=1.2;desc=x, other;dur=3").
 * Returns 0 with *ms set, or -1 if the metric or its dur is absent or
 * not a finite number >= 0.
 */
int fire_server_timing(const char *value, const char *metric, double *ms);

#endif
