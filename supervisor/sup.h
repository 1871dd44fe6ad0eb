/*
 * sup.h - the few process-wide facts every supervisor module reads.
 *
 * Kept deliberately small: the loaded configuration, the slot table and
 * whether a stop was asked for.  Everything else belongs to one module.
 */
#ifndef MW_SUP_H
#define MW_SUP_H

#include <stdatomic.h>

#include "config.h"
#include "slots.h"

struct sup {
	struct config		*cfg;
	struct slot_table	*slots;
	int			 slots_fd;
	int			 config_fd;	/* memfd with the config bytes */
	int			 stopping;	/* listener closed: finish, exit */
	int			 draining;	/* SIGTERM seen: health says so,
						 * connections close after each
						 * answer; stopping follows after
						 * timeouts.drain */
	int			 socket_activated;
	uint64_t		 next_request_id;
	uint64_t		 served;	/* responses from workers */
};

extern struct sup sup;

/* Count a response in the shared counters (mwsup status, metrics). */
void	sup_count_response(int status, int by_worker);
/* write(2) all of buf to a file (memfds here), retrying after signals. */
int	sup_write_all(int fd, const void *buf, size_t len);
/* Record a complete response's time in the latency histogram. */
void	sup_observe_latency(uint64_t us);
#define SUP_COUNT(field, n) \
	do { if (sup.slots) atomic_fetch_add(&sup.slots->counters.field, (n)); } while (0)
#define SUP_SET(field, v) \
	do { if (sup.slots) atomic_store(&sup.slots->counters.field, (v)); } while (0)

#endif
