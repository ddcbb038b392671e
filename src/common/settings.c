/* settings.c - every setting, written once: see settings.h. */
#define _GNU_SOURCE	/* getopt_long */

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "settings.h"

enum kind {
	K_SECONDS,	/* a number of seconds in (0, max] */
	K_INT,		/* a whole number in [min, max] */
	K_PATH,		/* a non-empty path */
	K_PATH_OFF,	/* a path, or empty for off */
	K_TEXT,		/* any text, checked by its user */
	K_WORD,		/* one of the words in help's first line */
	K_GONE,		/* a setting of an older version: refused */
	K_FLAG		/* an option without a value, no environment */
};

#define NONE	((size_t)-1)	/* not kept in struct config */

struct setting {
	const char	*name;		/* long option, or NULL: environment
					 * only (the stack's) */
	int		 key;		/* short option, or 0 */
	const char	*env;		/* environment variable, or NULL */
	enum kind	 kind;
	size_t		 off;		/* of the value in struct config */
	long		 min, max;	/* K_INT's range; K_SECONDS: max */
	const char	*def;		/* the default, as it would be set;
					 * "" for none or off */
	const char	*arg;		/* the value's name in --help */
	const char	*help;		/* lines separated by \n */
};

#define AT(f)	offsetof(struct config, f)
#define HOUR	3600
#define DAYS30	(30L * 86400)

