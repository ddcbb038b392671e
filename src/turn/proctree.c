/* proctree.c - the processes a work started: see proctree.h. */
#define _GNU_SOURCE	/* PR_SET_CHILD_SUBREAPER */

#include <sys/prctl.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "procfs.h"
#include "proctree.h"

#define TREE_MAX	4096	/* descendants signalled in one walk */

int
proctree_init(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL);
}

/* The children of every thread of pid, appended to out[*n..max).
 * Returns 0, or -1 with errno set. */
static int
children_of(pid_t pid, pid_t *out, int *n, int max)
{
	char path[320], buf[8192], *p, *end;
	struct dirent *d;
	DIR *dir;
	long c;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;	/* it just exited */
	while ((d = readdir(dir)) != NULL && *n < max) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/children",
		    (long)pid, d->d_name);
		if (procfs_read(path, buf, sizeof(buf)) == -1)
			continue;
		for (p = buf; *n < max; p = end) {
			c = strtol(p, &end, 10);
			if (end == p)
				break;
			out[(*n)++] = (pid_t)c;
		}
	}
	closedir(dir);
	return 0;
}

int
proctree_children(pid_t *out, int max)
{
	int n = 0;

	return children_of(getpid(), out, &n, max) == -1 ? -1 : n;
}

int
proctree_signal(int sig)
{
	pid_t *tree;
	int n = 0, i, e;

	if ((tree = malloc(TREE_MAX * sizeof(*tree))) == NULL)
		return -1;
	/* Breadth first: the list grows as it is walked. A process that
	 * forks meanwhile is found by the next walk (the caller signals
	 * again until nothing is left). */
	if (children_of(getpid(), tree, &n, TREE_MAX) == -1)
		goto fail;
	for (i = 0; i < n; i++)
		if (children_of(tree[i], tree, &n, TREE_MAX) == -1)
			goto fail;
	for (i = 0; i < n; i++)
		(void)kill(tree[i], sig);
	free(tree);
	return n;
fail:
	e = errno;
	free(tree);
	errno = e;
	return -1;
}

int
proctree_reap(pid_t main, int *status, int *main_done)
{
	pid_t pid, left[1];
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == main) {
			*status = st;
			*main_done = 1;
		}
	if (pid == -1 && errno != ECHILD)
		return -1;
	return proctree_children(left, 1);
}
