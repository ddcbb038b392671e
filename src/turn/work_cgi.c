/* work_cgi.c - the work as a CGI program: see work_cgi.h. */
#define _GNU_SOURCE	/* pipe2, POLLRDHUP, POSIX_SPAWN_SETSID */

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi.h"
#include "clock.h"
#include "log.h"
#include "proctree.h"
#include "work_cgi.h"

#define LINE_MAX_LOG	400	/* bytes of a stderr line logged */
#define LINGER_POLL	10	/* ms between looks at descendants left
				 * after the program exited */
#define KILL_AGAIN	0.1	/* s between SIGKILLs to what is left */

static struct {
	const char	*command;
	char		*dir;		/* the command's directory */
	double		 timeout;	/* s */
	size_t		 output_max;	/* bytes */
	int		 devnull;	/* stdin of a request without body */
} cg = { NULL, NULL, 60, 1 << 20, -1 };

/* One program's run. */
struct run {
	struct work	*w;
	pid_t		 pid;
	int		 pidfd;		/* -1 once it is reaped */
	int		 out, err;	/* pipes' read ends, -1 at EOF */
	int		 prog;		/* fd 3's, for a job, or -1 */
	char		 pline[160];	/* a progress line, so far */
	size_t		 pline_len;
	int		 status, done;	/* the program's wait status */
	size_t		 cap;		/* of w->answer */
	int		 over;		/* more than output_max came */
	char		 line[LINE_MAX_LOG + 1];	/* stderr, so far */
	size_t		 line_len;
	double		 deadline;	/* WORK_TIMEOUT, mono s */
	double		 kill_at;	/* SIGKILL due, mono s; 0: none */
	enum work_end	 stop;		/* why it was stopped, or DONE */
};

int
work_cgi_check(const char *path, char *why, size_t len)
{
	struct stat st;

	if (path[0] != '/') {
		snprintf(why, len, "%s: not an absolute path", path);
		return -1;
	}
	if (stat(path, &st) == -1) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		snprintf(why, len, "%s: not a regular file", path);
	else if (access(path, X_OK) == -1)
		snprintf(why, len, "%s: not executable by this user", path);
	else if (st.st_mode & S_IWOTH)
		snprintf(why, len, "%s: writable by others", path);
	else if (access(path, W_OK) == 0 && geteuid() != 0)
		snprintf(why, len, "%s: writable by the service's user",
		    path);
	else
		return 0;
	return -1;
}

