/*
 * tests/bench-work.c - the program of tests/bench-work: a CGI program
 * whose work is a sleep of QUERY_STRING's us= microseconds (default
 * 10000). It times itself, so that a runner's cost can be told from its
 * own: its first act is to read CLOCK_MONOTONIC, its last but one too,
 * and its last to append "<start> <end> <request id>" (seconds) to
 * ../state/runs beside its own directory. The id is X-Request-Id's
 * (HTTP_X_REQUEST_ID), which serialcgi and fcgiwrap both pass on.
 *
 * bench-work --floor N runs itself N times, one after the other, with
 * posix_spawn(3) and waitpid(2) and nothing else: the gap between two
 * runs then is the floor any runner pays (exit, reap, spawn, exec).
 *
 * bench-work --arrived appends "<now> <request id>" to ../state/arrivals
 * and exits: where a script queues for flock(1), the order it got there.
 *
 * Built by tests/bench-work, statically, so that no dynamic loading
 * counts as anyone's cost: cc -O2 -static -o bench-work bench-work.c
 */
#define _GNU_SOURCE

#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A log, ../state/NAME from the program's directory. */
static void
log_path(const char *argv0, const char *name, char *path, size_t len)
{
	const char *slash = strrchr(argv0, '/');
	int n = slash != NULL ? (int)(slash - argv0) : 1;

	snprintf(path, len, "%.*s/../state/%s", n,
	    slash != NULL ? argv0 : ".", name);
}

/* "<start> <end> <id>" to the log NAME; no end: "<start> <id>". */
static void
append(const char *argv0, const char *name, double start, double end,
    const char *id)
{
	char path[PATH_MAX], line[160];
	int fd, n;

	log_path(argv0, name, path, sizeof(path));
	if (end > 0)
		n = snprintf(line, sizeof(line), "%.9f %.9f %.64s\n", start,
		    end, id);
	else
		n = snprintf(line, sizeof(line), "%.9f %.64s\n", start, id);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1 || write(fd, line, (size_t)n) != n)
		perror(path);
	if (fd != -1)
		close(fd);
}

static int
floor_runs(const char *self, long n)
{
	char *argv[] = { (char *)self, NULL };
	char id[48], qs[] = "QUERY_STRING=us=0", *env[3] = { qs, id, NULL };
	pid_t pid;
	long i;
	int st;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "HTTP_X_REQUEST_ID=f%ld", i);
		if (posix_spawn(&pid, self, NULL, NULL, argv, env) != 0 ||
		    waitpid(pid, &st, 0) != pid)
			return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	double start = now(), end;
	const char *qs = getenv("QUERY_STRING"), *id, *us;
	struct timespec work;
	long v = 10000;

	id = getenv("HTTP_X_REQUEST_ID");
	if (id == NULL)
		id = "-";
	if (argc == 3 && strcmp(argv[1], "--floor") == 0)
		return floor_runs(argv[0], strtol(argv[2], NULL, 10));
	if (argc == 2 && strcmp(argv[1], "--arrived") == 0) {
		append(argv[0], "arrivals", start, 0, id);
		return 0;
	}
	if (qs != NULL && (us = strstr(qs, "us=")) != NULL)
		v = strtol(us + 3, NULL, 10);
	work.tv_sec = v / 1000000;
	work.tv_nsec = v % 1000000 * 1000;
	nanosleep(&work, NULL);
	printf("Content-Type: text/plain\n\n%s\n", id);
	fflush(stdout);
	end = now();
	append(argv[0], "runs", start, end, id);
	return 0;
}
