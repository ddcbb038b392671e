/*
 * tests/bench-real-jobs.c - the program of tests/bench-real-jobs, and
 * its HTTP client. As a CGI program (no arguments), QUERY_STRING's run=
 * says what it does; its stamps, "<CLOCK_MONOTONIC s> <job id> ...", go
 * to ../state/NAME beside its own directory (the job id is
 * SERIALCGI_JOB_ID):
 *   run=quick      reads its body, answers its size
 *   run=long       stamps "start" to state/long, then sleeps (60 s at
 *                  most) until SIGTERM, stamps "term" and exits 0
 *   run=progress   n= lines (default 10), one every every= ms (default
 *                  300) plus up to half as much again at random, the
 *                  first at once: each stamped "<fraction>" to
 *                  state/progress just before it is written to fd 3
 *                  (SERIALCGI_PROGRESS_FD) as "<fraction> line <k>";
 *                  then it runs every= ms more, so that its last line
 *                  too is shown while it runs (a final job shows no
 *                  progress)
 *
 * bench-real-jobs --poll PORT PATH MS SECONDS: GET PATH on 127.0.0.1
 * every MS ms, a new connection each, until the job is final or SECONDS
 * have passed; one line per answer, "<sent> <answered> <status>
 * <progress|null>" (monotonic s; status the job's, "-" if none).
 *
 * bench-real-jobs --post PORT PATH ID: one POST PATH with X-Request-Id
 * ID; prints "<sent> <answered> <HTTP status>".
 *
 * Built by tests/bench-real-jobs: cc -O2 -static -o bench-real-jobs
 * bench-real-jobs.c
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t termed;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	(void)nanosleep(&ts, NULL);	/* EINTR: a signal, looked at */
}

/* "<t> <id> <what>\n" appended to ../state/NAME from argv0's directory. */
static void
stamp(const char *argv0, const char *name, double t, const char *what)
{
	const char *slash = strrchr(argv0, '/'), *id;
	char path[PATH_MAX], line[200];
	int fd, n;

	id = getenv("SERIALCGI_JOB_ID");
	snprintf(path, sizeof(path), "%.*s/../state/%s",
	    slash != NULL ? (int)(slash - argv0) : 1,
	    slash != NULL ? argv0 : ".", name);
	n = snprintf(line, sizeof(line), "%.9f %.64s %s\n", t,
	    id != NULL ? id : "-", what);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1 || write(fd, line, (size_t)n) != n)
		perror(path);
	if (fd != -1)
		close(fd);
}

/* QUERY_STRING's NAME=, or def. */
static long
param(const char *name, long def)
{
	const char *q = getenv("QUERY_STRING"), *p;
	size_t n = strlen(name);

	for (p = q; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 :
	    NULL)
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
	return def;
}

static int
mode(const char *name)
{
	const char *q = getenv("QUERY_STRING");
	char want[32];

	snprintf(want, sizeof(want), "run=%s", name);
	return q != NULL && strstr(q, want) != NULL;
}

static void
on_term(int sig)
{
	(void)sig;
	termed = 1;
}

static int
run_long(const char *argv0)
{
	struct sigaction sa;
	double end;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	stamp(argv0, "long", now(), "start");
	for (end = now() + 60; !termed && now() < end; )
		nap(0.5);
	stamp(argv0, "long", now(), termed ? "term" : "timeout");
	printf("Content-Type: text/plain\r\n\r\n%s\n", termed ? "term" :
	    "timeout");
	return 0;
}

static int
run_progress(const char *argv0)
{
	long n = param("n", 10), every = param("every", 300), k;
	char frac[32], line[64];
	int len;

	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (k = 1; k <= n; k++) {
		if (k > 1)
			nap((double)(every + rand() % (every / 2 + 1)) / 1e3);
		snprintf(frac, sizeof(frac), "%.3f", (double)k / (double)n);
		len = snprintf(line, sizeof(line), "%s line %ld\n", frac, k);
		stamp(argv0, "progress", now(), frac);
		if (write(3, line, (size_t)len) != len)
			perror("fd 3");
	}
	nap((double)every / 1e3);
	printf("Content-Type: text/plain\r\n\r\n%ld lines\n", n);
	return 0;
}

static int
run_quick(void)
{
	char buf[65536];
	long total = 0;
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) > 0)
		total += n;
	printf("Content-Type: text/plain\r\n\r\n%ld\n", total);
	return 0;
}

/* One request on a new connection; the answer, whole, into buf (until
 * the server closes). Returns its length, or -1. */
static ssize_t
request(int port, const char *req, char *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	size_t got = 0, reqlen = strlen(req);
	ssize_t n;
	int fd;

	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    write(fd, req, reqlen) != (ssize_t)reqlen) {
		close(fd);
		return -1;
	}
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* "key":value of a JSON answer, as its text up to , or }, or "-". */
static void
field(const char *body, const char *key, char *out, size_t len)
{
	char k[64];
	const char *p;
	size_t n;

	snprintf(k, sizeof(k), "\"%s\":", key);
	if (body == NULL || (p = strstr(body, k)) == NULL) {
		snprintf(out, len, "-");
		return;
	}
	p += strlen(k);
	if (*p == '"')
		p++;
	n = strcspn(p, "\",}");
	snprintf(out, len, "%.*s", (int)(n < len - 1 ? n : len - 1), p);
}

static int
poll_job(int port, const char *path, long ms, double seconds)
{
	char req[512], buf[65536], st[32], pr[32];
	double t0, t1, end = now() + seconds;
	const char *body;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	while (now() < end) {
		t0 = now();
		if (request(port, req, buf, sizeof(buf)) > 0) {
			t1 = now();
			body = strstr(buf, "\r\n\r\n");
			field(body, "status", st, sizeof(st));
			field(body, "progress", pr, sizeof(pr));
			printf("%.6f %.6f %s %s\n", t0, t1, st, pr);
			fflush(stdout);
			if (strcmp(st, "succeeded") == 0 ||
			    strcmp(st, "failed") == 0 ||
			    strcmp(st, "canceled") == 0)
				return 0;
		}
		nap((double)ms / 1e3);
	}
	return 1;
}

static int
post(int port, const char *path, const char *id)
{
	char req[512], buf[16384];
	double t0, t1;
	int status = 0;

	snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "X-Request-Id: %s\r\nContent-Length: 0\r\nConnection: close\r\n"
	    "\r\n", path, id);
	t0 = now();
	if (request(port, req, buf, sizeof(buf)) > 0)
		(void)sscanf(buf, "HTTP/1.%*d %d", &status);
	t1 = now();
	printf("%.6f %.6f %d\n", t0, t1, status);
	return status == 0;
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "--poll") == 0)
		return poll_job(atoi(argv[2]), argv[3], atol(argv[4]),
		    atof(argv[5]));
	if (argc == 5 && strcmp(argv[1], "--post") == 0)
		return post(atoi(argv[2]), argv[3], argv[4]);
	if (mode("long"))
		return run_long(argv[0]);
	if (mode("progress"))
		return run_progress(argv[0]);
	return run_quick();
}
