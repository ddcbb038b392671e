/* settings.c - one table of settings: options, environment, --help. */
#define _GNU_SOURCE	/* getopt_long */

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "settings.h"

enum kind {
	K_SECONDS,	/* a number of seconds in (0, 3600] */
	K_PATH,		/* a non-empty path */
	K_PATH_OFF,	/* a path, or empty for off */
	K_KEY,		/* a signed 64-bit integer */
	K_DAYS,		/* a number of seconds in (0, 30 days] */
	K_COUNT,	/* a whole number in [1, 1000000] */
	K_TEXT,		/* any text, checked by its user */
	K_GONE,		/* a setting of an older version: refused */
	K_FLAG		/* an option without a value, no environment */
};

struct setting {
	const char	*name;		/* long option */
	int		 key;		/* short option */
	const char	*env;		/* environment variable, or NULL */
	enum kind	 kind;
	size_t		 off;		/* of the value in struct config */
	const char	*arg;		/* the value's name in --help */
	const char	*help;
};

#define AT(f)	offsetof(struct config, f)

static const struct setting table[] = {
	{ "work-seconds", 'w', "WORK_SECONDS", K_SECONDS, AT(work_seconds),
	  "S", "length of one work(); default 3" },
	{ "lock-file", 'l', "LOCK_FILE", K_PATH, AT(lock_path),
	  "PATH", "the lock all responders share;\n"
	  "default serialcgi.lock" },
	{ "work-log", 'L', "WORK_LOG", K_PATH_OFF, AT(worklog_path),
	  "PATH", "append start and end of every work; default off" },
	{ "io-timeout", 'i', "IO_TIMEOUT", K_SECONDS, AT(io_timeout),
	  "S", "to read a whole request; default 10" },
	{ "board-file", 'b', "BOARD_FILE", K_PATH, AT(board_path),
	  "PATH", "the scoreboard all responders share;\n"
	  "default serialcgi.board" },
	{ "slow-wait", 's', "SLOW_WAIT", K_SECONDS, AT(slow_wait),
	  "S", "log requests that waited longer; default off" },
	{ "lock-url", 'u', "LOCK_URL", K_PATH_OFF, AT(lock_url),
	  "URL", "a PostgreSQL engine for the lock across\n"
	  "hosts (postgresql://...); default off:\nflock on this host alone" },
	{ "lock-key", 'k', "LOCK_KEY", K_KEY, AT(lock_key),
	  "N", "the engine's advisory lock key;\n"
	  "default 1396918089" },
	{ "jobs-db", 'j', "JOBS_DB", K_PATH_OFF, AT(jobs_db),
	  "PATH", "the job store (SQLite); empty: no jobs;\n"
	  "default serialcgi-jobs.db; with --lock-url\n"
	  "the engine holds the jobs instead" },
	{ "job-retention", 'r', "JOB_RETENTION", K_DAYS, AT(job_retention),
	  "S", "keep finished jobs this long; default 86400" },
	{ "job-queue", 'q', "JOB_QUEUE", K_COUNT, AT(job_queue),
	  "N", "queued jobs at most, then 503; default 1000" },
	{ "callback-allow", 'a', "CALLBACK_ALLOW", K_TEXT,
	  AT(callback_allow), "LIST",
	  "addresses callbacks may reach: \"public\"\n"
	  "and networks (127.0.0.1/32, ...);\ndefault public" },
	{ "callback-secret", 'S', "CALLBACK_SECRET_FILE", K_PATH_OFF,
	  AT(callback_secret), "PATH", "a 0600 file, whsec_ and base64, that\n"
	  "signs callbacks; default off: no callbacks" },
	{ "threads", 't', "THREADS", K_GONE, 0, "N",
	  "gone in 0.2: a waiting request holds no thread" },
	{ "check", 'c', NULL, K_FLAG, 0, NULL,
	  "check the settings and exit" },
	{ "help", 'h', NULL, K_FLAG, 0, NULL, "print this and exit" },
	{ "version", 'V', NULL, K_FLAG, 0, NULL, "print the version" },
};
#define NSETTINGS	(sizeof(table) / sizeof(table[0]))

