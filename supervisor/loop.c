/*
 * loop.c - a minimal epoll loop: register, wait, call back.
 *
 * The supervisor is single-threaded, so the loop owns no locks; callbacks
 * run to completion.  A callback may retire other objects while events
 * for them wait later in the same batch: the owner stops watching the
 * object (its ev->events becomes 0, and the loop skips its stale events)
 * and hands it to loop_free_later(), which frees it after the batch.
 */
#include "loop.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH	64

static int loop_epfd = -1;
static uint64_t loop_now;
static struct loop_ev *loop_dead;

int
loop_init(void)
{
	loop_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop_epfd < 0)
		return -1;
	loop_update_time();
	return 0;
}

void
loop_ev_init(struct loop_ev *ev, int fd, loop_fn *fn, void *data)
{
	ev->fd = fd;
	ev->fn = fn;
	ev->data = data;
	ev->events = 0;
	ev->dead_next = NULL;
	ev->destroy = NULL;
}

int
loop_watch(struct loop_ev *ev, uint32_t events)
{
	struct epoll_event ee;
	int op;

	if (events == ev->events)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = ev;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (ev->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(loop_epfd, op, ev->fd, &ee) < 0) {
		if (op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF)) {
			ev->events = 0;
			return 0;
		}
		return -1;
	}
	ev->events = events;
	return 0;
}

void
loop_update_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	loop_now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
loop_now_ms(void)
{
	return loop_now;
}

void
loop_free_later(struct loop_ev *ev, void (*destroy)(void *data))
{
	ev->destroy = destroy;
	ev->dead_next = loop_dead;
	loop_dead = ev;
}

void
loop_reap(void)
{
	struct loop_ev *ev;

	while ((ev = loop_dead) != NULL) {
		loop_dead = ev->dead_next;
		ev->destroy(ev->data);
	}
}

int
loop_run_once(int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n, i;

	/* Objects retired between batches have no event in flight. */
	loop_reap();
	n = epoll_wait(loop_epfd, evs, LOOP_BATCH, timeout_ms);
	loop_update_time();
	if (n < 0) {
		if (errno != EINTR)
			log_err("epoll_wait: %s", strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct loop_ev *ev = evs[i].data.ptr;

		/*
		 * An earlier callback in this batch may have stopped watching
		 * this object; its events are stale then.  Objects are freed
		 * only after the batch (loop_free_later()).
		 */
		if (ev->events == 0)
			continue;
		ev->fn(ev, evs[i].events);
	}
	loop_reap();
	return n;
}
