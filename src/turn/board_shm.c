/* board_shm.c - the scoreboard file and its primitives: board_shm.h. */
#define _GNU_SOURCE	/* F_OFD_GETLK, F_OFD_SETLK */

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board_shm.h"
#include "clock.h"
#include "incarnation.h"
#include "log.h"

#define BOARD_MAGIC	0x3930445242494353ULL	/* "SCIBRD09" */

struct board_shm board_shm = { NULL, -1, -1, 0, NULL };

/* Is responder i alive? It holds an OFD lock on byte i of the file for
 * as long as it lives; the kernel drops it at exit, so neither zombies
 * nor reused pids can fool this (fcntl(2), open file description
 * locks). Our own lock never conflicts with us: we are alive. */
int
board_shm_alive(int i, signed char *seen)
{
	struct flock fl;

	if (i == board_shm.me)
		return 1;
	if (i < 0 || i >= BOARD_PROCS)
		return 0;
	if (seen[i] == 0) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = i;
		fl.l_len = 1;
		seen[i] = fcntl(board_shm.fd, F_OFD_GETLK, &fl) == 0 &&
		    fl.l_type != F_UNLCK ? 1 : -1;
	}
	return seen[i] > 0;
}

void
board_shm_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

void
board_shm_lock(void)
{
	struct shared *b = board_shm.s;

	/* A responder killed inside this short section leaves plain
	 * counters behind, still usable: make the mutex usable again. */
	if (pthread_mutex_lock(&b->mutex) == EOWNERDEAD)
		pthread_mutex_consistent(&b->mutex);
}

void
board_shm_unlock(void)
{
	struct shared *b = board_shm.s;

	pthread_mutex_unlock(&b->mutex);
}

/* Is process index i alive, and still incarnation inc? */
int
board_shm_owner_alive(int i, uint64_t inc, signed char *seen)
{
	struct shared *b = board_shm.s;

	return board_shm_alive(i, seen) && i >= 0 && i < BOARD_PROCS &&
	    atomic_load(&b->inc[i]) == inc;
}

int
board_shm_live_state(struct entry *e, signed char *seen)
{
	struct shared *b = board_shm.s;
	uint32_t st = atomic_load(&e->state);

	if ((st == E_WAITING || st == E_NEXT) &&
	    !board_shm_owner_alive(atomic_load(&e->proc),
	    atomic_load(&e->inc), seen)) {
		st = atomic_load(&e->durable) ? E_ORPHAN : E_GONE;
		if (st == E_ORPHAN)
			b->arrival[atomic_load(&e->ticket) %
			    BOARD_RING].orphaned = clock_now();
		atomic_store(&e->state, st);
	}
	return (int)st;
}

/* With the mutex held: an orphan that has held the queue for
 * BOARD_ORPHAN_GRACE with nobody adopting it (a janitor adopts it in
 * its place within a round, unless the job store cannot be read) is
 * passed over, so that the queue goes on; the janitor adopts its job
 * with a new ticket once the store answers. Returns 1 if it was. */
static int
pass_over(struct entry *e, uint64_t u)
{
	struct shared *b = board_shm.s;
	double since = b->arrival[u % BOARD_RING].orphaned;

	if (since == 0 || clock_now() - since < BOARD_ORPHAN_GRACE)
		return 0;
	atomic_store(&e->state, E_GONE);
	board_shm_wake(&e->state);
	log_warn("ticket %llu passed over: its responder died and no "
	    "janitor adopted its job in %.2f s (job store unreadable?); "
	    "the job gets a new ticket when the store answers",
	    (unsigned long long)u, BOARD_ORPHAN_GRACE);
	return 1;
}

/* With the mutex held: an orphan holds the queue at u; the entries
 * behind it are looked at too, so that every orphan of one death is
 * found now, and passed over with the first rather than one grace
 * after another. */
static void
find_orphans(uint64_t u, signed char *seen)
{
	struct shared *b = board_shm.s;

	for (u++; u < b->next; u++)
		(void)board_shm_live_state(&b->ring[u % BOARD_RING], seen);
}

/* With the mutex held: drop finished and dead entries at the head, and
 * let the first waiter queue in flock(2), right behind the holder. */
void
board_shm_advance(void)
{
	struct shared *b = board_shm.s;
	signed char seen[BOARD_PROCS] = { 0 };
	struct entry *e;
	uint64_t u;
	int st;

	for (u = b->head; u < b->next; u++) {
		e = &b->ring[u % BOARD_RING];
		st = board_shm_live_state(e, seen);
		if (st == E_GONE || st == E_DONE || st == E_FREE) {
			if (u == b->head)
				b->head++;
			continue;
		}
		if (st == E_ORPHAN && pass_over(e, u)) {
			if (u == b->head)
				b->head++;
			continue;
		}
		if (st == E_WAITING) {
			atomic_store(&e->state, E_NEXT);
			board_shm_wake(&e->state);
		}
		if (st == E_ORPHAN)
			find_orphans(u, seen);
		break;		/* NEXT, or an ORPHAN: the queue waits */
	}
}

