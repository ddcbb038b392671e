/* work.c - the work, behind one interface: see work.h. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>

#include "work.h"

int
work_run(struct work *w)
{
	w->end = WORK_DONE;
	w->answer = NULL;
	w->answer_len = w->head_len = 0;
	w->status = 200;
	w->exit_status = -1;
	w->why[0] = '\0';
	return w->be->run(w);
}

const char *
work_end_name(enum work_end end)
{
	static const char *const names[] = {
		[WORK_DONE] = "done", [WORK_LOST] = "lost",
		[WORK_TIMEOUT] = "timeout", [WORK_BAD] = "bad answer",
		[WORK_ABORTED] = "aborted", [WORK_FAILED] = "failed",
	};

	return (unsigned)end < sizeof(names) / sizeof(names[0]) ?
	    names[end] : "failed";
}

void
work_clear(struct work *w)
{
	free(w->answer);
	w->answer = NULL;
	w->answer_len = w->head_len = 0;
}
