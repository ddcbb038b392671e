/* serialcgi.h - settings and per-thread state shared by the modules. */
#ifndef SERIALCGI_H
#define SERIALCGI_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <fcgiapp.h>

#define SERIALCGI_VERSION	"0.1.0"

struct config {
	double		 work_seconds;	/* length of one work(), seconds */
	long		 threads;	/* responder threads per process */
	const char	*lock_path;	/* the shared flock(2) file */
	const char	*worklog_path;	/* opt-in work log, or NULL */
	int		 worklog_fd;	/* -1 when there is no work log */
	double		 io_timeout;	/* seconds to read or write, per call */
	const char	*board_path;	/* the shared scoreboard file */
	double		 slow_wait;	/* log longer waits, s; 0 is off */
};

/* What a responder thread is doing; main() reads it to wake threads. */
enum slot_state {
	SLOT_IDLE,	/* blocked in accept(2) */
	SLOT_READING,	/* reading the FastCGI request */
	SLOT_WAITING,	/* a waiter, blocked in flock(2) */
	SLOT_WORKING,	/* the lock holder, inside work() */
	SLOT_WRITING	/* writing the response */
};

struct slot {
	pthread_t	 tid;
	int		 lock_fd;	/* this thread's own description */
	atomic_int	 conn_fd;	/* FastCGI connection, -1 if none */
	atomic_int	 state;		/* enum slot_state */
	atomic_uint	 seq;		/* bumped for every request */
	atomic_uint	 cancel;	/* cancel_key() of the request to send
					 * away: client gone or stopping */
	FCGX_Request	 req;
};

/* The value of slot.cancel that sends away request `seq` of a slot:
 * a late cancel meant for an earlier request never matches. */
#define cancel_key(seq)	((unsigned)(seq) << 1 | 1u)

/* Set once by main() when a stop signal arrives; read by all threads. */
extern atomic_int stopping;

/* All responder threads of this process, indexed as the watcher sees
 * them. */
extern struct slot *slots;

#endif
