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
	/* loop_free_later()'s list: set only once the object is retired. */
	struct loop_ev *dead_next;
	void	(*destroy)(void *data);
};

int	loop_init(void);
void	loop_ev_init(struct loop_ev *ev, int fd, loop_fn *fn, void *data);
/* Register, change or (events == 0) remove interest in ev->fd. */
int	loop_watch(struct loop_ev *ev, uint32_t events);
/* Wait up to timeout_ms and dispatch what is ready; returns events seen. */
int	loop_run_once(int timeout_ms);
/*
 * The one way the supervisor retires an object that holds a loop_ev
 * (a connection, a job slice's reply socket): destroy(ev->data) runs once
 * the current batch of events is dispatched, since a later event of the
 * same batch may still point at the object.  Stop watching ev first.  The
 * list is intrusive, so retiring never allocates and never fails.
 */
void	loop_free_later(struct loop_ev *ev, void (*destroy)(void *data));
/* Destroy everything retired so far (between batches: no event in flight). */
void	loop_reap(void);
/* Monotonic milliseconds, cached per loop iteration. */
uint64_t loop_now_ms(void);
void	loop_update_time(void);

#endif
