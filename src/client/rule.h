/*
 * rule.h - the seed's acceptance rule over a set of answers, and
 * the figures that explain it: overhead, handoff gaps, efficiency.
 */
#ifndef SERIALCGI_CLIENT_RULE_H
#define SERIALCGI_CLIENT_RULE_H

#include "fire.h"

/* One step of the rule: an answer and the one that arrived before it. */
struct step {
	const struct answer *prev, *cur;
	long rank;		/* cur's place by arrival, from 1 */
	double have;		/* cur's elapsed less prev's, s */
	double spread;		/* send spread of the pair, s */
	double need;		/* work less the spread, s */
	double margin;		/* have - need, or the other order's */
};

/* Where the work's length came from. */
enum work_from { WORK_GIVEN, WORK_SERVER_TIMING, WORK_SMALLEST };

struct verdict {
	long checked;		/* answers with status 200 and an elapsed */
	double work;		/* s */
	enum work_from work_from;
	long steps;		/* consecutive pairs checked */
	long broken;		/* of which neither order fits */
	long swapped;		/* of which only the other order fits */
	struct step first;	/* the first broken step, if any */
	double margin;		/* smallest step margin, s; NAN: no step */
	double overhead_ms;	/* median of elapsed - k x work */
	double gap_ms;		/* handoff gaps, median */
	double gap_p99_ms;
	long gaps;
	double wall;		/* first start to last arrival, s */
	double efficiency;	/* checked x work / wall, 0..1 */
};

/* rule_answer_ok: status 200 with an elapsed: an answer the rule can use. */
int rule_answer_ok(const struct answer *a);

/* rule_answer_retryable: no answer at all (a transport error) or a 5xx:
 * worth sending again. */
int rule_answer_retryable(const struct answer *a);

/*
 * rule_check: sort the n answers with status 200 and an elapsed by
 * arrival; each elapsed must exceed the one before by at least work
 * less the send spread of the two (PRODUCT.md's acceptance rule). The
 * send spread is how much later the second can have reached the server
 * than the first: from the first's send to the second's arrival less
 * its elapsed. A pair that came back in the other order than its works
 * ended (a front or the client held the first back) passes if it fits
 * the rule that way round. rule.c says why both are sound.
 * work: seconds, or <= 0 to take the smallest Server-Timing work;dur
 * of the answers, else their smallest elapsed.
 * Fills in *v; its figures are NAN when there is nothing to measure.
 * Returns 0, or -1 with errno ENOMEM.
 */
int rule_check(const struct answer *const *answers, long n, double work,
    struct verdict *v);

#endif
