/*
 * serialcgi-client - check any deployment of the serial /test service
 * against the seed's acceptance rule.
 *
 * Fires N GET requests at a URL with at most C in flight, prints each
 * answer as it completes, sends again what failed (--retry), then sorts
 * the answers by arrival and checks that each "elapsed" exceeds the one
 * before by at least one work less the send spread (rule.h).
 *
 * Exit status: 0 the rule holds and every request got its answer;
 * 1 the rule is broken, a request failed, or the client could not run;
 * 2 bad usage.
 */
#define _GNU_SOURCE	/* getopt_long */

#include <sys/resource.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "fire.h"
#include "report.h"
#include "rule.h"
#include "clock.h"
#include "parse.h"
#include "version.h"

#define PROG		"serialcgi-client"
#define N_MAX		100000
#define RETRY_MAX	100
#define PREFIX_MAX	32
#define RETRY_AFTER_MAX	60	/* s: longer is someone else's outage */

struct opts {
	long n;
	long parallel;		/* 0: n */
	double work;		/* 0: inferred (rule_check) */
	long retries;
	int json;
	struct fire_opts fire;
};

static const char usage_text[] =
    "usage: " PROG " [-n N] [-c C] [-w S] [-s MS] [-t S] [-i PREFIX]\n"
    "                        [--retry K] [--json] URL\n"
    "\n"
    "  -n, --requests N     requests to send (1-100000; default 4)\n"
    "  -c, --concurrency C  at most C in flight (1-100000; default N)\n"
    "  -w, --work S         seconds of one work (default: Server-Timing"
    " work;dur,\n"
    "                       else the smallest elapsed)\n"
    "  -s, --spacing MS     a send every MS milliseconds, room permitting"
    " (default 0)\n"
    "  -t, --timeout S      give up on a request after S seconds"
    " (default 0: never)\n"
    "  -i, --id-prefix P    X-Request-Id is P<i>, P<i>.r<k> on retry k"
    " (default c)\n"
    "      --retry K        send again what failed (no answer, 5xx),"
    " up to K rounds\n"
    "      --json           one JSON object a line instead of text\n"
    "  -h, --help           this text\n"
    "  -V, --version        the version\n"
    "\n"
    "Exit status: 0 the rule holds, 1 it is broken or requests failed,"
    "\n2 it could not run (bad usage, no answer from the server).\n";

