/*
 * settings.h - every setting of serialcgi, written once: its variable,
 * option, default, range and help. The responder reads them from the
 * environment and its options; --help is generated from the table, and
 * --settings prints it for spawn/stack, spawn/responders and the
 * documents to take their defaults and checks from (a test holds the
 * man page and the README to it).
 */
#ifndef SERIALCGI_SETTINGS_H
#define SERIALCGI_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include "version.h"

struct config {
	/* The responder's. */
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
	long		 job_results_max;	/* bytes kept by jobs of real
						 * work, in all */
	const char	*callback_allow;	/* allow.h's list */
	const char	*callback_secret;	/* path, or NULL: none */
	const char	*work_command;	/* a CGI program as the work, or
					 * NULL: the sleep alone */
	double		 work_timeout;	/* s one program may take */
	long		 work_output_max;	/* bytes of its answer kept */
	const char	*work_on_abort;	/* "finish" or "stop" */
	const char	*work_url;	/* an HTTP upstream as the work, or
					 * NULL */
	const char	*work_ca_file;	/* its private CA, or NULL */
	/* The stack's (spawn/stack, nginx), checked here too, so that
	 * every setting is judged in one place. */
	long		 queue;		/* requests nginx admits to /test */
	long		 processes;	/* responders multiwatch keeps */
	long		 port;		/* nginx's port on 127.0.0.1 */
	long		 engine_port;	/* make cluster's PostgreSQL */
};

enum settings_verdict {
	SETTINGS_RUN,		/* serve */
	SETTINGS_CHECK,		/* --check: settings are good, exit 0 */
	SETTINGS_DONE,		/* --help, --version or --settings was
				 * printed to stdout: exit 0 */
	SETTINGS_BAD = -1	/* why says which setting and why */
};

/*
 * settings_load: fill cfg with the defaults, then from the environment,
 * then from the options (getopt_long(3)), which win. A bad value is
 * refused whole, as `WORK_SECONDS: "abc" is not a number of seconds in
 * (0, 3600]` or `--lock-file: "" is not a path`; an option without its
 * argument as `option --lock-file requires an argument`; written to
 * why (at most len bytes). Returns an enum settings_verdict.
 */
int settings_load(int argc, char *argv[], struct config *cfg, char *why,
    size_t len);

/* settings_usage: --help, generated from the table, to f. */
void settings_usage(FILE *f);

/*
 * settings_list: --settings: one line per setting, fields separated by
 * a tab: variable, option ("--name" or "-"), default ("" for none or
 * off), range, help on one line; for scripts and documents to read.
 */
void settings_list(FILE *f);

#endif
