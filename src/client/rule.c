/*
 * rule.c - the seed's acceptance rule over a set of answers.
 *
 * Why the send spread of a pair is what it is: let s be the moment a
 * request reached the handler and e its end of work, so elapsed = e -
 * s. If works never overlap, two answers whose works ended in the order
 * 1, 2 ended at least one work apart: e2 - e1 >= work. Then
 *     elapsed2 - elapsed1 = (e2 - e1) - (s2 - s1) >= work - (s2 - s1).
 * The client cannot see s, but it can bound it: s1 is after the first
 * request was sent, and s2 is no later than the second's arrival less
 * its elapsed. So s2 - s1 <= (arrival2 - elapsed2) - sent1, the spread
 * used here: sound whatever the concurrency, retries or network, and
 * for requests sent at once about the seed's spread of the send times.
 *
 * Answers are sorted by arrival, as the seed says, but arrival order
 * is not always the order in which the works ended: a front busy with a
 * burst, or a client not scheduled, can hold one answer back past the
 * next. Such a pair fits the same rule with the two swapped, and that
 * is accepted too; two works that overlapped, of requests sent less
 * than a work apart, fit neither way round. Both bounds assume only
 * that the server's clock for elapsed runs at the rate of ours.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

int
rule_answer_ok(const struct answer *a)
{
	return a->status == 200 && !isnan(a->elapsed) && !isnan(a->sent);
}

int
rule_answer_retryable(const struct answer *a)
{
	return a->status == 0 || (a->status >= 500 && a->status <= 599);
}

static int
by_arrival(const void *x, const void *y)
{
	const struct answer *a = *(const struct answer *const *)x;
	const struct answer *b = *(const struct answer *const *)y;

	if (a->arrival != b->arrival)
		return a->arrival < b->arrival ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static int
by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

/* The q-quantile of n values (sorted here), nearest rank: the value at
 * ceil(q n); the median is the mean of the middle two when n is even.
 * NAN for no values. */
static double
quantile(double *v, long n, double q)
{
	long k;

	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(*v), by_value);
	if (q == 0.5)
		return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	k = (long)(q * (double)n);
	if ((double)k < q * (double)n)
		k++;
	return v[k < 1 ? 0 : k - 1];
}

