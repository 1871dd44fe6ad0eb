/*
 * loop.h - the supervisor's single epoll event loop.
 *
 * Every descriptor the supervisor watches is a struct loop_ev embedded in
 * the object that owns it; epoll hands back that pointer and the loop
 * calls its function.  No timers here: the main loop wakes at least every
 * LOOP_TICK_MS and each subsystem checks its own deadlines.
 */
#ifndef MW_LOOP_H
#define MW_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#define LOOP_TICK_MS	100

struct loop_ev;
typedef void loop_fn(struct loop_ev *ev, uint32_t events);

struct loop_ev {
	int	 fd;
	loop_fn	*fn;
	void	*data;
	uint32_t events;	/* currently registered, 0 when not in the set */
};

int	loop_init(void);
void	loop_ev_init(struct loop_ev *ev, int fd, loop_fn *fn, void *data);
/* Register, change or (events == 0) remove interest in ev->fd. */
int	loop_watch(struct loop_ev *ev, uint32_t events);
/* Wait up to timeout_ms and dispatch what is ready; returns events seen. */
int	loop_run_once(int timeout_ms);
/* Free p (an object holding a loop_ev) once the current batch of events
 * is dispatched: a later event of the same batch may still point at it. */
void	loop_free_later(void *p);
/* Monotonic milliseconds, cached per loop iteration. */
uint64_t loop_now_ms(void);
void	loop_update_time(void);

#endif
