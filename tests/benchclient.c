/*
 * benchclient - fire N GET requests at one URL with libcurl's multi
 * interface and print one line per transfer as it completes:
 *
 *   <i> <send mono s> <arrival mono s> <http status> <elapsed s|->
 *       <wait ms|-> <work ms|->
 *
 * i counts from 1 in send order and goes out as "X-Request-Id: b<i>"
 * (-i sets another prefix than "b"),
 * so a line can be matched with the server's work log. Both times are
 * CLOCK_MONOTONIC, the clock of that log. A transfer that fails on our
 * side prints status 0 and makes the exit status 1.
 *
 * usage: benchclient [-n N] [-s spacing_ms] [-p max_parallel] [-i prefix]
 *                    [-t timeout_s] [-P] URL
 *
 *   -n  transfers (default 1)     -s  ms between sends (0: all at once)
 *   -p  at most this many at once -t  timeout per transfer, s (0: none)
 *   -P  wait with curl_multi_poll instead of the socket interface on
 *       epoll (slower at large N: see run_poll)
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/epoll.h>
#include <sys/resource.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "parse.h"

#define N_MAX		100000
#define BODY_MAX	256	/* our answer is {"elapsed":x.xxxxxx} */
#define LINE_MAX_	256	/* one Server-Timing header line */
#define POLL_MAX_MS	1000

struct opts {
	long n;
	double spacing_ms;
	long parallel;
	double timeout_s;
	int use_poll;
	const char *prefix;	/* of the request ids */
	const char *url;
};

struct xfer {
	long i;
	CURL *easy;
	struct curl_slist *hdrs;
	double sent;
	char body[BODY_MAX];
	size_t len;
	double wait_ms;		/* NAN until the header says otherwise */
	double work_ms;
};

static void
usage(void)
{
	fputs("usage: benchclient [-n N] [-s spacing_ms] [-p max_parallel]"
	    " [-t timeout_s] [-P] [-i prefix] URL\n", stderr);
	exit(1);
}

/* The clock of the server's work log; without it nothing here means
 * anything, so give up. */
static double
mono(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		perror("benchclient: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A finite number in [min, max]; *end says where it stopped. */
static int
parse_num(const char *s, double min, double max, double *out, char **end)
{
	double v;

	errno = 0;
	v = strtod(s, end);
	if (errno != 0 || *end == s || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_double(const char *s, double min, double max, double *out)
{
	char *end;

	return parse_num(s, min, max, out, &end) == -1 || *end != '\0' ?
	    -1 : 0;
}

/* One option; -1 if its value is no good. */
static int
set_opt(int c, const char *arg, struct opts *o)
{
	switch (c) {
	case 'n':
		return parse_count(arg, 1, N_MAX, &o->n);
	case 's':
		return parse_double(arg, 0, 3.6e6, &o->spacing_ms);
	case 'p':
		return parse_count(arg, 1, N_MAX, &o->parallel);
	case 't':
		return parse_double(arg, 0, 86400, &o->timeout_s);
	case 'P':
		o->use_poll = 1;
		return 0;
	case 'i':
		o->prefix = arg;
		return strlen(arg) > 0 && strlen(arg) <= 16 &&
		    strspn(arg, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == strlen(arg) ?
		    0 : -1;
	default:
		return -1;
	}
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .n = 1, .prefix = "b" };
	while ((c = getopt(argc, argv, "n:s:p:t:Pi:")) != -1) {
		if (set_opt(c, optarg, o) == 0)
			continue;
		if (c != '?')
			fprintf(stderr, "benchclient: -%c: bad value \"%s\"\n",
			    c, optarg);
		usage();
	}
	if (optind != argc - 1)
		usage();
	o->url = argv[optind];
	if (o->parallel == 0 || o->parallel > o->n)
		o->parallel = o->n;
}

/* A thousand connections at once need a thousand descriptors. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		perror("benchclient: setrlimit RLIMIT_NOFILE");
}

/* Keep the first BODY_MAX - 1 bytes: our answers are far shorter. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, room = BODY_MAX - 1 - x->len;
	size_t take = n < room ? n : room;

	memcpy(x->body + x->len, data, take);
	x->len += take;
	x->body[x->len] = '\0';
	return n;
}

/* The number after `key` in s, or NAN if it is not there or no good. */
static double
number_after(const char *s, const char *key, double max)
{
	const char *p = strstr(s, key);
	char *end;
	double v;

	if (p == NULL ||
	    parse_num(p + strlen(key), 0, max, &v, &end) == -1)
		return NAN;
	return v;
}

/* Server-Timing: wait;dur=<ms>, work;dur=<ms> (header lines come
 * without a NUL, so copy one first). */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "Server-Timing:";
	struct xfer *x = arg;
	size_t n = size * nmemb;
	char line[LINE_MAX_];

	if (n < sizeof(name) - 1 || n >= sizeof(line) ||
	    strncasecmp(data, name, sizeof(name) - 1) != 0)
		return n;
	memcpy(line, data, n);
	line[n] = '\0';
	x->wait_ms = number_after(line, "wait;dur=", 1e10);
	x->work_ms = number_after(line, "work;dur=", 1e10);
	return n;
}

static int
xfer_setup(struct xfer *x, const struct opts *o)
{
	char id[40];

	snprintf(id, sizeof(id), "X-Request-Id: %s%ld", o->prefix, x->i);
	x->wait_ms = x->work_ms = NAN;
	if ((x->hdrs = curl_slist_append(NULL, id)) == NULL ||
	    (x->easy = curl_easy_init()) == NULL)
		return -1;
	/* Each request on a connection of its own, as N browsers would. */
	return curl_easy_setopt(x->easy, CURLOPT_URL, o->url) ||
	    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs) ||
	    curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1) ||
	    curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 1L) ||
	    curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, 1L) ||
	    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS,
	    (long)(o->timeout_s * 1e3)) ||
	    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x) ||
	    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x) ||
	    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x) ? -1 : 0;
}

