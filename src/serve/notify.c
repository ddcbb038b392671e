/* notify.c - sd_notify(3) through dlopen(3): see notify.h for why. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "board.h"
#include "clock.h"
#include "dl.h"
#include "log.h"
#include "notify.h"

#define LIBSYSTEMD	"libsystemd.so.0"
#define PERIOD		1.0	/* s between STATUS= checks */

static __typeof__(sd_notify) *send_state;	/* NULL: off */
static double next_check;			/* mono s */
static char last[256];				/* the last STATUS= sent */

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

	if ((rc = send_state(0, msg)) < 0) {
		logmsg("sd_notify %s: %s; not notifying systemd any more",
		    getenv("NOTIFY_SOCKET"), strerror(-rc));
		send_state = NULL;
	}
}

void
notify_ready(void)
{
	static const struct dl_sym syms[] = {
		{ "sd_notify", (void **)(void *)&send_state },
	};
	char msg[sizeof(last) + 16], why[160];

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	if (dl_load(LIBSYSTEMD, syms, 1, why, sizeof(why)) == NULL) {
		logmsg("NOTIFY_SOCKET is set, but %s; readiness not sent",
		    why);
		send_state = NULL;
		return;
	}
	if (status_line(last, sizeof(last)) == -1)
		last[0] = '\0';
	snprintf(msg, sizeof(msg), "READY=1\n%s", last);
	send_or_stop(msg);
	next_check = mono_now() + PERIOD;
}

int
notify_tick(int timeout_ms)
{
	char line[sizeof(last)];
	double now;
	int ms;

	if (send_state == NULL)
		return timeout_ms;
	if ((now = mono_now()) >= next_check) {
		next_check = now + PERIOD;
		if (status_line(line, sizeof(line)) == 0 &&
		    strcmp(line, last) != 0) {
			memcpy(last, line, sizeof(last));
			send_or_stop(line);
		}
	}
	ms = mono_ms_until(next_check);
	return timeout_ms < 0 || ms < timeout_ms ? ms : timeout_ms;
}

void
notify_stopping(pid_t sender)
{
	if (send_state == NULL || sender != getppid())
		return;
	send_or_stop("STOPPING=1\n"
	    "STATUS=stopping: finishing the work in progress");
	send_state = NULL;	/* no STATUS= line may undo it */
}
