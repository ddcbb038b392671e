/* report.c - serialcgi-client's output: human lines or JSON. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report.h"

#define STATUS_MAX	1000	/* HTTP status codes are three digits */
#define LIST_MAX	10	/* failed requests named one by one */
#define REASON_MAX	512

/* Answers by final outcome. */
struct tally {
	long by[STATUS_MAX];	/* by[0]: no answer (transport error) */
	long no_elapsed;	/* 200 without an elapsed */
	long failed;		/* anything but rule_answer_ok() */
};

/* Print one line and flush it, so that a pipe sees it now. */
static int
put(const char *line)
{
	if (fputs(line, stdout) == EOF || fputc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF)
		return -1;
	return 0;
}

/* A number, or null for what the answer did not carry. */
static cJSON *
add_num(cJSON *o, const char *name, double v)
{
	return isnan(v) ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddNumberToObject(o, name, v);
}

/* Print o as one line and free it; NULL (a failed build) is ENOMEM. */
static int
put_json(cJSON *o, int built)
{
	char *text = built ? cJSON_PrintUnformatted(o) : NULL;
	int rc;

	cJSON_Delete(o);
	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = put(text);
	cJSON_free(text);
	return rc;
}

static int
answer_json(const struct answer *a)
{
	cJSON *o = cJSON_CreateObject();

	return put_json(o, o != NULL &&
	    cJSON_AddStringToObject(o, "type", "answer") &&
	    cJSON_AddNumberToObject(o, "i", (double)a->i) &&
	    cJSON_AddStringToObject(o, "id", a->id) &&
	    cJSON_AddNumberToObject(o, "round", a->round) &&
	    cJSON_AddNumberToObject(o, "status", (double)a->status) &&
	    add_num(o, "elapsed", a->elapsed) &&
	    add_num(o, "client", a->arrival - a->start) &&
	    add_num(o, "start", a->start) &&
	    add_num(o, "sent", a->sent) &&
	    add_num(o, "arrival", a->arrival) &&
	    add_num(o, "wait_ms", a->wait_ms) &&
	    add_num(o, "work_ms", a->work_ms) &&
	    (a->status != 0 ? cJSON_AddNullToObject(o, "error") :
	    cJSON_AddStringToObject(o, "error", a->error)));
}

int
report_answer(const struct answer *a, int json)
{
	char line[160 + FIRE_ERROR_MAX], st[8], el[32], rt[32] = "";

	if (json)
		return answer_json(a);
	snprintf(st, sizeof(st), a->status ? "%ld" : "---", a->status);
	if (isnan(a->elapsed))
		snprintf(el, sizeof(el), "%9s  ", "-");
	else
		snprintf(el, sizeof(el), "%9.6f s", a->elapsed);
	if (a->round > 0)
		snprintf(rt, sizeof(rt), "  (retry %d)", a->round);
	snprintf(line, sizeof(line), "#%-5ld %3s  elapsed %s  client %9.6f s%s"
	    "%s%s", a->i, st, el, a->arrival - a->start, rt,
	    a->status ? "" : "  ", a->error);
	return put(line);
}

/* "#4 503" or "#7 no answer". */
static void
outcome(char *buf, size_t size, const struct answer *a)
{
	if (a->status == 0)
		snprintf(buf, size, "#%ld no answer", a->i);
	else if (a->status == 200)
		snprintf(buf, size, "#%ld 200 without elapsed", a->i);
	else
		snprintf(buf, size, "#%ld %ld", a->i, a->status);
}

/* Up to LIST_MAX outcomes, comma-separated, then "...". */
static void
outcomes(char *buf, size_t size, const struct answer *const *list, long n)
{
	size_t len = 0;
	long k;

	buf[0] = '\0';
	for (k = 0; k < n && k < LIST_MAX && len < size; k++) {
		if (k > 0)
			len += (size_t)snprintf(buf + len, size - len, ", ");
		if (len < size)
			outcome(buf + len, size - len, list[k]);
		len = strlen(buf);
	}
	if (n > LIST_MAX && len < size)
		snprintf(buf + len, size - len, ", ...");
}