static const struct setting table[] = {
	{ "work-seconds", 'w', "WORK_SECONDS", K_SECONDS, AT(work_seconds),
	  0, HOUR, "3", "S", "length of one work()" },
	{ "lock-file", 'l', "LOCK_FILE", K_PATH, AT(lock_path),
	  0, 0, "serialcgi.lock", "PATH", "the lock all responders share" },
	{ "work-log", 'L', "WORK_LOG", K_PATH_OFF, AT(worklog_path),
	  0, 0, "", "PATH", "append start and end of every work;\n"
	  "SIGUSR1 reopens it" },
	{ "io-timeout", 'i', "IO_TIMEOUT", K_SECONDS, AT(io_timeout),
	  0, HOUR, "10", "S", "to read a whole request" },
	{ "board-file", 'b', "BOARD_FILE", K_PATH, AT(board_path),
	  0, 0, "serialcgi.board", "PATH",
	  "the scoreboard all responders share" },
	{ "slow-wait", 's', "SLOW_WAIT", K_SECONDS, AT(slow_wait),
	  0, HOUR, "", "S", "log requests that waited longer" },
	{ "lock-url", 'u', "LOCK_URL", K_PATH_OFF, AT(lock_url),
	  0, 0, "", "URL", "a PostgreSQL engine for the lock across\n"
	  "hosts (postgresql://...); off: flock on\nthis host alone" },
	{ "lock-key", 'k', "LOCK_KEY", K_INT, AT(lock_key),
	  LONG_MIN, LONG_MAX, "1396918089", "N",
	  "the engine's advisory lock key" },
	{ "jobs-db", 'j', "JOBS_DB", K_PATH_OFF, AT(jobs_db),
	  0, 0, "serialcgi-jobs.db", "PATH",
	  "the job store (SQLite); empty: no jobs;\n"
	  "with --lock-url the engine holds the\njobs instead" },
	{ "job-retention", 'r', "JOB_RETENTION", K_SECONDS,
	  AT(job_retention), 0, DAYS30, "86400", "S",
	  "keep finished jobs this long" },
	{ "job-queue", 'q', "JOB_QUEUE", K_INT, AT(job_queue),
	  1, 1000000, "1000", "N", "queued jobs at most, then 503" },
	{ "job-results-max", 'R', "JOB_RESULTS_MAX", K_INT,
	  AT(job_results_max), 1, 1L << 40, "268435456", "BYTES",
	  "bytes of answers and request bodies\n"
	  "jobs of real work keep, in all; past it,\n"
	  "their submissions get 503" },
	{ "callback-allow", 'a', "CALLBACK_ALLOW", K_TEXT,
	  AT(callback_allow), 0, 0, "public", "LIST",
	  "addresses callbacks may reach: \"public\"\n"
	  "and networks (127.0.0.1/32, ...)" },
	{ "callback-secret", 'S', "CALLBACK_SECRET_FILE", K_PATH_OFF,
	  AT(callback_secret), 0, 0, "", "PATH",
	  "a 0600 file, whsec_ and base64, that\n"
	  "signs callbacks; off: no callbacks" },
	{ "work-command", 'W', "WORK_COMMAND", K_PATH_OFF, AT(work_command),
	  0, 0, "", "PATH", "a CGI program (RFC 3875) to run as the work\n"
	  "of /work/...; absolute, executable, not\n"
	  "writable but by root; off: /work is 404" },
	{ "work-timeout", 'T', "WORK_TIMEOUT", K_SECONDS, AT(work_timeout),
	  0, 86400, "60", "S", "seconds one program may take, then 504" },
	{ "work-output-max", 'O', "WORK_OUTPUT_MAX", K_INT,
	  AT(work_output_max), 1, 64L << 20, "1048576", "BYTES",
	  "bytes of a program's answer kept; more\nis a 502" },
	{ "work-on-abort", 'B', "WORK_ON_ABORT", K_WORD, AT(work_on_abort),
	  0, 0, "finish", "WORD", "finish|stop: a work whose client left\n"
	  "runs to its end, or is stopped" },
	{ "work-url", 'U', "WORK_URL", K_PATH_OFF, AT(work_url), 0, 0, "",
	  "URL", "an HTTP upstream (http:// or https://)\n"
	  "that /work/... is forwarded to, one\n"
	  "call at a time; off: /work is 404" },
	{ "work-ca-file", 'C', "WORK_CA_FILE", K_PATH_OFF, AT(work_ca_file),
	  0, 0, "", "PATH", "the CA certificates that WORK_URL's\n"
	  "must chain to; off: the system's" },
	{ NULL, 0, "QUEUE", K_INT, AT(queue), 1, 8000, "1024", NULL,
	  "requests nginx admits to /test at once\n"
	  "(the stack's; with JOB_QUEUE at most\n"
	  "8192, the scoreboard's tickets)" },
	{ NULL, 0, "PROCESSES", K_INT, AT(processes), 1, 64, "4", NULL,
	  "responder processes (the stack's;\n"
	  "spawn/responders: 2)" },
	{ NULL, 0, "PORT", K_INT, AT(port), 1, 65535, "8080", NULL,
	  "nginx's port on 127.0.0.1 (the stack's)" },
	{ NULL, 0, "RUN_DIR", K_TEXT, NONE, 0, 0, "run", NULL,
	  "the stack's directory (the checkout's\n"
	  "run/, or /run/serialcgi/... when the\n"
	  "service user cannot reach it)" },
	{ NULL, 0, "SERVICE_USER", K_TEXT, NONE, 0, 0, "serialcgi", NULL,
	  "as root, the user the stack runs as" },
	{ NULL, 0, "ENGINE_PORT", K_INT, AT(engine_port), 1024, 65535,
	  "55432", NULL, "make cluster's private PostgreSQL" },
	{ "threads", 't', "THREADS", K_GONE, NONE, 0, 0, "", "N",
	  "gone in 0.2: a waiting request holds no\nthread" },
	{ "check", 'c', NULL, K_FLAG, NONE, 0, 0, "", NULL,
	  "check the settings and exit" },
	{ "settings", 'A', NULL, K_FLAG, NONE, 0, 0, "", NULL,
	  "print every setting, tab-separated" },
	{ "help", 'h', NULL, K_FLAG, NONE, 0, 0, "", NULL,
	  "print this and exit" },
	{ "version", 'V', NULL, K_FLAG, NONE, 0, 0, "", NULL,
	  "print the version and exit" },
};
#define NSETTINGS	(sizeof(table) / sizeof(table[0]))

/* What a kind wants, for a refusal and for --settings. */
static void
want(const struct setting *s, char *buf, size_t len)
{
	switch (s->kind) {
	case K_SECONDS:
		snprintf(buf, len, "a number of seconds in (0, %ld]", s->max);
		break;
	case K_INT:
		snprintf(buf, len, "a whole number from %ld to %ld", s->min,
		    s->max);
		break;
	case K_PATH:
	case K_PATH_OFF:
		snprintf(buf, len, "a path");
		break;
	case K_GONE:
		snprintf(buf, len, "a setting any more: since 0.2 a waiting "
		    "request holds no thread; nginx's QUEUE bounds the "
		    "waiters");
		break;
	case K_WORD:
		snprintf(buf, len, "one of %.*s", (int)strcspn(s->help, ":"),
		    s->help);
		break;
	default:
		snprintf(buf, len, "text");
	}
}

