/* notify.c - sd_notify(3) through dlopen(3): see notify.h for why. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "dl.h"
#include "log.h"
#include "loop.h"
#include "notify.h"

#define LIBSYSTEMD	"libsystemd.so.0"
#define PERIOD		1.0	/* s between STATUS= checks */

static struct {
	__typeof__(sd_notify) *send;	/* NULL: off */
	double		 stop_seconds;	/* the longest stop: one work */
	struct loop_timer tick;		/* the next STATUS= check */
	char		 last[256];	/* the last STATUS= sent */
} nt;

/* The scoreboard in one line, with /status's names, into buf. */
static int
status_line(char *buf, size_t len)
{
	struct board_stats st;
	char holder[32] = "none";

	if (board_stats(&st) == -1)
		return -1;
	if (st.holder_pid >= 0)
		snprintf(holder, sizeof(holder), "pid %ld", st.holder_pid);
	snprintf(buf, len, "STATUS=holder %s, waiters %ld, served %llu, "
	    "skipped %llu, rejected %llu, processes %ld", holder, st.waiters,
	    (unsigned long long)st.served, (unsigned long long)st.skipped,
	    (unsigned long long)st.rejected, st.processes);
	return 0;
}

/* Send one message; a failure turns notification off, said once. */
static void
send_or_stop(const char *msg)
{
	int rc;

	if ((rc = nt.send(0, msg)) < 0) {
		log_warn("sd_notify %s: %s; not notifying systemd any more",
		    getenv("NOTIFY_SOCKET"), strerror(-rc));
		nt.send = NULL;
	}
}

/* Once a second: a STATUS= line, if it changed. */
static void
tick(struct loop_timer *t, double now)
{
	char line[sizeof(nt.last)];

	if (nt.send == NULL)
		return;
	if (status_line(line, sizeof(line)) == 0 &&
	    strcmp(line, nt.last) != 0) {
		memcpy(nt.last, line, sizeof(nt.last));
		send_or_stop(line);
	}
	loop_timer_set(t, now + PERIOD, tick, NULL);
}

void
notify_ready(double stop_seconds)
{
	static const struct dl_sym syms[] = {
		{ "sd_notify", (void **)(void *)&nt.send },
	};
	char msg[sizeof(nt.last) + 16], why[160];

	nt.stop_seconds = stop_seconds;
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	if (dl_load(LIBSYSTEMD, syms, 1, why, sizeof(why)) == NULL) {
		log_warn("NOTIFY_SOCKET is set, but %s; readiness not sent",
		    why);
		nt.send = NULL;
		return;
	}
	if (status_line(nt.last, sizeof(nt.last)) == -1)
		nt.last[0] = '\0';
	snprintf(msg, sizeof(msg), "READY=1\n%s", nt.last);
	send_or_stop(msg);
	loop_timer_set(&nt.tick, clock_now() + PERIOD, tick, NULL);
}

void
notify_stopping(pid_t sender)
{
	char msg[160];

	if (nt.send == NULL || sender != getppid())
		return;
	/* systemd's TimeoutStopSec= knows nothing of WORK_TIMEOUT: say
	 * how long the work in progress may take (sd_notify(3),
	 * EXTEND_TIMEOUT_USEC, systemd 236), so that it is not killed. */
	snprintf(msg, sizeof(msg), "STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu\n"
	    "STATUS=stopping: finishing the work in progress",
	    (unsigned long long)(nt.stop_seconds * 1e6));
	send_or_stop(msg);
	nt.send = NULL;	/* no STATUS= line may undo it */
}
