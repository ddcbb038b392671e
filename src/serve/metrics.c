/* metrics.c - /status (JSON) and /metrics (Prometheus text). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "board_stats.h"
#include "clock.h"
#include "jobs.h"
#include "metrics.h"
#include "store.h"
#include "textbuf.h"

static cJSON *
holder(const struct board_stats *st, double now)
{
	cJSON *h;

	if (st->holder_pid < 0)
		return cJSON_CreateNull();
	if ((h = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(h, "pid", (double)st->holder_pid) ==
	    NULL || cJSON_AddNumberToObject(h, "working_seconds",
	    clock_round_us(now - st->holder_since)) == NULL) {
		cJSON_Delete(h);
		return NULL;
	}
	return h;
}

/* The lock engine: the backend, whether it answers, the last fencing
 * token and the failure counts. */
static cJSON *
lock_state(const struct board_stats *st, const char *backend)
{
	static const char *const engine[] = { "unknown", "unreachable",
	    "reachable" };
	cJSON *l = cJSON_CreateObject();

	if (l != NULL && cJSON_AddStringToObject(l, "backend", backend) &&
	    cJSON_AddStringToObject(l, "engine", engine[st->engine + 1]) &&
	    cJSON_AddNumberToObject(l, "fence_token", (double)st->fence) &&
	    cJSON_AddNumberToObject(l, "lock_lost", (double)st->lock_lost) &&
	    cJSON_AddNumberToObject(l, "engine_errors",
	    (double)st->engine_errors))
		return l;
	cJSON_Delete(l);
	return NULL;
}

cJSON *
metrics_status_json(const struct board_stats *st, const char *engine,
    double now)
{
	cJSON *o = cJSON_CreateObject(), *h = holder(st, now), *l = NULL;

	if (engine != NULL && (l = lock_state(st, engine)) == NULL)
		goto fail;
	if (o == NULL || h == NULL)
		goto fail;
	cJSON_AddItemToObject(o, "holder", h);
	if (l != NULL)
		cJSON_AddItemToObject(o, "lock", l);
	h = l = NULL;
	if (cJSON_AddNumberToObject(o, "waiters", (double)st->waiters) &&
	    cJSON_AddNumberToObject(o, "served", (double)st->served) &&
	    cJSON_AddNumberToObject(o, "skipped", (double)st->skipped) &&
	    cJSON_AddNumberToObject(o, "rejected", (double)st->rejected) &&
	    cJSON_AddNumberToObject(o, "processes", (double)st->processes))
		return o;
fail:
	cJSON_Delete(l);
	cJSON_Delete(h);
	cJSON_Delete(o);
	errno = ENOMEM;
	return NULL;
}

char *
metrics_status(const struct board_stats *st, const char *engine,
    double now)
{
	cJSON *o = metrics_status_json(st, engine, now);
	char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (text == NULL)
		errno = ENOMEM;
	return text;
}

static void
metric(struct textbuf *o, const char *name, const char *type, const char *help,
    double value)
{
	textbuf_put(o, "# HELP serialcgi_%s %s\n# TYPE serialcgi_%s %s\n"
	    "serialcgi_%s %.17g\n", name, help, name, type, name, value);
}

/* The lock engine's series. */
static void
engine_metrics(struct textbuf *o, const struct board_stats *st,
    const char *engine)
{
	textbuf_put(o, "# HELP serialcgi_lock_backend_info The lock backend.\n"
	    "# TYPE serialcgi_lock_backend_info gauge\n"
	    "serialcgi_lock_backend_info{backend=\"%s\"} 1\n", engine);
	metric(o, "engine_up", "gauge", "1 if the lock engine answered "
	    "last time, 0 if not, -1 before the first try.",
	    (double)st->engine);
	metric(o, "fence_token", "gauge", "The highest fencing token "
	    "granted to this host.", (double)st->fence);
	metric(o, "lock_lost_total", "counter", "Works whose engine lock "
	    "was lost: answered 503, never 200.", (double)st->lock_lost);
	metric(o, "engine_errors_total", "counter", "Times the lock "
	    "engine could not be reached or refused.",
	    (double)st->engine_errors);
}

/* A program's series (WORK_COMMAND): how its works ended (work.h's
 * enum work_end, in its order) and how it exited. */