/* How many of the m sorted values are <= t. */
static long
upto(const double *v, long m, double t)
{
	long lo = 0, hi = m, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The rule for a that ended a work before b: b's elapsed less a's,
 * less (work - spread). */
static double
fit(const struct answer *a, const struct answer *b, double work,
    double *spread)
{
	*spread = (b->arrival - b->elapsed) - a->sent;
	return (b->elapsed - a->elapsed) - (work - *spread);
}

static void
check_steps(const struct answer *const *ok, long m, struct verdict *v)
{
	struct step s;
	double swapped, spread2;
	long j;

	for (j = 1; j < m; j++) {
		s.prev = ok[j - 1];
		s.cur = ok[j];
		s.rank = j + 1;
		s.have = s.cur->elapsed - s.prev->elapsed;
		s.margin = fit(s.prev, s.cur, v->work, &s.spread);
		s.need = v->work - s.spread;
		swapped = fit(s.cur, s.prev, v->work, &spread2);
		if (s.margin < 0 && swapped >= 0)
			v->swapped++;
		if (swapped > s.margin)
			s.margin = swapped;
		if (isnan(v->margin) || s.margin < v->margin)
			v->margin = s.margin;
		if (s.margin < 0 && v->broken++ == 0)
			v->first = s;
		v->steps++;
	}
}

/*
 * The time works took while request j was at the server: each work
 * that ended in (sent, sent + elapsed], its own included, counts whole,
 * or from sent on if it began before. ends[] holds every end of work,
 * placed at sent + elapsed (its error: one request's transit), sorted;
 * sum[k] is the sum of the first k of them.
 */
static double
busy(const struct answer *a, const double *ends, const double *sum,
    long m, double work)
{
	long lo = upto(ends, m, a->sent);
	long part = upto(ends, m, a->sent + work);
	long hi = upto(ends, m, a->sent + a->elapsed);

	if (part > hi)
		part = hi;
	return (sum[part] - sum[lo]) - (double)(part - lo) * a->sent +
	    (double)(hi - part) * work;
}

/*
 * Overhead: elapsed less the works it waited for and its own (k x work
 * when k requests are sent at once; elapsed - work when one at a time).
 * Gap: from one end of work to the next, less a work.
 * tmp holds 3 m + 1 doubles.
 */
static void
figures(const struct answer *const *ok, long m, double *tmp,
    struct verdict *v)
{
	double *ends = tmp + m, *sum = tmp + 2 * m;
	long j;

	for (j = 0; j < m; j++)
		ends[j] = ok[j]->sent + ok[j]->elapsed;
	for (j = 1; j < m; j++)
		tmp[j - 1] = (ends[j] - ends[j - 1] - v->work) * 1e3;
	v->gaps = m - 1;
	v->gap_ms = quantile(tmp, v->gaps, 0.5);
	v->gap_p99_ms = quantile(tmp, v->gaps, 0.99);
	qsort(ends, (size_t)m, sizeof(*ends), by_value);
	sum[0] = 0;
	for (j = 0; j < m; j++)
		sum[j + 1] = sum[j] + ends[j];
	for (j = 0; j < m; j++)
		tmp[j] = (ok[j]->elapsed -
		    busy(ok[j], ends, sum, m, v->work)) * 1e3;
	v->overhead_ms = quantile(tmp, m, 0.5);
}

static void
wall(const struct answer *const *answers, long n, struct verdict *v)
{
	double first = NAN, last = NAN;
	long j;

	for (j = 0; j < n; j++) {
		if (isnan(first) || answers[j]->start < first)
			first = answers[j]->start;
		if (isnan(last) || answers[j]->arrival > last)
			last = answers[j]->arrival;
	}
	v->wall = last - first;
	v->efficiency = v->checked > 0 && v->wall > 0 ?
	    (double)v->checked * v->work / v->wall : NAN;
}

/* The work's length when not given: the smallest Server-Timing
 * work;dur (serialcgi sends it), else the smallest elapsed, which
 * exceeds the work by the quickest answer's overhead. */
static void
infer_work(const struct answer *const *ok, long m, struct verdict *v)
{
	double st = NAN, el = NAN;
	long j;

	for (j = 0; j < m; j++) {
		if (ok[j]->work_ms > 0 && !(ok[j]->work_ms / 1e3 >= st))
			st = ok[j]->work_ms / 1e3;
		if (!(ok[j]->elapsed >= el))
			el = ok[j]->elapsed;
	}
	v->work_from = isnan(st) ? WORK_SMALLEST : WORK_SERVER_TIMING;
	v->work = isnan(st) ? el : st;
}

int
rule_check(const struct answer *const *answers, long n, double work,
    struct verdict *v)
{
	const struct answer **ok;
	double *tmp;
	long j, m = 0;

	memset(v, 0, sizeof(*v));
	v->margin = v->overhead_ms = v->gap_ms = v->gap_p99_ms = NAN;
	v->work = work;
	v->work_from = WORK_GIVEN;
	ok = calloc((size_t)n + 1, sizeof(*ok));
	tmp = calloc(3 * (size_t)n + 1, sizeof(*tmp));
	if (ok == NULL || tmp == NULL) {
		free(ok);
		free(tmp);
		errno = ENOMEM;
		return -1;
	}
	for (j = 0; j < n; j++)
		if (rule_answer_ok(answers[j]))
			ok[m++] = answers[j];
	v->checked = m;
	if (!(work > 0))
		infer_work(ok, m, v);
	qsort(ok, (size_t)m, sizeof(*ok), by_arrival);
	if (m > 0) {
		check_steps(ok, m, v);
		figures(ok, m, tmp, v);
	}
	wall(answers, n, v);
	free(ok);
	free(tmp);
	return 0;
}