/* Is val one of K_WORD's words, the '|'-separated ones that begin its
 * help? */
static int
is_word(const struct setting *s, const char *val)
{
	size_t n = strlen(val), end = strcspn(s->help, ":");
	const char *w;

	for (w = s->help; w < s->help + end; w += strcspn(w, "|:") + 1)
		if (n > 0 && strncmp(w, val, n) == 0 &&
		    (w[n] == '|' || w[n] == ':'))
			return 1;
	return 0;
}

/* Apply one value. Returns 0, or -1 if it is not what s wants. */
static int
apply(const struct setting *s, const char *val, struct config *cfg)
{
	char *base = (char *)cfg + s->off;
	double secs;

	if (s->off == NONE)
		return s->kind == K_GONE ? -1 : 0;
	switch (s->kind) {
	case K_SECONDS:
		/* Empty: off (0), for a setting whose default is off. */
		if (*val == '\0' && *s->def == '\0') {
			*(double *)(void *)base = 0;
			return 0;
		}
		if (parse_seconds_upto(val, (double)s->max, &secs) == -1)
			return -1;
		*(double *)(void *)base = secs;
		return 0;
	case K_INT:
		return parse_count(val, s->min, s->max, (long *)(void *)base);
	case K_PATH:
		if (*val == '\0')
			return -1;
		*(const char **)(void *)base = val;
		return 0;
	case K_PATH_OFF:
		*(const char **)(void *)base = *val == '\0' ? NULL : val;
		return 0;
	case K_TEXT:
		*(const char **)(void *)base = val;
		return 0;
	case K_WORD:
		if (!is_word(s, val))
			return -1;
		*(const char **)(void *)base = val;
		return 0;
	default:
		return -1;
	}
}

static int
refuse(char *why, size_t len, const char *prefix, const char *name,
    const char *val, const struct setting *s)
{
	char w[160];

	want(s, w, sizeof(w));
	snprintf(why, len, "%s%s: \"%s\" is not %s", prefix, name, val, w);
	return SETTINGS_BAD;
}

static void
defaults(struct config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->worklog_fd = -1;
	for (i = 0; i < NSETTINGS; i++)
		if (table[i].kind != K_FLAG && table[i].kind != K_GONE)
			(void)apply(&table[i], table[i].def, cfg);
}

static int
from_env(struct config *cfg, char *why, size_t len)
{
	const char *val;
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		if (table[i].env == NULL ||
		    (val = getenv(table[i].env)) == NULL)
			continue;
		if (apply(&table[i], val, cfg) == -1)
			return refuse(why, len, "", table[i].env, val,
			    &table[i]);
	}
	return SETTINGS_RUN;
}

/* getopt_long(3)'s tables, from ours. The leading ':' has getopt
 * return ':' for a missing argument, and print nothing itself. */
static void
option_tables(struct option *lo, char *so)
{
	size_t i, n = 0;

	*so++ = ':';
	for (i = 0; i < NSETTINGS; i++) {
		if (table[i].name == NULL)
			continue;
		lo[n].name = table[i].name;
		lo[n].has_arg = table[i].kind == K_FLAG ? no_argument :
		    required_argument;
		lo[n].flag = NULL;
		lo[n++].val = table[i].key;
		*so++ = (char)table[i].key;
		if (table[i].kind != K_FLAG)
			*so++ = ':';
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	*so = '\0';
}

static const struct setting *
by_key(int key)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (table[i].name != NULL && table[i].key == key)
			return &table[i];
	return NULL;
}

/* getopt_long said ':' (no argument) or '?' (no such option). The
 * option as it was written is argv[optind - 1]. */
