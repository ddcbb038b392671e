/* procstat.c - process_* series for every live responder, from proc(5). */
#define _GNU_SOURCE	/* fdopendir, CLOCK_BOOTTIME */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "textbuf.h"
#include "board.h"
#include "board_stats.h"
#include "procfs.h"
#include "procstat.h"

/* Boot time, Unix seconds: CLOCK_REALTIME less CLOCK_BOOTTIME, as the
 * kernel makes /proc/stat's btime, and the clock /proc/PID/stat's
 * starttime counts on. /proc/stat itself may be hidden: the systemd
 * unit sets ProcSubset=pid (systemd.exec(5)). Returns -1 if unknown. */
static double
boot_time(void)
{
	struct timespec wall, boot;

	if (clock_gettime(CLOCK_REALTIME, &wall) == -1 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) == -1)
		return -1;
	return (double)(wall.tv_sec - boot.tv_sec) +
	    (double)(wall.tv_nsec - boot.tv_nsec) / 1e9;
}

/* Open descriptors: the entries of /proc/PID/fd, "." and ".." aside. */
static long
open_fds(long pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	long n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	/* Counting our own, we saw the directory's descriptor too. */
	return pid == (long)getpid() ? n - 1 : n;
}

int
procstat_read(long pid, double btime, struct procstat *ps)
{
	unsigned long long utime, stime, start, vsize;
	long long rss;
	char buf[1024], *p;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

	if ((p = procfs_stat_after(pid, buf, sizeof(buf))) == NULL)
		return -1;
	/* From field 3 (state): 14 utime, 15 stime, 22 starttime, 23
	 * vsize, 24 rss. */
	if (tick <= 0 || page <= 0 ||
	    sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld", &utime,
	    &stime, &start, &vsize, &rss) != 5) {
		errno = EPROTO;
		return -1;
	}
	if ((ps->open_fds = open_fds(pid)) == -1)
		return -1;
	ps->cpu_seconds = (double)(utime + stime) / (double)tick;
	ps->start_time = btime + (double)start / (double)tick;
	ps->virtual_bytes = (double)vsize;
	ps->resident_bytes = (double)rss * (double)page;
	return 0;
}

/* The families, in the client libraries' names, units and types. */
enum { CPU, RSS, VSZ, FDS, START, NFAMILIES };

static const struct family {
	const char	*name, *type, *help;
} families[NFAMILIES] = {
	[CPU] = { "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds." },
	[RSS] = { "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes." },
	[VSZ] = { "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes." },
	[FDS] = { "process_open_fds", "gauge",
	    "Number of open file descriptors." },
	[START] = { "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds." },
};

static double
value(const struct procstat *ps, int f)
{
	switch (f) {
	case CPU:	return ps->cpu_seconds;
	case RSS:	return ps->resident_bytes;
	case VSZ:	return ps->virtual_bytes;
	case FDS:	return (double)ps->open_fds;
	default:	return ps->start_time;
	}
}

int
procstat_prometheus(char *buf, size_t len)
{
	struct procstat ps[BOARD_PROCS];
	long pids[BOARD_PROCS], n, i;
	char ok[BOARD_PROCS];
	struct textbuf o = { buf, len, 0, 0 };
	double btime = boot_time();
	int f;

	if ((n = board_stats_pids(pids, BOARD_PROCS)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		ok[i] = procstat_read(pids[i], btime, &ps[i]) == 0;
	for (f = 0; f < NFAMILIES; f++) {
		textbuf_put(&o, "# HELP %s %s\n# TYPE %s %s\n",
		    families[f].name, families[f].help, families[f].name,
		    families[f].type);
		for (i = 0; i < n; i++)
			if (ok[i] && (f != START || btime >= 0))
				textbuf_put(&o, "%s{pid=\"%ld\"} %.15g\n",
				    families[f].name, pids[i],
				    value(&ps[i], f));
	}
	if (o.full) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.used;
}