static int
xfer_start(CURLM *m, struct xfer *x, const struct opts *o)
{
	if (xfer_setup(x, o) == -1) {
		fprintf(stderr, "benchclient: b%ld: cannot set up\n", x->i);
		return -1;
	}
	x->sent = mono();
	if (curl_multi_add_handle(m, x->easy) != CURLM_OK) {
		fprintf(stderr, "benchclient: b%ld: cannot add\n", x->i);
		return -1;
	}
	return 0;
}

/* "-" for a number the answer did not carry. */
static const char *
fmt(char *buf, size_t size, const char *f, double v)
{
	if (isnan(v))
		return "-";
	snprintf(buf, size, f, v);
	return buf;
}

static double
elapsed_of(const struct xfer *x)
{
	return number_after(x->body, "\"elapsed\":", 1e10);
}

/* Print the transfer's line at once, so a reader of our output can
 * count what is still waiting; then free it. */
static int
xfer_done(CURLM *m, CURLMsg *msg)
{
	double arrival = mono();
	struct xfer *x;
	char *priv = NULL;
	long status = 0;
	char e[32], w[32], k[32];
	int rc = 0;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
	x = (struct xfer *)priv;
	if (msg->data.result != CURLE_OK) {
		fprintf(stderr, "benchclient: b%ld: %s\n", x->i,
		    curl_easy_strerror(msg->data.result));
		rc = -1;
	} else {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	}
	printf("%ld %.6f %.6f %ld %s %s %s\n", x->i, x->sent, arrival,
	    status, fmt(e, sizeof(e), "%.6f", elapsed_of(x)),
	    fmt(w, sizeof(w), "%.3f", x->wait_ms),
	    fmt(k, sizeof(k), "%.3f", x->work_ms));
	if (fflush(stdout) == EOF)
		rc = -1;
	curl_multi_remove_handle(m, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	x->easy = NULL;
	x->hdrs = NULL;
	return rc;
}

/* What the event loops share. */
struct run {
	CURLM *m;
	struct xfer *xs;
	const struct opts *o;
	double t0;		/* when the first send was due */
	long next;		/* transfers started */
	long active;		/* started, not yet done */
	long done;
	int failed;
	int ep;			/* epoll fd (socket loop) */
	double timer_at;	/* curl's timeout, mono s; < 0: none */
};

static double
due(const struct run *r, long k)
{
	return r->t0 + (double)k * r->o->spacing_ms / 1e3;
}

/* Start every transfer that is due and has room. */
static int
start_due(struct run *r)
{
	while (r->next < r->o->n && r->active < r->o->parallel &&
	    mono() >= due(r, r->next)) {
		if (xfer_start(r->m, &r->xs[r->next], r->o) == -1)
			return -1;
		r->next++;
		r->active++;
	}
	return 0;
}

/* Report every transfer curl has finished since the last call. */
static void
collect_done(struct run *r)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(r->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (xfer_done(r->m, msg) == -1)
			r->failed = 1;
		r->active--;
		r->done++;
	}
}

/* Milliseconds until the next send is due, if one may start, capped;
 * the cap alone otherwise (curl wakes us on any event). */
static int
send_wait_ms(const struct run *r)
{
	double ms;

	if (r->next >= r->o->n || r->active >= r->o->parallel)
		return POLL_MAX_MS;
	ms = ceil((due(r, r->next) - mono()) * 1e3);
	return ms <= 0 ? 0 : ms > POLL_MAX_MS ? POLL_MAX_MS : (int)ms;
}

