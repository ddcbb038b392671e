/*
 * benchclient - fire N GET requests at one URL with libcurl's multi
 * interface and print one line per transfer as it completes:
 *
 *   <i> <send mono s> <arrival mono s> <http status> <elapsed s|->
 *       <wait ms|-> <work ms|->
 *
 * i counts from 1 in send order and goes out as "X-Request-Id: b<i>",
 * so a line can be matched with the server's work log. Both times are
 * CLOCK_MONOTONIC, the clock of that log. A transfer that fails on our
 * side prints status 0 and makes the exit status 1.
 *
 * usage: benchclient [-n N] [-s spacing_ms] [-p max_parallel]
 *                    [-t timeout_s] URL
 */
#define _POSIX_C_SOURCE 200809L

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

#define N_MAX		100000
#define BODY_MAX	256	/* our answer is {"elapsed":x.xxxxxx} */
#define LINE_MAX_	256	/* one Server-Timing header line */
#define POLL_MAX_MS	1000

struct opts {
	long n;
	double spacing_ms;
	long parallel;
	double timeout_s;
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
	    " [-t timeout_s] URL\n", stderr);
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

/* A whole number in [min, max], nothing else on the line. */
static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
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

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	o->n = 1;
	o->spacing_ms = 0.0;
	o->parallel = 0;
	o->timeout_s = 0.0;
	while ((c = getopt(argc, argv, "n:s:p:t:")) != -1) {
		if ((c == 'n' && parse_long(optarg, 1, N_MAX, &o->n) == 0) ||
		    (c == 's' && parse_double(optarg, 0, 3.6e6,
		    &o->spacing_ms) == 0) ||
		    (c == 'p' && parse_long(optarg, 1, N_MAX,
		    &o->parallel) == 0) ||
		    (c == 't' && parse_double(optarg, 0, 86400,
		    &o->timeout_s) == 0))
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

	snprintf(id, sizeof(id), "X-Request-Id: b%ld", x->i);
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

/* Milliseconds to sleep in curl_multi_poll: until the next send is
 * due, if one may start, else a while (curl wakes us on any event). */
static int
poll_ms(const struct opts *o, double t_start, long next, long active)
{
	double due, ms;

	if (next >= o->n || active >= o->parallel)
		return POLL_MAX_MS;
	due = t_start + (double)next * o->spacing_ms / 1e3;
	ms = ceil((due - mono()) * 1e3);
	return ms <= 0 ? 0 : ms > POLL_MAX_MS ? POLL_MAX_MS : (int)ms;
}

/* Start every transfer that is due and has room. */
static int
start_due(CURLM *m, struct xfer *xs, const struct opts *o, double t0,
    long *next, long *active)
{
	while (*next < o->n && *active < o->parallel &&
	    mono() >= t0 + (double)*next * o->spacing_ms / 1e3) {
		if (xfer_start(m, &xs[*next], o) == -1)
			return -1;
		++*next;
		++*active;
	}
	return 0;
}

static int
run(CURLM *m, struct xfer *xs, const struct opts *o)
{
	double t0 = mono();
	long next = 0, active = 0, done = 0;
	int running, left, rc = 0;
	CURLMsg *msg;

	while (done < o->n) {
		if (start_due(m, xs, o, t0, &next, &active) == -1)
			return -1;
		if (curl_multi_perform(m, &running) != CURLM_OK)
			return -1;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			if (xfer_done(m, msg) == -1)
				rc = -1;
			active--;
			done++;
		}
		if (done < o->n && curl_multi_poll(m, NULL, 0,
		    poll_ms(o, t0, next, active), NULL) != CURLM_OK)
			return -1;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
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
	rc = run(m, xs, &o);
	curl_multi_cleanup(m);
	curl_global_cleanup();
	free(xs);
	return rc == 0 ? 0 : 1;
}