int
work_cgi_init(const char *command, double timeout, size_t output_max)
{
	size_t n;

	cg.command = command;
	cg.timeout = timeout;
	cg.output_max = output_max;
	/* Its directory; the path is absolute (work_cgi_check): "/" for
	 * "/prog". */
	n = (size_t)(strrchr(command, '/') - command);
	if ((cg.dir = strndup(command, n > 0 ? n : 1)) == NULL)
		return -1;
	if ((cg.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	return proctree_init();
}

/* posix_spawn(3) the program: its own session and group (so that a
 * signal to the group reaches what it did not move out of it), no
 * signal blocked or ignored (the runner blocks them all), stdin the
 * body, stdout and stderr our pipes, a job's progress pipe on 3, the
 * lock's description on WORK_HOLD_FD (work.h: if this responder dies,
 * the lock waits for the program and all it started), and no other
 * descriptor: not one the responder inherited without close-on-exec
 * from whoever started it (glibc 2.34). Its working directory is its
 * own (RFC 3875 7.2), not wherever the service happened to be started.
 * Returns 0, or an errno. */
static int
spawn(struct run *r, int out, int err, int prog)
{
	char *argv[] = { (char *)cg.command, NULL };
	int in = r->w->stdin_fd >= 0 ? r->w->stdin_fd : cg.devnull, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;

	if (r->w->stdin_fd >= 0)
		(void)lseek(in, 0, SEEK_SET);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	/* In this order: hold_fd is LOCK_FD_LOW or above (lock.h), so
	 * no copy overwrites a source still to be copied. */
	if (prog != -1)
		posix_spawn_file_actions_adddup2(&fa, prog, 3);
	if (r->w->hold_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, r->w->hold_fd,
		    WORK_HOLD_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, r->w->hold_fd >= 0 ?
	    WORK_HOLD_FD + 1 : prog != -1 ? 4 : 3);
	if (prog == -1 && r->w->hold_fd >= 0)
		posix_spawn_file_actions_addclose(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, cg.dir);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	rc = posix_spawn(&r->pid, cg.command, &fa, &at, argv, r->w->env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Stop the program and all it started: SIGTERM now and SIGKILL after
 * grace seconds (0: SIGKILL now, and again every KILL_AGAIN until
 * nothing is left), for reason why. */
static void
stop(struct run *r, enum work_end why, double grace)
{
	if (r->stop == WORK_DONE)
		r->stop = why;
	if (r->kill_at != 0 && grace > 0)
		return;		/* stopping already */
	(void)proctree_signal(grace > 0 ? SIGTERM : SIGKILL);
	r->kill_at = clock_now() + (grace > 0 ? grace : KILL_AGAIN);
}

/* More of stdout; past output_max, the answer is lost: stop it. */
static void
read_out(struct run *r)
{
	struct work *w = r->w;
	unsigned char *p;
	ssize_t n;

	if (w->answer_len == r->cap) {
		r->cap = r->cap == 0 ? 4096 : 2 * r->cap;
		if (r->cap > cg.output_max + 1)
			r->cap = cg.output_max + 1;
		if ((p = realloc(w->answer, r->cap)) == NULL) {
			r->over = 1;	/* as good as too long */
			stop(r, WORK_BAD, WORK_CGI_GRACE);
			return;
		}
		w->answer = p;
	}
	n = read(r->out, w->answer + w->answer_len, r->cap - w->answer_len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(r->out);
		r->out = -1;
		return;
	}
	w->answer_len += (size_t)n;
	if (w->answer_len > cg.output_max && !r->over) {
		r->over = 1;
		stop(r, WORK_BAD, WORK_CGI_GRACE);
	}
	if (r->over)
		w->answer_len = cg.output_max;	/* drained, kept no more */
}

/* Log the stderr line held, if any. */
static void
flush_line(struct run *r)
{
	if (r->line_len > 0)
		log_msg("req=%s stderr: %.*s", r->w->id, (int)r->line_len,
		    r->line);
	r->line_len = 0;
}

/* More of stderr: one log line per line the program wrote. */
static void
read_err(struct run *r)
{
	char buf[4096];
	ssize_t n, i;

	n = read(r->err, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		flush_line(r);
		close(r->err);
		r->err = -1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || r->line_len == LINE_MAX_LOG)
			flush_line(r);
		if (buf[i] != '\n')
			r->line[r->line_len++] = buf[i] == '\t' ? ' ' :
			    buf[i] < ' ' ? '?' : buf[i];
	}
}

/* One progress line: "<fraction 0..1> [note]"; others are ignored. */
static void
progress_line(struct run *r)
{
	double f;
	char *end, *note;

	r->pline[r->pline_len] = '\0';
	r->pline_len = 0;
	f = strtod(r->pline, &end);
	if (end == r->pline || !(f >= 0 && f <= 1) ||
	    (*end != '\0' && *end != ' ' && *end != '\t'))
		return;
	for (note = end; *note == ' ' || *note == '\t'; note++)
		;
	r->w->on_progress(r->w, f, note);
}

/* More of fd 3: each whole line is the job's progress. */
static void
read_prog(struct run *r)
{
	char buf[512];
	ssize_t n, i;

	n = read(r->prog, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(r->prog);
		r->prog = -1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n')
			progress_line(r);
		else if (r->pline_len < sizeof(r->pline) - 1)
			r->pline[r->pline_len++] = buf[i] < ' ' ? ' ' : buf[i];
	}
}

/* The program has exited: reap it (and whatever else has). */
static void
reaped(struct run *r)
{
	close(r->pidfd);
	r->pidfd = -1;
	if (proctree_reap(r->pid, &r->status, &r->done) == -1)
		log_err("req=%s wait: %s", r->w->id, strerror(errno));
}

/* Anything of the work left: the program, a descendant, an open
 * pipe? Descendants exit as they please; they are looked at every
 * LINGER_POLL ms. */
static int
running(struct run *r, int *linger)
{
	int left;

	*linger = 0;
	if (r->pidfd != -1 || r->out != -1 || r->err != -1 || r->prog != -1)
		return 1;
	if ((left = proctree_reap(r->pid, &r->status, &r->done)) == -1)
		return 0;
	*linger = left > 0;
	return left > 0;
}

/* The poll(2) timeout, ms: the next deadline, or LINGER_POLL. */
static int
next_wait(const struct run *r, int linger)
{
	double next = r->kill_at != 0 && r->kill_at > clock_now() ?
	    r->kill_at : r->deadline;
	int ms = clock_ms_until(next);

	return linger && ms > LINGER_POLL ? LINGER_POLL : ms;
}

static void
events(struct run *r, struct pollfd *p)
{
	struct work *w = r->w;

	if (p[1].revents)
		read_out(r);
	if (p[2].revents)
		read_err(r);
	if (p[5].revents)
		read_prog(r);
	if (p[0].revents)
		reaped(r);
	if (p[3].revents && !w->held(w->held_arg))
		stop(r, WORK_LOST, 0);	/* another may hold it now */
	/* A connection's EOF, or a cancel's eventfd. */
	if (p[4].revents)
		stop(r, WORK_ABORTED, WORK_CGI_GRACE);
}

/* Wait for the whole work to be over, stopping it when it must be. */
static void
watch(struct run *r)
{
	struct work *w = r->w;
	struct pollfd p[6];
	int linger, n;

	while (running(r, &linger)) {
		p[0] = (struct pollfd){ .fd = r->pidfd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = r->out, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = r->err, .events = POLLIN };
		p[3] = (struct pollfd){ .fd = r->stop == WORK_LOST ? -1 :
		    w->watch_fd, .events = POLLIN | POLLRDHUP };
		p[4] = (struct pollfd){ .fd = r->stop != WORK_DONE ? -1 :
		    w->abort_fd, .events = POLLIN | POLLRDHUP };
		p[5] = (struct pollfd){ .fd = r->prog, .events = POLLIN };
		n = poll(p, 6, next_wait(r, linger));
		if (n == -1 && errno != EINTR) {
			log_err("req=%s poll: %s", w->id, strerror(errno));
			stop(r, WORK_FAILED, 0);
		}
		if (n > 0)
			events(r, p);
		if (r->kill_at != 0 && clock_now() >= r->kill_at)
			stop(r, r->stop, 0);	/* SIGKILL, again if need be */
		else if (clock_now() >= r->deadline)
			stop(r, WORK_TIMEOUT, WORK_CGI_GRACE);
	}
}

/* How the work ended, and its answer checked. */
static void
judge(struct run *r)
{
	struct work *w = r->w;

	w->exit_status = r->done ? r->status : -1;
	if (r->over)
		snprintf(w->why, sizeof(w->why), "answer over "
		    "WORK_OUTPUT_MAX (%zu bytes)", cg.output_max);
	else if (r->stop == WORK_TIMEOUT)
		snprintf(w->why, sizeof(w->why), "no end within "
		    "WORK_TIMEOUT (%.3f s)", cg.timeout);
	w->end = r->stop;
	if (w->end != WORK_DONE)
		return;
	if (cgi_parse(w->answer != NULL ? w->answer :
	    (const unsigned char *)"", w->answer_len, &w->head_len,
	    &w->status, w->why, sizeof(w->why)) == -1)
		w->end = WORK_BAD;
}

static void
log_end(const struct run *r, double took)
{
	const struct work *w = r->w;
	int st = w->exit_status;

	if (st == -1)
		log_warn("req=%s program: %s after %.3f s, never reaped",
		    w->id, work_end_name(w->end), took);
	else if (WIFSIGNALED(st))
		log_warn("req=%s program killed by signal %d after %.3f s "
		    "(%s)", w->id, WTERMSIG(st), took, work_end_name(w->end));
	else
		log_msg("req=%s program exited %d after %.3f s (%s)", w->id,
		    WEXITSTATUS(st), took, work_end_name(w->end));
	if (w->end == WORK_BAD || w->end == WORK_TIMEOUT)
		log_warn("req=%s program: %s", w->id, w->why);
}

static int
cgi_run(struct work *w)
{
	struct run r = { .w = w, .pidfd = -1, .out = -1, .err = -1,
	    .prog = -1 };
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, prog[2] = { -1, -1 };
	int rc = 0;
	double t0 = clock_now();

	r.deadline = w->start + cg.timeout;
	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1 ||
	    (w->on_progress != NULL && pipe2(prog, O_CLOEXEC) == -1) ||
	    (rc = spawn(&r, out[1], err[1], prog[1])) != 0) {
		rc = rc == 0 ? errno : rc;
		snprintf(w->why, sizeof(w->why), "cannot run %s: %s",
		    cg.command, strerror(rc));
		w->end = WORK_FAILED;
		goto out;
	}
	close(out[1]);
	close(err[1]);
	if (prog[1] != -1)
		close(prog[1]);
	out[1] = err[1] = prog[1] = -1;
	r.out = out[0];
	r.err = err[0];
	r.prog = prog[0];
	out[0] = err[0] = prog[0] = -1;
	/* pidfd_open(2), Linux 5.3: the program's exit as a descriptor. */
	if ((r.pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0)) == -1)
		log_err("req=%s pidfd_open: %s", w->id, strerror(errno));
	watch(&r);
	judge(&r);
	log_end(&r, clock_now() - t0);
out:
	if (out[0] != -1)
		close(out[0]);
	if (out[1] != -1)
		close(out[1]);
	if (err[0] != -1)
		close(err[0]);
	if (err[1] != -1)
		close(err[1]);
	if (prog[0] != -1)
		close(prog[0]);
	if (prog[1] != -1)
		close(prog[1]);
	return 0;
}

const struct work_backend work_cgi = {
	.name = "cgi",
	.run = cgi_run,
};
