/*
 * incarnation.h - who a process is, beyond its pid: a 64-bit number
 * made from the boot (/proc/sys/kernel/random/boot_id), the pid and the
 * process's start time (proc(5)). A pid that the kernel hands out again
 * comes with another start time, and a reboot with another boot id, so
 * no reuse can fake it. Whether an incarnation lives is a fact the
 * kernel tells (the process with that pid is, or is not, the one that
 * started then), never a guess from a timeout or a mismatch elsewhere.
 * Within one pid namespace, as a host's responders are.
 */
#ifndef SERIALCGI_INCARNATION_H
#define SERIALCGI_INCARNATION_H

#include <stdint.h>

/* incarnation_self: this process's, worked out once (then cached; call
 * first before any thread starts). Never 0. Returns 0 if proc(5)
 * cannot tell (errno set). */
uint64_t incarnation_self(void);

/* incarnation_of: process pid's, now. Returns it (never 0), or 0 with
 * errno set (ENOENT or ESRCH: no such process). */
uint64_t incarnation_of(long pid);

/*
 * incarnation_alive: is incarnation inc, which had pid, still alive?
 * Returns 1 if the process with pid is that incarnation; 0 if it is
 * not (no process with pid, or another one): a proof of its death;
 * -1 if proc(5) could not tell (errno set), which is no proof.
 */
int incarnation_alive(long pid, uint64_t inc);

#endif
