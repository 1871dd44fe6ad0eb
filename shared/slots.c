/*
 * slots.c - create, map and update the shared slot table.
 *
 * The table lives in a memfd so it needs no path on disk and dies with the
 * last process that maps it; `mwsup status` reaches it through
 * /proc/<supervisor pid>/fd.  Writers use relaxed atomic stores: the table
 * is for observation and dispatch hints, never for locking.  One word is a
 * futex: the supervisor wakes a worker's watcher thread through it to ask
 * for a slow request's PHP stack (a signal would cut the request's
 * sleep()/poll() short: those return EINTR even under SA_RESTART).
 */
#include "slots.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Upper bounds of the latency buckets: 5 ms .. 30 s. */
const uint64_t slot_latency_bounds_us[SLOT_LATENCY_BUCKETS] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000,
};

uint64_t
slots_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

size_t
slots_size(uint32_t nslots)
{
	return sizeof(struct slot_table) + (size_t)nslots * sizeof(struct slot);
}

int
slots_create(uint32_t nslots, struct slot_table **tabp)
{
	size_t sz = slots_size(nslots);
	struct slot_table *t;
	int fd;

	fd = memfd_create("mwsup-slots", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)sz) < 0)
		goto fail;
	t = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (t == MAP_FAILED)
		goto fail;
	memset(t, 0, sz);
	t->magic = SLOTS_MAGIC;
	t->nslots = nslots;
	atomic_store(&t->started, slots_now());
	atomic_store(&t->started_wall, (uint64_t)time(NULL));
	*tabp = t;
	return fd;
fail:
	{
		int e = errno;
		close(fd);
		errno = e;
	}
	return -1;
}

static int
slots_map_prot(int fd, int prot, struct slot_table **tabp)
{
	struct slot_table *t;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if ((size_t)st.st_size < sizeof(struct slot_table)) {
		errno = EINVAL;
		return -1;
	}
	t = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
	if (t == MAP_FAILED)
		return -1;
	if (t->magic != SLOTS_MAGIC ||
	    slots_size(t->nslots) > (size_t)st.st_size) {
		munmap(t, (size_t)st.st_size);
		errno = EINVAL;
		return -1;
	}
	*tabp = t;
	return 0;
}

int
slots_map(int fd, struct slot_table **tabp)
{
	return slots_map_prot(fd, PROT_READ | PROT_WRITE, tabp);
}

int
slots_map_readonly(int fd, struct slot_table **tabp)
{
	return slots_map_prot(fd, PROT_READ, tabp);
}

void
slots_unmap(struct slot_table *tab)
{
	if (tab)
		munmap(tab, slots_size(tab->nslots));
}

void
slot_set_state(struct slot *s, enum slot_state st)
{
	atomic_store_explicit(&s->since, slots_now(), memory_order_relaxed);
	atomic_store_explicit(&s->state, (uint32_t)st, memory_order_release);
}

void
slot_set_request(struct slot *s, const char *method, const char *uri,
    size_t urilen)
{
	size_t ml = strlen(method), n;

	/* A reader may see a half-written line; it is for display only. */
	if (ml + 2 > sizeof(s->request))
		ml = sizeof(s->request) - 2;
	memcpy(s->request, method, ml);
	s->request[ml] = ' ';
	n = urilen < sizeof(s->request) - ml - 2 ?
	    urilen : sizeof(s->request) - ml - 2;
	memcpy(s->request + ml + 1, uri, n);
	s->request[ml + 1 + n] = '\0';
	atomic_store(&s->req_started, slots_now());
}

const char *
slot_state_name(enum slot_state st)
{
	switch (st) {
	case SLOT_EMPTY:	return "empty";
	case SLOT_STARTING:	return "starting";
	case SLOT_IDLE:		return "idle";
	case SLOT_BUSY:		return "busy";
	case SLOT_JOBS:		return "jobs";
	case SLOT_EXITING:	return "exiting";
	}
	return "unknown";
}

/* The table is a shared mapping: process-shared futexes (no _PRIVATE). */
void
slot_ask_stack(struct slot *s, uint64_t id)
{
	atomic_store(&s->stack_id, id);
	atomic_fetch_add(&s->stack_seq, 1);
	(void)syscall(SYS_futex, (uint32_t *)&s->stack_seq, FUTEX_WAKE,
	    INT_MAX, NULL, NULL, 0);
}

uint32_t
slot_wait_stack(struct slot *s, uint32_t seen)
{
	uint32_t v;

	/* EAGAIN (the word changed before we slept) and EINTR just loop. */
	while ((v = atomic_load(&s->stack_seq)) == seen)
		(void)syscall(SYS_futex, (uint32_t *)&s->stack_seq, FUTEX_WAIT,
		    seen, NULL, NULL, 0);
	return v;
}