static void
program_metrics(struct textbuf *o, const struct board_stats *st)
{
	static const char *const ends[BOARD_WORK_ENDS] = { "done", "lost",
	    "timeout", "bad_answer", "aborted", "failed" };
	static const char *const exits[3] = { "zero", "nonzero", "signal" };
	int i;

	textbuf_put(o, "# HELP serialcgi_work_ends_total Works of /work (a "
	    "program's or an upstream's call), by how they ended.\n"
	    "# TYPE serialcgi_work_ends_total counter\n");
	for (i = 0; i < BOARD_WORK_ENDS; i++)
		textbuf_put(o, "serialcgi_work_ends_total{end=\"%s\"} %llu\n",
		    ends[i], (unsigned long long)st->work_ends[i]);
	textbuf_put(o, "# HELP serialcgi_program_exits_total Programs, by "
	    "how they exited.\n# TYPE serialcgi_program_exits_total "
	    "counter\n");
	for (i = 0; i < 3; i++)
		textbuf_put(o, "serialcgi_program_exits_total{exit=\"%s\"} "
		    "%llu\n", exits[i], (unsigned long long)st->exits[i]);
	metric(o, "work_typical_seconds", "gauge", "The median length of "
	    "the last 32 works: what estimates count on.", st->typical);
}

/* The job store's series: its state as a set of 0/1 samples, one per
 * state (OpenMetrics' StateSet, as a gauge), and its failures. */
static void
store_metrics(struct textbuf *o, const struct board_stats *st)
{
	int i;

	textbuf_put(o, "# HELP serialcgi_job_store_state The job store as "
	    "the responders last found it: 1 for its state.\n"
	    "# TYPE serialcgi_job_store_state gauge\n");
	for (i = STORE_OK; i <= STORE_FAILING; i++)
		textbuf_put(o, "serialcgi_job_store_state{state=\"%s\"} %d\n",
		    store_state_name(i), st->store_state == i);
	metric(o, "job_store_failures_total", "counter", "Calls to the "
	    "job store that failed.", (double)st->store_failures);
}

int
metrics_prometheus(const struct board_stats *st, const char *engine,
    int program, double free_bytes, char *buf, size_t len)
{
	struct textbuf o = { buf, len, 0, 0 };
	int i;

	if (engine != NULL)
		engine_metrics(&o, st, engine);
	if (program)
		program_metrics(&o, st);
	metric(&o, "waiters", "gauge",
	    "Requests waiting for the lock now.", (double)st->waiters);
	metric(&o, "holder", "gauge",
	    "1 while a work() runs, else 0.", st->holder_pid >= 0);
	metric(&o, "holder_pid", "gauge",
	    "Pid of the lock holder, 0 when there is none.",
	    st->holder_pid >= 0 ? (double)st->holder_pid : 0);
	metric(&o, "processes", "gauge",
	    "Responder processes alive.", (double)st->processes);
	metric(&o, "served_total", "counter",
	    "Works run and answered.", (double)st->served);
	metric(&o, "skipped_total", "counter",
	    "Requests whose client left before their turn.",
	    (double)st->skipped);
	metric(&o, "rejected_total", "counter",
	    "Requests refused by admission with 503.", (double)st->rejected);
	textbuf_put(&o, "# HELP serialcgi_wait_seconds Time from arrival to "
	    "the start of work.\n# TYPE serialcgi_wait_seconds histogram\n");
	for (i = 0; i < BOARD_BUCKETS - 1; i++)
		textbuf_put(&o,
		    "serialcgi_wait_seconds_bucket{le=\"%g\"} %llu\n",
		    board_stats_le[i], (unsigned long long)st->buckets[i]);
	textbuf_put(&o, "serialcgi_wait_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "serialcgi_wait_seconds_sum %.9f\n"
	    "serialcgi_wait_seconds_count %llu\n",
	    (unsigned long long)st->buckets[BOARD_BUCKETS - 1], st->wait_sum,
	    (unsigned long long)st->wait_count);
	/* After the eight series of before, which stay as they were: the
	 * disk the state lives on, and the job store. */
	if (free_bytes >= 0)
		metric(&o, "disk_free_bytes", "gauge", "Bytes the service "
		    "user may still write on the state directory's file "
		    "system (statvfs f_bavail).", free_bytes);
	if (jobs.on)
		store_metrics(&o, st);
	if (o.full) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.used;
}