/* Does any responder registered in the file live? Under the set-up
 * flock, before this process claims its entry. */
static int
anyone_alive(void)
{
	signed char seen[BOARD_PROCS] = { 0 };
	int i;

	for (i = 0; i < BOARD_PROCS; i++)
		if (board_shm_alive(i, seen))
			return 1;
	return 0;
}

/* Every block of the file, before any page of it is touched: a page
 * of a shared mapping that the file system cannot back when it is
 * first touched kills the process with SIGBUS (mmap(2)), and a sparse
 * file on a full disk is just that. posix_fallocate(3) returns its
 * error instead of setting errno. */
static int
allocate(int fd, size_t size)
{
	int rc;

	if ((rc = posix_fallocate(fd, 0, (off_t)size)) != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

static int
map(int fd)
{
	const size_t size = sizeof(struct shared);
	pthread_mutexattr_t ma;
	struct shared *b;
	struct stat st;
	void *p;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((size_t)st.st_size != size && ftruncate(fd, size) == -1)
		return -1;
	if (allocate(fd, size) == -1)
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	board_shm.s = b = p;
	if (b->magic == BOARD_MAGIC && (size_t)st.st_size == size &&
	    anyone_alive())
		return 0;
	/* New, or left by responders all gone (a file that outlived a
	 * reboot, say: its robust mutex may name a thread of another
	 * boot, which the kernel can no longer release). Start it anew:
	 * cut to nothing and grown again, it reads as zeros
	 * (ftruncate(2)); clearing it by hand would touch, and keep in
	 * memory, every page of the ring. */
	if (st.st_size != 0 && (ftruncate(fd, 0) == -1 ||
	    ftruncate(fd, size) == -1 || allocate(fd, size) == -1))
		return -1;
	if (getrandom(&b->gen, sizeof(b->gen), 0) != sizeof(b->gen))
		b->gen = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&b->mutex, &ma);
	pthread_mutexattr_destroy(&ma);
	b->magic = BOARD_MAGIC;
	return 0;
}

static int
claim(void)
{
	struct shared *b = board_shm.s;
	struct flock fl;
	int i;

	for (i = 0; i < BOARD_PROCS; i++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = i;
		fl.l_len = 1;
		if (fcntl(board_shm.fd, F_OFD_SETLK, &fl) == 0) {
			board_shm.me = i;
			atomic_store(&b->pid[i], (int32_t)getpid());
			atomic_store(&b->inc[i], board_shm.inc);
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES)
			return -1;
	}
	errno = EUSERS;		/* not ENOSPC: that is a full disk */
	return -1;
}

int
board_shm_open(const char *path)
{
	int rc = -1, saved;

	/* Who we are, before the entry says so (incarnation.h). */
	if ((board_shm.inc = incarnation_self()) == 0)
		return -1;
	board_shm.path = path;
	board_shm.fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (board_shm.fd == -1)
		return -1;
	/* Responders start together: one sets the file up at a time. */
	while (flock(board_shm.fd, LOCK_EX) == -1)
		if (errno != EINTR)
			goto out;
	rc = map(board_shm.fd) == 0 && claim() == 0 ? 0 : -1;
	saved = errno;
	flock(board_shm.fd, LOCK_UN);
	errno = saved;
out:
	if (rc == -1) {
		saved = errno;
		board_shm_close();
		errno = saved;
	}
	return rc;
}

void
board_shm_close(void)
{
	struct shared *b = board_shm.s;

	if (b != NULL && board_shm.me >= 0) {
		atomic_store(&b->inc[board_shm.me], 0);
		atomic_store(&b->pid[board_shm.me], 0);
	}
	if (b != NULL)
		munmap(b, sizeof(*b));
	if (board_shm.fd != -1)
		close(board_shm.fd);
	board_shm.s = NULL;
	board_shm.fd = -1;
	board_shm.me = -1;
}


int
board_shm_replaced(void)
{
	struct stat now, ours;

	if (board_shm.path == NULL || fstat(board_shm.fd, &ours) == -1)
		return 0;
	return stat(board_shm.path, &now) == -1 ? errno == ENOENT :
	    now.st_dev != ours.st_dev || now.st_ino != ours.st_ino;
}
