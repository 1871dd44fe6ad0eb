/*
 * slots.h - the shared-memory slot table ("scoreboard").
 *
 * One cache-line slot per worker in a memfd mapped by the supervisor and by
 * every worker.  A worker writes only its own slot, with atomic stores;
 * readers (the supervisor, `mwsup status`) load each field atomically and
 * accept a slightly torn view across fields.  Timestamps are
 * CLOCK_MONOTONIC nanoseconds.
 */
#ifndef MW_SLOTS_H
#define MW_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#define SLOTS_MAGIC	0x6d77736c6f747331ULL	/* "mwslots1" */

enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_STARTING,
	SLOT_IDLE,
	SLOT_BUSY,
	SLOT_JOBS,
	SLOT_EXITING,
};

struct slot {
	_Atomic uint32_t pid;
	_Atomic uint32_t generation;
	_Atomic uint32_t state;		/* enum slot_state */
	_Atomic uint32_t status;	/* HTTP status of the current/last response */
	_Atomic uint64_t since;		/* when state last changed */
	_Atomic uint64_t requests;	/* requests served by this process */
	_Atomic uint64_t rss_kb;	/* resident set after the last request */
	_Atomic uint64_t request_id;	/* current request, 0 when none */
	_Atomic uint64_t bytes_out;	/* bytes of the current response written */
	char	 pad[8];
} __attribute__((aligned(64)));

struct slot_table {
	uint64_t	magic;
	uint32_t	nslots;
	uint32_t	pad;
	_Atomic uint64_t started;	/* supervisor start, CLOCK_MONOTONIC ns */
	char		pad2[40];
	struct slot	slots[];
};

uint64_t	 slots_now(void);
size_t		 slots_size(uint32_t nslots);
/* Supervisor: create a memfd with nslots empty slots; returns its fd. */
int		 slots_create(uint32_t nslots, struct slot_table **tabp);
/* Worker or status reader: map an existing table (read-write). */
int		 slots_map(int fd, struct slot_table **tabp);
void		 slots_unmap(struct slot_table *tab);
void		 slot_set_state(struct slot *s, enum slot_state st);
const char	*slot_state_name(enum slot_state st);

#endif
