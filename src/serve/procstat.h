/*
 * procstat.h - the standard process_* series of the Prometheus client
 * libraries (prometheus.io/docs/instrumenting/writing_clientlibs,
 * "Process metrics"), for every live responder, read from proc(5).
 */
#ifndef SERIALCGI_PROCSTAT_H
#define SERIALCGI_PROCSTAT_H

#include <stddef.h>

struct procstat {
	double		 cpu_seconds;	/* user + system, all threads */
	double		 start_time;	/* Unix time, seconds */
	double		 resident_bytes;
	double		 virtual_bytes;
	long		 open_fds;
};

/*
 * procstat_read: the figures of process pid from /proc/PID/stat
 * (utime, stime, starttime, vsize, rss) and /proc/PID/fd (entries);
 * btime is the boot time in Unix seconds (CLOCK_REALTIME less
 * CLOCK_BOOTTIME, what /proc/stat calls btime).
 * Returns 0, or -1 with errno set (ENOENT: no such process; EACCES:
 * another user's; EPROTO: a stat line we cannot read).
 */
int procstat_read(long pid, double btime, struct procstat *ps);

/*
 * procstat_prometheus: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds and process_start_time_seconds, one sample per live
 * responder labelled {pid="N"} (board_stats_pids), in the text format 0.0.4.
 * A responder that cannot be read (it just died) has no sample. Writes
 * at most len bytes to buf. Returns the length, or -1 with errno
 * EOVERFLOW if buf is too small, or board_stats_pids' errno.
 */
int procstat_prometheus(char *buf, size_t len);

#endif