/* -P: the plain loop. curl_multi_perform walks every transfer and
 * polls each socket on each wake: O(N) work per event, which at
 * N = 1000 costs about 2 ms of CPU per answer and delays arrivals. */
static int
run_poll(struct run *r)
{
	int running;

	while (r->done < r->o->n) {
		if (start_due(r) == -1 ||
		    curl_multi_perform(r->m, &running) != CURLM_OK)
			return -1;
		collect_done(r);
		if (r->done < r->o->n && curl_multi_poll(r->m, NULL, 0,
		    send_wait_ms(r), NULL) != CURLM_OK)
			return -1;
	}
	return 0;
}

/* curl tells which sockets to watch for what; epoll keeps the list. */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct run *r = arg;
	struct epoll_event ev = { .data.fd = s };

	(void)easy;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		/* curl may have closed it already: nothing to undo then. */
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	    ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, s, &ev) == 0 ||
	    (errno == ENOENT && epoll_ctl(r->ep, EPOLL_CTL_ADD, s, &ev) == 0))
		return 0;
	perror("benchclient: epoll_ctl");
	return -1;
}

/* curl asks to be called back after ms (-1: never); the loop does it,
 * as curl may not be re-entered from here. */
static int
on_timer(CURLM *m, long ms, void *arg)
{
	struct run *r = arg;

	(void)m;
	r->timer_at = ms < 0 ? -1.0 : mono() + (double)ms / 1e3;
	return 0;
}

static int
epoll_wait_ms(const struct run *r)
{
	int ms = send_wait_ms(r);
	double t;

	if (r->timer_at >= 0) {
		t = ceil((r->timer_at - mono()) * 1e3);
		if (t < ms)
			ms = t <= 0 ? 0 : (int)t;
	}
	return ms;
}

/* Hand curl the events epoll saw, and its timeout once it is due. */
static int
dispatch(struct run *r, const struct epoll_event *evs, int n)
{
	int i, flags, running;

	for (i = 0; i < n; i++) {
		flags = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
		    ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
		    ((evs[i].events & (EPOLLERR | EPOLLHUP)) ?
		    CURL_CSELECT_ERR : 0);
		if (curl_multi_socket_action(r->m, evs[i].data.fd, flags,
		    &running) != CURLM_OK)
			return -1;
	}
	if (r->timer_at >= 0 && mono() >= r->timer_at) {
		r->timer_at = -1.0;
		if (curl_multi_socket_action(r->m, CURL_SOCKET_TIMEOUT, 0,
		    &running) != CURLM_OK)
			return -1;
	}
	return 0;
}

/* The default loop: curl's socket interface on epoll, so each event
 * costs work for its own transfer only, whatever N is. */
static int
run_epoll(struct run *r)
{
	struct epoll_event evs[256];
	int n;

	if ((r->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    curl_multi_setopt(r->m, CURLMOPT_SOCKETFUNCTION, on_socket) ||
	    curl_multi_setopt(r->m, CURLMOPT_SOCKETDATA, r) ||
	    curl_multi_setopt(r->m, CURLMOPT_TIMERFUNCTION, on_timer) ||
	    curl_multi_setopt(r->m, CURLMOPT_TIMERDATA, r))
		return -1;
	while (r->done < r->o->n) {
		if (start_due(r) == -1)
			return -1;
		n = epoll_wait(r->ep, evs, 256, epoll_wait_ms(r));
		if (n == -1 && errno != EINTR)
			return -1;
		if (dispatch(r, evs, n < 0 ? 0 : n) == -1)
			return -1;
		collect_done(r);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct run r = { .timer_at = -1.0, .ep = -1 };
	struct xfer *xs;
	CURLM *m;
	long i;
	int rc;

	parse_args(argc, argv, &o);
	raise_nofile();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (m = curl_multi_init()) == NULL ||
	    (xs = calloc((size_t)o.n, sizeof(*xs))) == NULL) {
		fputs("benchclient: cannot initialise\n", stderr);
		return 1;
	}
	for (i = 0; i < o.n; i++)
		xs[i].i = i + 1;
	/* No cap on connections, and room to keep all of them at once. */
	if (curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L) ||
	    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 0L) ||
	    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, o.n)) {
		fputs("benchclient: cannot set connection limits\n", stderr);
		return 1;
	}
	r.m = m;
	r.xs = xs;
	r.o = &o;
	r.t0 = mono();
	rc = o.use_poll ? run_poll(&r) : run_epoll(&r);
	if (rc == -1)
		fputs("benchclient: event loop failed\n", stderr);
	curl_multi_cleanup(m);
	curl_global_cleanup();
	free(xs);
	return rc == 0 && !r.failed ? 0 : 1;
}
