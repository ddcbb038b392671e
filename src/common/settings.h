/*
 * settings.h - the responder's settings: one table gives the options,
 * the environment variables and --help, with one parser per kind.
 */
#ifndef SERIALCGI_SETTINGS_H
#define SERIALCGI_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#define SERIALCGI_VERSION	"0.4.0"
#define SERIALCGI_LOCK_KEY	0x53434749L	/* "SCGI" */

struct config {
	double		 work_seconds;	/* length of one work(), seconds */
	const char	*lock_path;	/* the shared flock(2) file */
	const char	*worklog_path;	/* opt-in work log, or NULL */
	int		 worklog_fd;	/* -1 when there is no work log */
	double		 io_timeout;	/* seconds to read a whole request */
	const char	*board_path;	/* the shared scoreboard file */
	double		 slow_wait;	/* log longer waits, s; 0 is off */
	const char	*lock_url;	/* the lock engine (libpq URL or
					 * conninfo), or NULL: flock alone */
	long		 lock_key;	/* its advisory lock key */
	const char	*jobs_db;	/* the SQLite job store, or NULL:
					 * no jobs */
	double		 job_retention;	/* s a finished job is kept */
	long		 job_queue;	/* queued jobs, at most */
	const char	*callback_allow;	/* allow.h's list */
	const char	*callback_secret;	/* path, or NULL: none */
};

enum settings_verdict {
	SETTINGS_RUN,		/* serve */
	SETTINGS_CHECK,		/* --check: settings are good, exit 0 */
	SETTINGS_HELP,		/* --help was printed to stdout */
	SETTINGS_VERSION,	/* --version was printed to stdout */
	SETTINGS_BAD = -1	/* why says which setting and why */
};

/*
 * settings_load: fill cfg from the environment, then from the options
 * (getopt_long(3)), which win. A bad value is refused whole, as
 * `WORK_SECONDS: "abc" is not a number of seconds in (0, 3600]` or
 * `--lock-file: "" is not a path`, written to why (at most len bytes).
 * Returns an enum settings_verdict.
 */
int settings_load(int argc, char *argv[], struct config *cfg, char *why,
    size_t len);

/* settings_usage: --help, generated from the table, to f. */
void settings_usage(FILE *f);

#endif
