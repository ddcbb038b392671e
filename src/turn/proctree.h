/*
 * proctree.h - the processes a work started, all of them. The responder
 * is their subreaper (prctl(2) PR_SET_CHILD_SUBREAPER, Linux 3.4): a
 * descendant whose parent exits, even one that called setsid(2) to
 * leave its group, becomes the responder's child instead of init's, so
 * none can outlive its work unseen. The tree is read from proc(5)'s
 * /proc/PID/task/TID/children (Linux 3.5). The responder starts no
 * other process: every child of it is a work's.
 */
#ifndef SERIALCGI_PROCTREE_H
#define SERIALCGI_PROCTREE_H

#include <sys/types.h>

/* proctree_init: make this process the subreaper of what it starts.
 * Returns 0, or -1 with errno set (prctl(2)). */
int proctree_init(void);

/*
 * proctree_signal: send sig to every descendant of this process, found
 * by walking the tree from its children down. Returns how many were
 * signalled, or -1 with errno set if the tree could not be read.
 */
int proctree_signal(int sig);

/*
 * proctree_reap: wait(2) for every child that has exited, without
 * blocking; *status gets the status of pid `main` if it was among them
 * (and *main_done 1). Returns how many children are left (alive), or
 * -1 with errno set.
 */
int proctree_reap(pid_t main, int *status, int *main_done);

/* proctree_children: up to max pids of this process's children (of all
 * its threads) into out. Returns how many, or -1 with errno set. */
int proctree_children(pid_t *out, int max);

#endif
