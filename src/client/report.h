/*
 * report.h - what serialcgi-client prints on stdout: a line per
 * answer as it completes, a notice per retry round, and a summary with
 * the verdict. Human lines, or one JSON object a line (--json, cJSON).
 */
#ifndef SERIALCGI_CLIENT_REPORT_H
#define SERIALCGI_CLIENT_REPORT_H

#include "fire.h"
#include "rule.h"

struct run_info {
	const char *url;
	long requests;
	long parallel;
	int rounds;		/* retry rounds run */
	int json;
};

/*
 * report_answer: one line for a, flushed at once so that a reader sees
 * each answer when it comes.
 * Returns 0, or -1 with errno set (ENOMEM, or the write's).
 */
int report_answer(const struct answer *a, int json);

/*
 * report_retry: round `round` of at most `rounds` sends the n failed
 * requests again, in wait_s seconds (<= 0: now), when their last
 * Retry-After is up.
 * Returns 0, or -1 with errno set.
 */
int report_retry(int round, int rounds, struct answer *const *failed,
    long n, double wait_s, int json);

/*
 * report_summary: answers by status, the figures of *v, and the
 * verdict with its reason, for the n final answers.
 * Returns 0, or -1 with errno set.
 */
int report_summary(const struct run_info *ri,
    const struct answer *const *answers, long n, const struct verdict *v);

#endif