int
report_retry(int round, int rounds, struct answer *const *failed,
    long n, double wait_s, int json)
{
	char line[REASON_MAX], list[REASON_MAX / 2];
	cJSON *o, *ids;
	long k;
	int ok;

	if (json) {
		o = cJSON_CreateObject();
		ok = o != NULL && cJSON_AddStringToObject(o, "type", "retry") &&
		    cJSON_AddNumberToObject(o, "round", round) &&
		    cJSON_AddNumberToObject(o, "rounds", rounds) &&
		    cJSON_AddNumberToObject(o, "wait", wait_s > 0 ?
		    wait_s : 0) &&
		    (ids = cJSON_AddArrayToObject(o, "i")) != NULL;
		for (k = 0; ok && k < n; k++)
			ok = cJSON_AddItemToArray(ids,
			    cJSON_CreateNumber((double)failed[k]->i));
		return put_json(o, ok);
	}
	outcomes(list, sizeof(list), (const struct answer *const *)failed, n);
	snprintf(line, sizeof(line), "retry %d of %d: %ld failed (%s); "
	    "sending %s again", round, rounds, n, list,
	    n == 1 ? "it" : "them");
	if (wait_s > 0)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    " in %.3f s, when Retry-After is up", wait_s);
	return put(line);
}

static void
count(const struct answer *const *answers, long n, struct tally *t)
{
	long k, s;

	memset(t, 0, sizeof(*t));
	for (k = 0; k < n; k++) {
		s = answers[k]->status;
		t->by[s >= 0 && s < STATUS_MAX ? s : 0]++;
		if (s == 200 && !rule_answer_ok(answers[k]))
			t->no_elapsed++;
		if (!rule_answer_ok(answers[k]))
			t->failed++;
	}
}

/* "48 x 200, 1 x 503, 1 without answer". */
static void
tally_text(char *buf, size_t size, const struct tally *t)
{
	size_t len = 0;
	long s;

	buf[0] = '\0';
	for (s = 1; s < STATUS_MAX && len < size; s++) {
		if (t->by[s] == 0)
			continue;
		snprintf(buf + len, size - len, "%s%ld x %ld", len ? ", " : "",
		    t->by[s], s);
		if (s == 200 && t->no_elapsed > 0)
			snprintf(buf + strlen(buf), size - strlen(buf),
			    " (%ld without elapsed)", t->no_elapsed);
		len = strlen(buf);
	}
	if (t->by[0] > 0 && len < size)
		snprintf(buf + len, size - len, "%s%ld without answer",
		    len ? ", " : "", t->by[0]);
}

/* The verdict in one line: "rule holds: ...", "rule broken: ...". */
static void
verdict_text(char *buf, size_t size, const struct verdict *v)
{
	const struct step *s = &v->first;

	if (v->checked == 0)
		snprintf(buf, size, "rule not checked: no answer with "
		    "status 200 and an elapsed");
	else if (v->steps == 0)
		snprintf(buf, size, "rule holds: one answer, nothing to "
		    "compare it with");
	else if (v->broken == 0 && v->swapped == 0)
		snprintf(buf, size, "rule holds: %ld answers by arrival, each "
		    "elapsed at least work less the send spread after the "
		    "one before (smallest margin %.3f ms)", v->checked,
		    v->margin * 1e3);
	else if (v->broken == 0)
		snprintf(buf, size, "rule holds: %ld answers by arrival, each "
		    "elapsed at least work less the send spread after the "
		    "one before, or %ld pair%s the other way round: held "
		    "back on the way (smallest margin %.3f ms)", v->checked,
		    v->swapped, v->swapped > 1 ? "s" : "", v->margin * 1e3);
	else
		snprintf(buf, size, "rule broken: answer %ld elapsed %.6f s "
		    "only %.6f s after answer %ld (the one before it by "
		    "arrival); needs %.6f s: work %.6f s less %.6f s of send "
		    "spread (%ld of %ld steps broken)", s->cur->i,
		    s->cur->elapsed, s->have, s->prev->i, s->need, v->work,
		    s->spread, v->broken, v->steps);
}

static const char *const work_from[] = { "-w", "Server-Timing",
    "smallest elapsed" };