static const char *const want[] = {
	[K_SECONDS] = "a number of seconds in (0, 3600]",
	[K_PATH] = "a path",
	[K_PATH_OFF] = "a path",
	[K_KEY] = "a whole number from -9223372036854775808 to "
	    "9223372036854775807",
	[K_DAYS] = "a number of seconds in (0, 2592000]",
	[K_COUNT] = "a whole number from 1 to 1000000",
	[K_TEXT] = "text",
	[K_GONE] = "a setting any more: since 0.2 a waiting request holds "
	    "no thread; nginx's QUEUE bounds the waiters",
};

/* Apply one value. Returns 0, or -1 if it is not what s wants. */
static int
apply(const struct setting *s, const char *val, struct config *cfg)
{
	char *base = (char *)cfg + s->off;

	switch (s->kind) {
	case K_SECONDS:
		return parse_seconds(val, (double *)(void *)base);
	case K_PATH:
		if (*val == '\0')
			return -1;
		*(const char **)(void *)base = val;
		return 0;
	case K_PATH_OFF:
		*(const char **)(void *)base = *val == '\0' ? NULL : val;
		return 0;
	case K_KEY:
		return parse_count(val, LONG_MIN, LONG_MAX,
		    (long *)(void *)base);
	case K_DAYS:
		return parse_seconds_upto(val, 30 * 86400.0,
		    (double *)(void *)base);
	case K_COUNT:
		return parse_count(val, 1, 1000000, (long *)(void *)base);
	case K_TEXT:
		*(const char **)(void *)base = val;
		return 0;
	default:
		return -1;
	}
}

static int
refuse(char *why, size_t len, const char *prefix, const char *name,
    const char *val, enum kind k)
{
	snprintf(why, len, "%s%s: \"%s\" is not %s", prefix, name, val,
	    want[k]);
	return SETTINGS_BAD;
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
			    table[i].kind);
	}
	return SETTINGS_RUN;
}

/* getopt_long(3)'s tables, from ours. */
static void
option_tables(struct option *lo, char *so)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		lo[i].name = table[i].name;
		lo[i].has_arg = table[i].kind == K_FLAG ? no_argument :
		    required_argument;
		lo[i].flag = NULL;
		lo[i].val = table[i].key;
		*so++ = (char)table[i].key;
		if (table[i].kind != K_FLAG)
			*so++ = ':';
	}
	memset(&lo[i], 0, sizeof(lo[i]));
	*so = '\0';
}

static const struct setting *
by_key(int key)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (table[i].key == key)
			return &table[i];
	return NULL;
}

int
settings_load(int argc, char *argv[], struct config *cfg, char *why,
    size_t len)
{
	struct option lo[NSETTINGS + 1];
	char so[2 * NSETTINGS + 1];
	const struct setting *s;
	int ch, verdict = SETTINGS_RUN;

	if (from_env(cfg, why, len) == SETTINGS_BAD)
		return SETTINGS_BAD;
	option_tables(lo, so);
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (ch == 'h' || ch == 'V') {
			if (ch == 'h')
				settings_usage(stdout);
			else
				printf("serialcgi %s\n", SERIALCGI_VERSION);
			return ch == 'h' ? SETTINGS_HELP : SETTINGS_VERSION;
		}
		if (ch == 'c') {
			verdict = SETTINGS_CHECK;
			continue;
		}
		if ((s = by_key(ch)) == NULL) {
			snprintf(why, len, "unknown option (see --help)");
			return SETTINGS_BAD;
		}
		if (apply(s, optarg, cfg) == -1)
			return refuse(why, len, "--", s->name, optarg,
			    s->kind);
	}
	if (optind != argc) {
		snprintf(why, len, "unexpected argument \"%s\"", argv[optind]);
		return SETTINGS_BAD;
	}
	return verdict;
}

void
settings_usage(FILE *f)
{
	char opt[40];
	const char *h, *nl;
	size_t i;

	fprintf(f, "usage: serialcgi [options]\n"
	    "Serve FastCGI on fd 0, as spawn-fcgi(1) passes it; run one\n"
	    "work() at a time across every responder sharing the lock.\n");
	for (i = 0; i < NSETTINGS; i++) {
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
		if (table[i].env != NULL)
			fprintf(f, "  %-27s environment: %s\n", "",
			    table[i].env);
	}
}
