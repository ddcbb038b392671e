/* status.c - /status?full and the choice of view. */
#include <sys/statvfs.h>
#include <sys/sysinfo.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "board_stats.h"
#include "clock.h"
#include "job_json.h"
#include "jobs.h"
#include "metrics.h"
#include "parse.h"
#include "status.h"
#include "store.h"

static struct {
	char		 run_dir[PATH_MAX];	/* the board file's directory,
						 * or "" */
	double		 work_seconds;	/* estimates before any work */
} sts;

int
status_view(const char *q, size_t len)
{
	int json = 0, full = 0, html = 0;
	size_t at = 0, n;

	while (at < len) {
		for (n = 0; at + n < len && q[at + n] != '&'; n++)
			;
		if (parse_is(q + at, n, "json"))
			json = 1;
		else if (parse_is(q + at, n, "full"))
			full = 1;
		else if (parse_is(q + at, n, "html"))
			html = 1;
		else if (n != 0)
			return STATUS_BAD;
		at += n + 1;
	}
	if (html)
		return json ? STATUS_BAD : STATUS_HTML;
	return full ? STATUS_FULL : STATUS_PLAIN;
}

void
status_init(const char *board_path, double work_seconds)
{
	const char *slash = strrchr(board_path, '/');
	int n;

	sts.work_seconds = work_seconds;
	if (slash == NULL)
		n = snprintf(sts.run_dir, sizeof(sts.run_dir), ".");
	else if (slash == board_path)
		n = snprintf(sts.run_dir, sizeof(sts.run_dir), "/");
	else
		n = snprintf(sts.run_dir, sizeof(sts.run_dir), "%.*s",
		    (int)(slash - board_path), board_path);
	if (n < 0 || (size_t)n >= sizeof(sts.run_dir))
		sts.run_dir[0] = '\0';	/* ?full says null */
}

/* Add item to o under name, or free it; returns 1 if added. */
static int
add(cJSON *o, const char *name, cJSON *item)
{
	if (item != NULL && cJSON_AddItemToObject(o, name, item))
		return 1;
	cJSON_Delete(item);
	return 0;
}

/* The holder from the queue's own snapshot, so that holder and queue
 * agree: who it works for, how long it waited, how long it works. */
static cJSON *
holder(const struct board_waiter *h, double now)
{
	cJSON *o;

	if (h->pid < 0)
		return cJSON_CreateNull();
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "pid", (double)h->pid) &&
	    cJSON_AddStringToObject(o, "id", h->id) &&
	    cJSON_AddNumberToObject(o, "working_seconds",
	    clock_round_us(now - h->since)) &&
	    (h->arrived == 0 || cJSON_AddNumberToObject(o, "waited_seconds",
	    clock_round_us(h->since - h->arrived))))
		return o;
	cJSON_Delete(o);
	return NULL;
}

/* Append item to array a, or free it; returns 1 if appended. */
static int
add_to(cJSON *a, cJSON *item)
{
	if (item != NULL && cJSON_AddItemToArray(a, item))
		return 1;
	cJSON_Delete(item);
	return 0;
}

/* When the k-th waiter (from 0) may start, in seconds from now
 * (board_stats_eta) and as a time (RFC 3339), as a job shows it. */
static int
add_eta(cJSON *o, const struct board_waiter *head, long k, double typical,
    double now)
{
	double s = board_stats_eta(head, k, typical, now);
	char at[40];

	job_json_time(clock_wall() + s, at, sizeof(at));
	return cJSON_AddNumberToObject(o, "eta_seconds", s) != NULL &&
	    cJSON_AddStringToObject(o, "eta", at) != NULL;
}

static cJSON *
queue(const struct board_waiter *w, long n, const struct board_waiter *head,
    double typical, double now)
{
	cJSON *a = cJSON_CreateArray(), *o;
	long i;

	for (i = 0; a != NULL && i < n; i++) {
		if (!add_to(a, (o = cJSON_CreateObject())) ||
		    !cJSON_AddNumberToObject(o, "pid", (double)w[i].pid) ||
		    !cJSON_AddStringToObject(o, "id", w[i].id) ||
		    !cJSON_AddNumberToObject(o, "waited_seconds",
		    clock_round_us(now - w[i].arrived)) ||
		    (typical > 0 && !add_eta(o, head, i, typical, now)) ||
		    (w[i].job && !cJSON_AddTrueToObject(o, "job")) ||
		    (w[i].orphan && !cJSON_AddTrueToObject(o, "orphan"))) {
			cJSON_Delete(a);
			a = NULL;
		}
	}
	return a;
}

/* What the queue's eta_seconds count on: the median length of the last
 * works, or WORK_SECONDS before any was measured. */
static cJSON *
estimate(double typical, int measured)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "typical_work_seconds",
	    clock_round_us(typical)) && cJSON_AddStringToObject(o, "basis",
	    measured ? "median of the last 32 works; an estimate" :
	    "WORK_SECONDS, no work measured yet; an estimate"))
		return o;
	cJSON_Delete(o);
	return NULL;
}

/* The wait histogram as /metrics has it: cumulative counts by upper
 * bound, the last "+Inf". */