static const struct option longopts[] = {
	{ "requests", required_argument, NULL, 'n' },
	{ "concurrency", required_argument, NULL, 'c' },
	{ "work", required_argument, NULL, 'w' },
	{ "spacing", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 't' },
	{ "id-prefix", required_argument, NULL, 'i' },
	{ "retry", required_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static int
check_prefix(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= PREFIX_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == len ? 0 : -1;
}

/* One option, named as the user wrote it; on a bad value, exit 2
 * saying what it must be. */
static void
set_opt(int c, const char *name, const char *arg, struct opts *o)
{
	const char *want = NULL;

	switch (c) {
	case 'n':
		if (parse_count(arg, 1, N_MAX, &o->n) == -1)
			want = "a whole number from 1 to 100000";
		break;
	case 'c':
		if (parse_count(arg, 1, N_MAX, &o->parallel) == -1)
			want = "a whole number from 1 to 100000";
		break;
	case 'w':
		if (parse_seconds(arg, &o->work) == -1)
			want = "a number of seconds in (0, 3600]";
		break;
	case 's':
		if (parse_number(arg, 0, 3600000, &o->fire.spacing_ms) == -1)
			want = "a number of milliseconds from 0 to 3600000";
		break;
	case 't':
		if (parse_number(arg, 0, 86400, &o->fire.timeout_s) == -1)
			want = "a number of seconds from 0 to 86400";
		break;
	case 'i':
		o->fire.prefix = arg;
		if (check_prefix(arg) == -1)
			want = "1 to 32 of A-Z a-z 0-9 . _ -";
		break;
	case 'r':
		if (parse_count(arg, 0, RETRY_MAX, &o->retries) == -1)
			want = "a whole number from 0 to 100";
		break;
	case 'j':
		o->json = 1;
		break;
	}
	if (want != NULL)
		errx(2, "%s: \"%s\" is not %s", name, arg, want);
}

/* Only http:// and https:// URLs, as libcurl's own parser reads them
 * (curl_url_set(3)): the contract is GET over HTTP. */
static void
check_url(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	int ok;

	if (u == NULL)
		errx(1, "curl_url: out of memory");
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_url_cleanup(u);
	if (!ok)
		errx(2, "URL \"%s\": not an http:// or https:// URL", url);
}

/* The option as the user wrote it: "-c" or "--concurrency". */
static const char *
opt_name(int c, int li, char *buf, size_t size)
{
	if (li >= 0)
		snprintf(buf, size, "--%s", longopts[li].name);
	else
		snprintf(buf, size, "-%c", c);
	return buf;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	char name[32];
	int c, li = -1;

	*o = (struct opts){ .n = 4, .fire.prefix = "c" };
	opterr = 0;	/* our messages, not getopt's */
	while ((c = getopt_long(argc, argv, ":n:c:w:s:t:i:hV", longopts,
	    &li)) != -1) {
		if (c == 'h' || c == 'V') {
			fputs(c == 'h' ? usage_text : PROG " "
			    SERIALCGI_VERSION "\n", stdout);
			exit(0);
		}
		if (c == '?' && optopt != 0)
			errx(2, "unknown option -%c (see --help)", optopt);
		if (c == '?')
			errx(2, "unknown option %s (see --help)",
			    argv[optind - 1]);
		/* getopt(3)'s own words for it. */
		if (c == ':')
			errx(2, "option %s requires an argument",
			    strncmp(argv[optind - 1], "--", 2) == 0 ?
			    argv[optind - 1] :
			    opt_name(optopt, -1, name, sizeof(name)));
		set_opt(c, opt_name(c, li, name, sizeof(name)), optarg, o);
		li = -1;
	}
	if (optind == argc)
		errx(2, "no URL (--help for usage)");
	if (optind < argc - 1)
		errx(2, "one URL only; got \"%s\" too", argv[optind + 1]);
	o->fire.url = argv[optind];
	check_url(o->fire.url);
	if (o->parallel == 0 || o->parallel > o->n)
		o->parallel = o->n;
	o->fire.parallel = o->parallel;
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
		warn("setrlimit RLIMIT_NOFILE");
}

/* What on_done needs: where to print, and the first write error. */
struct printer {
	int json;
	int err;
};

static void
on_done(const struct answer *a, void *arg)
{
	struct printer *p = arg;

	if (report_answer(a, p->json) == -1 && p->err == 0)
		p->err = errno;
}

/* The answers worth another round, into failed; their count. *until
 * is when the last of their Retry-After times is up (mono s; capped),
 * or 0. */
static long
to_retry(struct answer **list, long n, struct answer **failed,
    double *until)
{
	long k, m = 0, after;

	*until = 0;
	for (k = 0; k < n; k++) {
		if (!rule_answer_retryable(list[k]))
			continue;
		failed[m++] = list[k];
		after = list[k]->retry_after;
		if (after > RETRY_AFTER_MAX)
			after = RETRY_AFTER_MAX;
		if (after > 0 && list[k]->arrival + (double)after > *until)
			*until = list[k]->arrival + (double)after;
	}
	return m;
}

/* The first round, then up to o->retries rounds of what failed, each
 * once the Retry-After of its answers is up (RFC 9110 10.2.3).
 * Returns the rounds of retries run, or -1 with errno set. */
static int
run_rounds(const struct opts *o, struct answer **list,
    struct answer **failed, struct printer *p)
{
	double until;
	long m;
	int round;

	if (fire_run(list, o->n, 0, &o->fire, on_done, p) == -1)
		return -1;
	for (round = 1; round <= o->retries; round++) {
		if ((m = to_retry(list, o->n, failed, &until)) == 0)
			break;
		if (report_retry(round, (int)o->retries, failed, m,
		    until > 0 ? until - clock_now() : 0, o->json) == -1)
			return -1;
		if (until > clock_now() && clock_sleep_until(until) == -1)
			return -1;
		if (fire_run(failed, m, round, &o->fire, on_done, p) == -1)
			return -1;
	}
	return round - 1;
}

/* Did no request get an HTTP answer at all (no server there)? */
static int
no_answer(struct answer *const *list, long n)
{
	long k;

	for (k = 0; k < n; k++)
		if (list[k]->status != 0)
			return 0;
	return 1;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct answer *answers = NULL, **list = NULL, **failed = NULL;
	struct printer p = { 0, 0 };
	struct run_info ri;
	struct verdict v;
	long k;
	int rounds, rc = 2;

	parse_args(argc, argv, &o);
	raise_nofile();
	p.json = o.json;
	if (fire_init() == -1)
		errx(2, "curl_global_init: failed");
	answers = calloc((size_t)o.n, sizeof(*answers));
	list = calloc((size_t)o.n, sizeof(*list));
	failed = calloc((size_t)o.n, sizeof(*failed));
	if (answers == NULL || list == NULL || failed == NULL) {
		warn("calloc (%ld requests)", o.n);
		goto out;
	}
	for (k = 0; k < o.n; k++) {
		answers[k].i = k + 1;
		list[k] = &answers[k];
	}
	if ((rounds = run_rounds(&o, list, failed, &p)) == -1) {
		warn("requests to %s", o.fire.url);
		goto out;
	}
	if (p.err != 0) {
		errno = p.err;
		warn("stdout");
		goto out;
	}
	if (rule_check((const struct answer *const *)list, o.n, o.work,
	    &v) == -1) {
		warn("rule_check");
		goto out;
	}
	ri = (struct run_info){ .url = o.fire.url, .requests = o.n,
	    .parallel = o.parallel, .rounds = rounds, .json = o.json };
	if (report_summary(&ri, (const struct answer *const *)list, o.n,
	    &v) == -1) {
		warn("stdout");
		goto out;
	}
	rc = v.checked == o.n && v.broken == 0 ? 0 : 1;
	if (no_answer(list, o.n)) {
		warnx("no answer from %s: %s", o.fire.url, list[0]->error);
		rc = 2;
	}
out:
	free(failed);
	free(list);
	free(answers);
	fire_cleanup();
	return rc;
}