static int
bad_option(int ch, char *argv[], char *why, size_t len)
{
	const struct setting *s = by_key(optopt);
	const char *as = argv[optind - 1];

	if (ch == ':' && strncmp(as, "--", 2) == 0 && s != NULL)
		snprintf(why, len, "option --%s requires an argument",
		    s->name);
	else if (ch == ':')
		snprintf(why, len, "option -%c requires an argument", optopt);
	else if (optopt != 0)
		snprintf(why, len, "unknown option -%c (see --help)", optopt);
	else
		snprintf(why, len, "unknown option %.60s (see --help)", as);
	return SETTINGS_BAD;
}

int
settings_load(int argc, char *argv[], struct config *cfg, char *why,
    size_t len)
{
	struct option lo[NSETTINGS + 1];
	char so[2 * NSETTINGS + 2];
	const struct setting *s;
	int ch, verdict = SETTINGS_RUN, env_bad;

	/* A bad variable is said after the options are read, so that
	 * --help, --version and --settings answer whatever the
	 * environment holds: the stack reads its defaults from --settings
	 * before it has anything checked. */
	defaults(cfg);
	env_bad = from_env(cfg, why, len) == SETTINGS_BAD;
	option_tables(lo, so);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (ch) {
		case 'h':
			settings_usage(stdout);
			return SETTINGS_DONE;
		case 'V':
			printf("serialcgi %s\n", SERIALCGI_VERSION);
			return SETTINGS_DONE;
		case 'A':
			settings_list(stdout);
			return SETTINGS_DONE;
		case 'c':
			verdict = SETTINGS_CHECK;
			continue;
		case ':':
		case '?':
			return env_bad ? SETTINGS_BAD :
			    bad_option(ch, argv, why, len);
		}
		if (env_bad)
			continue;	/* said below */
		if ((s = by_key(ch)) == NULL)
			return bad_option('?', argv, why, len);
		if (apply(s, optarg, cfg) == -1)
			return refuse(why, len, "--", s->name, optarg, s);
	}
	if (env_bad)
		return SETTINGS_BAD;
	if (optind != argc) {
		snprintf(why, len, "unexpected argument \"%s\"", argv[optind]);
		return SETTINGS_BAD;
	}
	return verdict;
}

/* The default as --help shows it. */
static const char *
shown_default(const struct setting *s)
{
	if (*s->def != '\0')
		return s->def;
	return s->kind == K_GONE ? NULL : "off";
}

void
settings_usage(FILE *f)
{
	char opt[40];
	const char *h, *nl, *def;
	size_t i;

	fprintf(f, "usage: serialcgi [options]\n"
	    "Serve FastCGI on fd 0, as spawn-fcgi(1) passes it; run one\n"
	    "work() at a time across every responder sharing the lock.\n");
	for (i = 0; i < NSETTINGS; i++) {
		if (table[i].name == NULL)
			continue;
		snprintf(opt, sizeof(opt), "-%c, --%s%s%s", table[i].key,
		    table[i].name, table[i].arg ? " " : "",
		    table[i].arg ? table[i].arg : "");
		/* Continuation lines of a help text line up under it. */
		for (h = table[i].help; h != NULL; h = nl ? nl + 1 : NULL) {
			nl = strchr(h, '\n');
			fprintf(f, "  %-27s %.*s\n", h == table[i].help ?
			    opt : "", (int)(nl ? nl - h : (long)strlen(h)),
			    h);
		}
		if (table[i].kind != K_FLAG &&
		    (def = shown_default(&table[i])) != NULL)
			fprintf(f, "  %-27s default %s\n", "", def);
		if (table[i].env != NULL)
			fprintf(f, "  %-27s environment: %s\n", "",
			    table[i].env);
	}
	fprintf(f, "The stack's settings, from the environment "
	    "(spawn/stack):\n");
	for (i = 0; i < NSETTINGS; i++)
		if (table[i].name == NULL)
			fprintf(f, "  %-27s default %s\n", table[i].env,
			    table[i].def);
}

void
settings_list(FILE *f)
{
	const struct setting *s;
	char w[160];
	const char *h;
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		s = &table[i];
		if (s->env == NULL || s->kind == K_GONE)
			continue;
		want(s, w, sizeof(w));
		fprintf(f, "%s\t%s%s\t%s\t%s\t", s->env, s->name ? "--" : "-",
		    s->name ? s->name : "", s->def, w);
		for (h = s->help; *h != '\0'; h++)
			fputc(*h == '\n' ? ' ' : *h, f);
		fputc('\n', f);
	}
}
