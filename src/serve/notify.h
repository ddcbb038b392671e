/*
 * notify.h - readiness and status for systemd (sd_notify(3)): READY=1
 * once this responder serves, a STATUS= line with the scoreboard's
 * holder, waiters and served, STOPPING=1 when the supervisor stops it.
 *
 * The service runs multiwatch as its main process, so the unit says
 * NotifyAccess=all and every responder speaks for the service. Without
 * NOTIFY_SOCKET in the environment (spawn/stack, spawn/responders)
 * every call here returns at once and nothing is loaded: libsystemd,
 * with the libgcrypt, lz4, lzma and zstd it links, is dlopen(3)ed only
 * when systemd is listening, as pq.h does for libpq.
 */
#ifndef SERIALCGI_NOTIFY_H
#define SERIALCGI_NOTIFY_H

#include <sys/types.h>

/*
 * notify_ready: if NOTIFY_SOCKET is set, load libsystemd.so.0 and send
 * READY=1 with the first STATUS= line; from then on, a timer of the
 * event loop (loop.h) sends a STATUS= line once a second if it differs
 * from the last this process sent. Call once, from the loop's thread,
 * when the responder serves. Failures are logged once and turn
 * notification off; the responder serves anyway (systemd then fails
 * the start at TimeoutStartSec=, with our log line before it).
 */
void notify_ready(double stop_seconds);

/*
 * notify_stopping: a stop signal came from `sender` (signalfd(2)'s
 * ssi_pid). If that is our supervisor (the parent, multiwatch), the
 * whole service is stopping: send STOPPING=1, and EXTEND_TIMEOUT_USEC
 * for the stop_seconds notify_ready was given (one work at most, and a
 * margin), and stop the STATUS= lines. A signal from anyone else stops
 * this responder alone (the supervisor respawns it), so the service is
 * not stopping and systemd must not be told it is: STOPPING=1 would
 * start its stop timeout.
 */
void notify_stopping(pid_t sender);

#endif
