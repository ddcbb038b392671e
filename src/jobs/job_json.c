/* job_json.c - a job as the API and its callbacks show it. */
#define _POSIX_C_SOURCE 200809L

#include <sys/wait.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "board_stats.h"
#include "clock.h"
#include "job_json.h"
#include "jobs.h"

void
job_json_time(double wall, char *buf, size_t len)
{
	time_t s = (time_t)wall;
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ",
	    (int)((wall - (double)s) * 1000) % 1000);
}

static int
add_time(cJSON *o, const char *name, double wall)
{
	char buf[40];

	if (wall == 0)
		return cJSON_AddNullToObject(o, name) != NULL;
	job_json_time(wall, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, name, buf) != NULL;
}

static cJSON *
result_json(const struct job *j)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL || !cJSON_AddNumberToObject(r, "elapsed", j->elapsed) ||
	    !cJSON_AddNumberToObject(r, "wait", j->wait) ||
	    !cJSON_AddNumberToObject(r, "work", j->work) ||
	    (j->fence != 0 && !cJSON_AddNumberToObject(r, "fence_token",
	    (double)j->fence))) {
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

static cJSON *
error_json(const struct job *j)
{
	cJSON *e = cJSON_CreateObject();

	if (e == NULL || !cJSON_AddStringToObject(e, "code", j->error_code) ||
	    !cJSON_AddStringToObject(e, "message", j->error_message)) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

/* The callback's delivery state. */
static cJSON *
callback_json(const struct job *j)
{
	cJSON *c = cJSON_CreateObject();
	const char *state = j->cb_state[0] ? j->cb_state : "waiting";

	if (c == NULL || !cJSON_AddStringToObject(c, "url", j->cb_url) ||
	    !cJSON_AddStringToObject(c, "state", state) ||
	    !cJSON_AddNumberToObject(c, "attempts", j->cb_attempts) ||
	    !(j->cb_last_status ? cJSON_AddNumberToObject(c, "last_status",
	    j->cb_last_status) : cJSON_AddNullToObject(c, "last_status")) ||
	    !(j->cb_last_error[0] ? cJSON_AddStringToObject(c, "last_error",
	    j->cb_last_error) : cJSON_AddNullToObject(c, "last_error")) ||
	    !add_time(c, "next_attempt_at", strcmp(state, "pending") == 0 ?
	    j->cb_next_at : 0)) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

/* Where a queued job stands: turns before it, if this host's board
 * knows its ticket; 0 once its turn has come (the store says queued
 * until its start is stored); -1 if not known here. */
static long
position(const struct job *j)
{
	if (j->status != JOB_QUEUED || strcmp(j->node, jobs.node) != 0)
		return -1;
	return board_position(j->ticket, j->gen);
}

/* When a queued job may start, pos turns before it: as /status?full
 * has it (board_stats_eta), from the median of the last works; an
 * estimate, said so. */
static int
add_eta(cJSON *o, long pos)
{
	struct board_waiter holder;
	double typical = board_stats_typical(), s;
	char at[40];

	if (typical == 0)
		typical = jobs.work_seconds;
	if (board_stats_queue(&holder, NULL, 0) < 0)
		holder.pid = -1;
	/* Position 0: its turn has come, its start not stored yet. */
	s = pos == 0 ? 0 : board_stats_eta(&holder, pos - (holder.pid >= 0),
	    typical, clock_now());
	job_json_time(clock_wall() + s, at, sizeof(at));
	return cJSON_AddStringToObject(o, "eta", at) != NULL &&
	    cJSON_AddStringToObject(o, "eta_basis", board_stats_typical() > 0 ?
	    "median of the last 32 works; an estimate" :
	    "WORK_SECONDS, no work measured yet; an estimate") != NULL;
}

/* How far a running job is: the sleep's, from its clock; a program's,
 * its last line on fd 3, or null for none (never a guess). */
static int
add_progress(cJSON *o, const struct job *j, double now)
{
	double p = (now - j->started) / jobs.work_seconds;

	if (j->kind == JOB_WORK)
		return (j->progress >= 0 ? cJSON_AddNumberToObject(o,
		    "progress", j->progress) : cJSON_AddNullToObject(o,
		    "progress")) != NULL && (j->progress_note[0] == '\0' ||
		    cJSON_AddStringToObject(o, "progress_note",
		    j->progress_note) != NULL) && (!j->cancel_asked ||
		    cJSON_AddTrueToObject(o, "cancel_requested") != NULL);
	p = p < 0 ? 0 : p > 0.99 ? 0.99 : p;
	return cJSON_AddNumberToObject(o, "progress",
	    (double)(long)(p * 1000) / 1000) != NULL;
}

/* A final job of real work: its program's exit, and its answer kept
 * (GET /jobs/{id}/result), never the answer itself. */
static int
add_answer(cJSON *o, const struct job *j)
{
	cJSON *a;
	char url[64];

	/* As wait(2) said: an exit's status, or the signal that ended it
	 * (a cancel's SIGTERM, a timeout's SIGKILL). */
	if (!(j->exit_status >= 0 && WIFEXITED(j->exit_status) ?
	    cJSON_AddNumberToObject(o, "exit_status",
	    WEXITSTATUS(j->exit_status)) : cJSON_AddNullToObject(o,
	    "exit_status")) || (j->exit_status >= 0 &&
	    WIFSIGNALED(j->exit_status) && !cJSON_AddNumberToObject(o,
	    "exit_signal", WTERMSIG(j->exit_status))))
		return 0;
	if (j->result_size == 0)
		return 1;
	snprintf(url, sizeof(url), "/jobs/%s/result", j->id);
	if ((a = cJSON_AddObjectToObject(o, "answer")) == NULL)
		return 0;
	return (j->result_status ? cJSON_AddNumberToObject(a, "status",
	    j->result_status) : cJSON_AddNullToObject(a, "status")) &&
	    (j->result_type[0] ? cJSON_AddStringToObject(a, "content_type",
	    j->result_type) : cJSON_AddNullToObject(a, "content_type")) &&
	    cJSON_AddNumberToObject(a, "size", (double)j->result_size) &&
	    cJSON_AddBoolToObject(a, "partial", j->partial) &&
	    cJSON_AddStringToObject(a, "url", url);
}

cJSON *
job_json(const struct job *j)
{
	cJSON *o = cJSON_CreateObject(), *part = NULL;
	double now = clock_wall();
	long pos;
	int ok;

	if (o == NULL)
		return NULL;
	ok = cJSON_AddStringToObject(o, "id", j->id) &&
	    cJSON_AddStringToObject(o, "status",
	    job_status_name(j->status)) &&
	    cJSON_AddStringToObject(o, "kind", j->kind == JOB_WORK ? "work" :
	    "sleep") &&
	    add_time(o, "created_at", j->created) &&
	    add_time(o, "started_at", j->started) &&
	    add_time(o, "finished_at", j->finished);
	if (ok && j->status == JOB_QUEUED && (pos = position(j)) >= 0)
		ok = cJSON_AddNumberToObject(o, "position", pos) != NULL &&
		    add_eta(o, pos);
	if (ok && j->status == JOB_RUNNING)
		ok = add_progress(o, j, now);
	if (ok && j->kind == JOB_WORK && j->status > JOB_RUNNING)
		ok = add_answer(o, j);
	if (ok && j->status == JOB_SUCCEEDED)
		ok = (part = result_json(j)) != NULL &&
		    cJSON_AddItemToObject(o, "result", part);
	if (ok && j->status == JOB_FAILED)
		ok = (part = error_json(j)) != NULL &&
		    cJSON_AddItemToObject(o, "error", part);
	if (ok && j->cb_url[0])
		ok = (part = callback_json(j)) != NULL &&
		    cJSON_AddItemToObject(o, "callback", part);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
