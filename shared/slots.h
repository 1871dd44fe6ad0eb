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

#define SLOTS_MAGIC	0x6d77736c6f747336ULL	/* "mwslots6" */
#define SLOT_REQUEST_MAX	128
#define SLOT_SITE_MAX		48	/* a longer site name is cut */
#define SLOT_LATENCY_BUCKETS	12

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
	/* Written by the supervisor when it hands the worker a request, so
	 * `mwsup status` can show what each busy worker is doing. */
	_Atomic uint64_t req_started;	/* CLOCK_MONOTONIC ns */
	/* The supervisor's ask for the PHP stack of a slow request: the
	 * request's id, then stack_seq bumped as a futex the worker waits on
	 * (slot_ask_stack, slot_wait_stack). */
	_Atomic uint64_t stack_id;
	_Atomic uint32_t stack_seq;
	uint32_t	 pad;
	char	 request[SLOT_REQUEST_MAX];	/* "GET /wiki/Main_Page" */
	/* The site of a farm the worker serves (sites:), "" without; written
	 * by the supervisor before it starts the worker. */
	char	 site[SLOT_SITE_MAX];
} __attribute__((aligned(64)));

/* Supervisor-wide figures, written by the supervisor only. */
struct slot_counters {
	_Atomic uint64_t sup_pid;
	_Atomic uint64_t generation;
	_Atomic uint64_t workers;	/* configured pool size */
	_Atomic uint64_t connections;	/* open client connections */
	_Atomic uint64_t queued;	/* requests waiting for a worker */
	_Atomic uint64_t responses[6];	/* by class: [1] 1xx .. [5] 5xx, [0] other */
	_Atomic uint64_t static_served;	/* answered by the supervisor itself */
	_Atomic uint64_t php_served;	/* answered by a worker */
	_Atomic uint64_t worker_starts;
	_Atomic uint64_t worker_deaths;	/* exits the supervisor did not ask for */
	_Atomic uint64_t worker_recycles;
	_Atomic uint64_t timeouts;	/* requests killed for time (504) */
	_Atomic uint64_t rejected;	/* 503 for a full queue or no worker */
	_Atomic uint64_t reloads;
	/* The job queue (supervisor/jobs.c). */
	_Atomic uint64_t jobs_run;	/* jobs that succeeded */
	_Atomic uint64_t jobs_failed;	/* jobs that failed (retried later) */
	_Atomic uint64_t job_slices;	/* slices handed to workers */
	_Atomic uint64_t job_slice_errors;	/* slices that died or failed */
	_Atomic uint64_t jobs_recycled;	/* claims past claimTTL re-queued */
	_Atomic uint64_t jobs_abandoned_now;	/* given up after their attempts */
	_Atomic uint64_t jobs_ready;	/* last seen: waiting to run */
	_Atomic uint64_t jobs_claimed;	/* last seen: being run, or failed */
	_Atomic uint64_t jobs_delayed;	/* last seen: not due yet */
	_Atomic uint64_t jobs_abandoned;	/* last seen: past their attempts */
	/* Response times, cumulative buckets as Prometheus wants them. */
	_Atomic uint64_t latency_le[SLOT_LATENCY_BUCKETS];
	_Atomic uint64_t latency_count;
	_Atomic uint64_t latency_sum_us;

	/* The page cache (supervisor/cache.c). */
	_Atomic uint64_t cache_hits;
	_Atomic uint64_t cache_misses;	/* looked up, not there: a worker answers */
	_Atomic uint64_t cache_pass_method;	/* not GET (HEAD misses too) */
	_Atomic uint64_t cache_pass_auth;	/* Authorization */
	_Atomic uint64_t cache_pass_cookie;	/* a session or login cookie */
	_Atomic uint64_t cache_pass_scheme;	/* an X-Forwarded-Proto PHP
					 * believes and mwsup does not */
	_Atomic uint64_t cache_stored;	/* answers stored */
	_Atomic uint64_t cache_not_stored;	/* copies refused: too large, purged
					 * while in flight, malformed */
	_Atomic uint64_t cache_purges;	/* PURGE requests accepted */
	_Atomic uint64_t cache_purged;	/* entries they removed */
	_Atomic uint64_t cache_evictions;	/* entries dropped for room */
	_Atomic uint64_t cache_entries;	/* now */
	_Atomic uint64_t cache_bytes;	/* now, entries with their overhead */
	_Atomic uint64_t cache_size;	/* the bound, cache.size; 0 when off */
	_Atomic uint64_t cache_coalesced;	/* misses that waited for another */

	/* Static files compressed once (supervisor/zcache.c). */
	_Atomic uint64_t zcache_hits;	/* encoded forms sent from the cache */
	_Atomic uint64_t zcache_misses;	/* not there: encoded now, or sent as
					 * they are (too large) */
	_Atomic uint64_t zcache_entries;	/* now */
	_Atomic uint64_t zcache_bytes;	/* now, their encoded bytes */
};

extern const uint64_t slot_latency_bounds_us[SLOT_LATENCY_BUCKETS];

_Static_assert(sizeof(struct slot) == 256, "a slot is four cache lines");

/* slot_table.flags, set by the supervisor from mw.yaml */
#define SLOTS_SHOW_QUERY	0x1	/* show requests with their query */

struct slot_table {
	uint64_t	magic;
	uint32_t	nslots;
	_Atomic uint32_t flags;		/* SLOTS_* */
	_Atomic uint64_t started;	/* supervisor start, CLOCK_MONOTONIC ns */
	_Atomic uint64_t started_wall;	/* the same, as Unix time seconds */
	struct slot_counters counters;
	struct slot	slots[] __attribute__((aligned(64)));
};

uint64_t	 slots_now(void);
size_t		 slots_size(uint32_t nslots);
/* Supervisor: create a memfd with nslots empty slots; returns its fd. */
int		 slots_create(uint32_t nslots, struct slot_table **tabp);
/* Worker or status reader: map an existing table (read-write). */
int		 slots_map(int fd, struct slot_table **tabp);
/* `mwsup status`: map read-only. */
int		 slots_map_readonly(int fd, struct slot_table **tabp);
void		 slots_unmap(struct slot_table *tab);
void		 slot_set_state(struct slot *s, enum slot_state st);
/* Supervisor: record the request a worker was just handed. */
void		 slot_set_request(struct slot *s, const char *method,
		    const char *uri, size_t urilen);
const char	*slot_state_name(enum slot_state st);
/* Supervisor: ask the worker for the PHP stack of request id (still
 * running past log.slow).  Wakes the worker's watcher thread; nothing
 * reaches PHP's thread but a VM interrupt, so no system call of the
 * request sees EINTR. */
void		 slot_ask_stack(struct slot *s, uint64_t id);
/* Worker: wait until stack_seq differs from seen; returns its new value. */
uint32_t	 slot_wait_stack(struct slot *s, uint32_t seen);

#endif
