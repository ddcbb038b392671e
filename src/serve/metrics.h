/* metrics.h - /status (JSON) and /metrics (Prometheus text). */
#ifndef SERIALCGI_METRICS_H
#define SERIALCGI_METRICS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "board_stats.h"

/*
 * metrics_status: the scoreboard as a JSON object, built with cJSON;
 * engine is the lock engine's backend name ("postgresql"), or NULL for
 * flock alone, whose answer keeps the shape it had before engines
 * existed (no "lock" object); now is clock_now() in seconds. Returns a
 * string to free with cJSON_free(), or NULL with errno ENOMEM.
 */
char *metrics_status(const struct board_stats *st, const char *engine,
    double now);

/* metrics_status_json: the same object, unprinted, for /status?full
 * to add to (status.h). Returns it, to free with cJSON_Delete(), or
 * NULL with errno ENOMEM. */
cJSON *metrics_status_json(const struct board_stats *st,
    const char *engine, double now);

/*
 * metrics_prometheus: the scoreboard in the Prometheus text exposition
 * format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats);
 * the lock series only with an engine (as metrics_status), the
 * program's (how works ended, how it exited) only with one (program
 * 1: WORK_COMMAND is set); then the state directory's free disk
 * (free_bytes, status_free_bytes; -1 unknown: left out), and,
 * with jobs on, the job store's state and failures. Writes at most len
 * bytes to buf. Returns the length, or -1 with errno EOVERFLOW if buf
 * is too small.
 */
int metrics_prometheus(const struct board_stats *st, const char *engine,
    int program, double free_bytes, char *buf, size_t len);

#endif
