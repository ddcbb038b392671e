/*
 * work.h - the work itself, behind one small interface, as the lock's
 * backends are (lock.h): a sleep of a set length (work_sleep.h, the
 * default and GET /test's), or a CGI program (work_cgi.h). The runner
 * calls it with the lock held; whatever the backend, nothing of one
 * work is left running when it returns.
 */
#ifndef SERIALCGI_WORK_H
#define SERIALCGI_WORK_H

#include <stddef.h>
#include <stdint.h>

/* How a work ended. */
enum work_end {
	WORK_DONE,	/* ran to its end: a program's answer is in
			 * answer, a valid CGI response */
	WORK_LOST,	/* the lock was lost: stopped at once */
	WORK_TIMEOUT,	/* over WORK_TIMEOUT: stopped */
	WORK_BAD,	/* the program's answer is no CGI response, or
			 * too long: why says which */
	WORK_ABORTED,	/* its requester left, and WORK_ON_ABORT=stop */
	WORK_FAILED	/* could not start: why says why */
};

/* A program's descriptor of the lock (SERIALCGI_LOCK_FD): while any
 * process of its work keeps it open, the lock is held, even after the
 * death of the responder that started it. Fd 3 is a job's progress. */
#define WORK_HOLD_FD	4

struct work;

struct work_backend {
	const char	*name;
	/* Run w; set w->end (and the rest of w's results). Returns 0, or
	 * -1 with errno set if the clock or the system failed. */
	int		(*run)(struct work *w);
};

struct work {
	const struct work_backend *be;
	/* Given by the runner. */
	double		 start;		/* mono s the lock was taken */
	int		 watch_fd;	/* readable when the lock may be
					 * lost (lock_watch_fd), or -1 */
	int		(*held)(void *arg);	/* is it still ours? */
	void		*held_arg;
	int		 hold_fd;	/* the lock's description, for a
					 * program to hold (lock_hold_fd), as
					 * WORK_HOLD_FD; or -1 */
	const char	*id;		/* request or job id, for logs */
	/* Given by the source, for a program. */
	char		**env;		/* NULL-ended, an allow-list */
	int		 stdin_fd;	/* the request's body, or -1 */
	int		 abort_fd;	/* readable when the work must stop:
					 * its requester left (a connection
					 * at EOF, WORK_ON_ABORT=stop), its
					 * job was canceled (an eventfd); or
					 * -1 */
	/* Or NULL: a job's, told each line a program writes on fd 3,
	 * "<fraction 0..1> [note]" (SERIALCGI_PROGRESS_FD). */
	void		(*on_progress)(struct work *w, double fraction,
			    const char *note);
	void		*progress_arg;
	/* Results. */
	enum work_end	 end;
	unsigned char	*answer;	/* a program's whole stdout */
	size_t		 answer_len;
	size_t		 head_len;	/* of its header block, through the
					 * blank line */
	int		 status;	/* its Status:, or 200 */
	int		 exit_status;	/* waitpid(2)'s, or -1 */
	char		 why[160];	/* one line: WORK_BAD, WORK_FAILED */
};

/* work_run: run w with its backend. Returns as its run(). */
int work_run(struct work *w);

/* work_end_name: "done", "lost", "timeout", "bad answer", "aborted",
 * "failed", for logs and /metrics. */
const char *work_end_name(enum work_end end);

/* work_stdin_fd: len bytes at p in a memfd(2) (close-on-exec), for a
 * program's stdin: every body the same way, as a file it may read or
 * seek. Returns the descriptor, or -1 with errno set. */
int work_stdin_fd(const void *p, size_t len);

/* work_clear: free w's results (the answer); w can run again. */
void work_clear(struct work *w);

#endif
