/*
 * slots.c - create, map and update the shared slot table.
 *
 * The table lives in a memfd so it needs no path on disk and dies with the
 * last process that maps it; `mwsup status` reaches it through
 * /proc/<supervisor pid>/fd.  Writers use relaxed atomic stores: the table
 * is for observation and dispatch hints, never for locking.
 */
#include "slots.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int
slots_map(int fd, struct slot_table **tabp)
{
	struct slot_table *t;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if ((size_t)st.st_size < sizeof(struct slot_table)) {
		errno = EINVAL;
		return -1;
	}
	t = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
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