static int
summary_json(const struct run_info *ri, const struct tally *t,
    const struct verdict *v, const char *rule, const char *reason)
{
	cJSON *o = cJSON_CreateObject(), *by = NULL;
	char key[8];
	long s;
	int ok;

	ok = o != NULL && cJSON_AddStringToObject(o, "type", "summary") &&
	    cJSON_AddStringToObject(o, "url", ri->url) &&
	    cJSON_AddNumberToObject(o, "requests", (double)ri->requests) &&
	    cJSON_AddNumberToObject(o, "parallel", (double)ri->parallel) &&
	    cJSON_AddNumberToObject(o, "rounds", ri->rounds) &&
	    (by = cJSON_AddObjectToObject(o, "answers")) != NULL;
	for (s = 1; ok && s < STATUS_MAX; s++) {
		snprintf(key, sizeof(key), "%ld", s);
		if (t->by[s] > 0)
			ok = cJSON_AddNumberToObject(by, key,
			    (double)t->by[s]) != NULL;
	}
	ok = ok && cJSON_AddNumberToObject(o, "no_answer", (double)t->by[0]) &&
	    cJSON_AddNumberToObject(o, "no_elapsed", (double)t->no_elapsed) &&
	    cJSON_AddNumberToObject(o, "failed", (double)t->failed) &&
	    add_num(o, "work", v->work) &&
	    cJSON_AddStringToObject(o, "work_from",
	    work_from[v->work_from]) &&
	    add_num(o, "overhead_ms", v->overhead_ms) &&
	    add_num(o, "gap_ms", v->gap_ms) &&
	    add_num(o, "gap_p99_ms", v->gap_p99_ms) &&
	    cJSON_AddNumberToObject(o, "gaps", (double)v->gaps) &&
	    add_num(o, "wall", v->wall) &&
	    add_num(o, "efficiency", v->efficiency) &&
	    cJSON_AddNumberToObject(o, "steps", (double)v->steps) &&
	    cJSON_AddNumberToObject(o, "broken", (double)v->broken) &&
	    cJSON_AddNumberToObject(o, "swapped", (double)v->swapped) &&
	    add_num(o, "margin", v->margin) &&
	    cJSON_AddStringToObject(o, "rule", rule) &&
	    (reason[0] == '\0' ? cJSON_AddNullToObject(o, "reason") :
	    cJSON_AddStringToObject(o, "reason", reason));
	return put_json(o, ok);
}

/* The requests that failed in the end, named. */
static void
failed_text(char *buf, size_t size, const struct answer *const *answers,
    long n, const struct tally *t)
{
	const struct answer *list[LIST_MAX] = { NULL };
	char names[REASON_MAX / 2];
	long k, m = 0;

	for (k = 0; k < n && m < LIST_MAX; k++)
		if (!rule_answer_ok(answers[k]))
			list[m++] = answers[k];
	outcomes(names, sizeof(names), list, m);
	snprintf(buf, size, "requests failed: %ld of %ld (%s%s)", t->failed,
	    n, names, t->failed > m ? ", ..." : "");
}

static int
figures_text(const struct run_info *ri, const char *tally,
    const struct verdict *v)
{
	char line[REASON_MAX];

	snprintf(line, sizeof(line), "%ld requests to %s, at most %ld in "
	    "flight", ri->requests, ri->url, ri->parallel);
	if (ri->rounds > 0)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    ", %d retry round%s", ri->rounds,
		    ri->rounds > 1 ? "s" : "");
	if (put(line) == -1)
		return -1;
	snprintf(line, sizeof(line), "answers: %s", tally);
	if (put(line) == -1)
		return -1;
	if (v->checked == 0)
		return 0;
	snprintf(line, sizeof(line), "work: %.6f s%s", v->work,
	    v->work_from == WORK_SERVER_TIMING ? ", the smallest "
	    "Server-Timing work;dur (-w sets it)" :
	    v->work_from == WORK_SMALLEST ? ", the smallest elapsed "
	    "(-w sets it)" : "");
	if (put(line) == -1)
		return -1;
	snprintf(line, sizeof(line), "overhead per request (elapsed - k x "
	    "work): median %.3f ms", v->overhead_ms);
	if (put(line) == -1)
		return -1;
	if (v->gaps > 0) {
		snprintf(line, sizeof(line), "handoff gaps (from consecutive "
		    "elapsed): median %.3f ms, p99 %.3f ms (%ld gaps)",
		    v->gap_ms, v->gap_p99_ms, v->gaps);
		if (put(line) == -1)
			return -1;
	}
	snprintf(line, sizeof(line), "efficiency: %.2f %% (%ld works x "
	    "%.6f s in %.6f s)", v->efficiency * 100, v->checked, v->work,
	    v->wall);
	return put(line);
}

int
report_summary(const struct run_info *ri,
    const struct answer *const *answers, long n, const struct verdict *v)
{
	struct tally t;
	char tally[REASON_MAX], rule[REASON_MAX * 2], failed[REASON_MAX];
	char reason[REASON_MAX * 3];
	const char *word;

	count(answers, n, &t);
	tally_text(tally, sizeof(tally), &t);
	verdict_text(rule, sizeof(rule), v);
	failed[0] = reason[0] = '\0';
	if (t.failed > 0)
		failed_text(failed, sizeof(failed), answers, n, &t);
	word = v->checked == 0 ? "not checked" : v->broken ? "broken" :
	    "holds";
	if (v->broken > 0 || v->checked == 0)
		snprintf(reason, sizeof(reason), "%s%s%s", failed,
		    failed[0] ? "; " : "", rule);
	else
		snprintf(reason, sizeof(reason), "%s", failed);
	if (ri->json)
		return summary_json(ri, &t, v, word, reason);
	if (figures_text(ri, tally, v) == -1 ||
	    (failed[0] != '\0' && put(failed) == -1))
		return -1;
	return put(rule);
}