static cJSON *
histogram(const struct board_stats *st)
{
	cJSON *h = cJSON_CreateObject(), *a = cJSON_CreateArray(), *o;
	int i, ok = h != NULL && a != NULL && cJSON_AddItemToObject(h,
	    "buckets", a);

	if (!ok)
		cJSON_Delete(a);
	for (i = 0; ok && i < BOARD_BUCKETS; i++) {
		ok = add_to(a, (o = cJSON_CreateObject())) &&
		    (i < BOARD_BUCKETS - 1 ? cJSON_AddNumberToObject(o, "le",
		    board_stats_le[i]) != NULL :
		    cJSON_AddStringToObject(o, "le", "+Inf") != NULL) &&
		    cJSON_AddNumberToObject(o, "count",
		    (double)st->buckets[i]) != NULL;
	}
	if (ok && cJSON_AddNumberToObject(h, "count",
	    (double)st->wait_count) && cJSON_AddNumberToObject(h, "sum",
	    clock_round_us(st->wait_sum)))
		return h;
	cJSON_Delete(h);
	return NULL;
}

/* The file system of dir, as the service user sees it: f_bavail
 * excludes the blocks kept for root (statvfs(3)). */
static cJSON *
disk_of(const char *dir)
{
	struct statvfs vfs;
	cJSON *d;

	if (dir[0] == '\0' || statvfs(dir, &vfs) == -1)
		return cJSON_CreateNull();
	if ((d = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(d, "path", dir) &&
	    cJSON_AddNumberToObject(d, "free_bytes", (double)vfs.f_bavail *
	    (double)vfs.f_frsize) && cJSON_AddNumberToObject(d,
	    "total_bytes", (double)vfs.f_blocks * (double)vfs.f_frsize))
		return d;
	cJSON_Delete(d);
	return NULL;
}

static cJSON *
disk(void)
{
	return disk_of(sts.run_dir);
}

double
status_free_bytes(void)
{
	struct statvfs vfs;

	if (sts.run_dir[0] == '\0' || statvfs(sts.run_dir, &vfs) == -1)
		return -1;
	return (double)vfs.f_bavail * (double)vfs.f_frsize;
}

/* The directory of the SQLite store, into buf ("" for none). */
static void
store_dir(char *buf, size_t len)
{
	const char *path = store_path(), *slash;

	buf[0] = '\0';
	if (path == NULL)
		return;
	if ((slash = strrchr(path, '/')) == NULL)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else if ((size_t)(slash - path) < len)
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* The job store as the responders last found it (the scoreboard's),
 * with this responder's word for a failure, and its disk. */
static cJSON *
job_store(const struct board_stats *st)
{
	cJSON *o = cJSON_CreateObject();
	char dir[PATH_MAX];

	store_dir(dir, sizeof(dir));
	if (o != NULL && cJSON_AddStringToObject(o, "backend",
	    store_backend()) && cJSON_AddStringToObject(o, "state",
	    store_state_name(st->store_state)) &&
	    cJSON_AddNumberToObject(o, "failures",
	    (double)st->store_failures) &&
	    (st->store_state == STORE_OK ? cJSON_AddNullToObject(o, "error") :
	    cJSON_AddStringToObject(o, "error", store_error())) &&
	    add(o, "disk", dir[0] ? disk_of(dir) : cJSON_CreateNull()))
		return o;
	cJSON_Delete(o);
	return NULL;
}


/* The host: load average over 1, 5 and 15 minutes, null if unknown,
 * and the run directory's disk. sysinfo(2), not getloadavg(3), which
 * reads /proc/loadavg: the systemd unit hides it (ProcSubset=pid). */
static cJSON *
host(void)
{
	cJSON *o = cJSON_CreateObject();
	struct sysinfo si;
	double load[3];
	int i, known = sysinfo(&si) == 0;

	/* Fixed point, 1 << SI_LOAD_SHIFT for 1.0; to 0.01, rounded, as
	 * /proc/loadavg and uptime(1) print it. */
	for (i = 0; known && i < 3; i++)
		load[i] = (double)(long long)((double)si.loads[i] /
		    (1 << SI_LOAD_SHIFT) * 100 + 0.5) / 100;
	if (o != NULL && add(o, "load_average", known ?
	    cJSON_CreateDoubleArray(load, 3) : cJSON_CreateNull()) &&
	    add(o, "disk", disk()))
		return o;
	cJSON_Delete(o);
	return NULL;
}

char *
status_full(const struct board_stats *st, const char *engine, double now)
{
	struct board_waiter head, *w;
	cJSON *o = NULL, *h;
	char *text = NULL;
	size_t max = STATUS_QUEUE_MAX;
	double typical = st->typical > 0 ? st->typical : sts.work_seconds;
	long n;

	/* Room for the waiters just counted and a few more that may come
	 * before the queue's snapshot: an idle responder's heap stays
	 * small. */
	if (st->waiters + 8 < STATUS_QUEUE_MAX)
		max = (size_t)st->waiters + 8;
	if ((w = calloc(max, sizeof(*w))) == NULL)
		return NULL;
	if ((n = board_stats_queue(&head, w, max)) == -1)
		goto out;
	if ((o = metrics_status_json(st, engine, now)) == NULL)
		goto out;
	if ((h = holder(&head, now)) == NULL ||
	    !cJSON_ReplaceItemInObjectCaseSensitive(o, "holder", h)) {
		cJSON_Delete(h);
		goto out;
	}
	if (add(o, "queue", queue(w, n, &head, typical, now)) &&
	    add(o, "estimate", estimate(typical, st->typical > 0)) &&
	    add(o, "wait_seconds", histogram(st)) &&
	    add(o, "host", host()) &&
	    (!jobs.on || add(o, "jobs", job_store(st))))
		text = cJSON_PrintUnformatted(o);
	if (text == NULL)
		errno = ENOMEM;
out:
	cJSON_Delete(o);
	free(w);
	return text;
}
