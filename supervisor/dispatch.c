/*
 * dispatch.c - the request queue between connections and workers.
 *
 * A request that finds no idle worker waits here, in arrival order, for
 * at most the request timeout; past queue_max new requests get 503 at
 * once, which tells a load balancer to try another host instead of
 * piling up latency.
 *
 * A farm (sites:) keeps one queue too: a worker that becomes idle takes
 * the oldest request of its own site, so a site whose workers are all
 * busy does not hold up another's requests behind it, and each site's
 * requests are served in their order.
 */
#include "dispatch.h"
#include "conn.h"
#include "log.h"
#include "pool.h"
#include "site.h"
#include "sup.h"

#include <string.h>

static TAILQ_HEAD(, conn) dispatch_q = TAILQ_HEAD_INITIALIZER(dispatch_q);
static int dispatch_n;
/* Waiting requests per site, at site + 1 (0: SITE_NONE). */
static int dispatch_site_n[CONFIG_MAX_SITES + 1];

static int *
dispatch_site_slot(int site)
{
	return &dispatch_site_n[site >= 0 && site < CONFIG_MAX_SITES ?
	    site + 1 : 0];
}

static void
dispatch_enqueue(struct conn *c, int front)
{
	if (front)
		TAILQ_INSERT_HEAD(&dispatch_q, c, qlink);
	else
		TAILQ_INSERT_TAIL(&dispatch_q, c, qlink);
	c->in_queue = 1;
	dispatch_n++;
	(*dispatch_site_slot(c->site))++;
	SUP_SET(queued, (uint64_t)dispatch_n);
}

/* The oldest waiting request of site, taken off the queue, or NULL. */
static struct conn *
dispatch_dequeue(int site)
{
	struct conn *c;

	if (*dispatch_site_slot(site) == 0)
		return NULL;
	TAILQ_FOREACH(c, &dispatch_q, qlink)
		if (c->site == site)
			break;
	if (c)
		dispatch_cancel(c);
	return c;
}

void
dispatch_cancel(struct conn *c)
{
	if (!c->in_queue)
		return;
	TAILQ_REMOVE(&dispatch_q, c, qlink);
	c->in_queue = 0;
	dispatch_n--;
	(*dispatch_site_slot(c->site))--;
	SUP_SET(queued, (uint64_t)dispatch_n);
}

void
dispatch_submit(struct conn *c)
{
	struct worker *w;

	while ((w = pool_pick_idle(c->site)) != NULL)
		if (pool_assign(w, c) == 0)
			return;
	if (sup.cfg->dispatch == DISPATCH_LONGEST_BUSY &&
	    (w = pool_pick_longest_busy(c->site)) != NULL) {
		w->pending = c;
		c->worker = w;
		return;
	}
	if (pool_ready_count(c->site) == 0 && pool_crash_looping(c->site)) {
		/* Nobody will be able to serve it soon: say so now. */
		SUP_COUNT(rejected, 1);
		conn_error(c, 503);
		return;
	}
	if (dispatch_n >= sup.cfg->queue_max) {
		log_warn("queue full (%d requests waiting): 503",
		    dispatch_n);
		SUP_COUNT(rejected, 1);
		conn_error(c, 503);
		return;
	}
	c->deadline = 0;
	c->req_start = loop_now_ms();
	dispatch_enqueue(c, 0);
}

void
dispatch_worker_idle(struct worker *w)
{
	struct conn *c;

	if (w->pending) {
		c = w->pending;
		w->pending = NULL;
		c->worker = NULL;
		if (pool_assign(w, c) == 0)
			return;
		dispatch_enqueue(c, 1);
		return;
	}
	while (w->state == WORKER_IDLE &&
	    (c = dispatch_dequeue(w->site)) != NULL) {
		if (pool_assign(w, c) < 0) {
			dispatch_enqueue(c, 1);
			return;
		}
	}
}

void
dispatch_requeue(struct conn *c)
{
	c->worker = NULL;
	dispatch_enqueue(c, 1);
}

int
dispatch_queue_len(void)
{
	return dispatch_n;
}

int
dispatch_site_len(int site)
{
	return *dispatch_site_slot(site);
}

void
dispatch_reload_sites(void)
{
	struct conn *c;

	memset(dispatch_site_n, 0, sizeof(dispatch_site_n));
	TAILQ_FOREACH(c, &dispatch_q, qlink) {
		c->site = conn_site(c);
		(*dispatch_site_slot(c->site))++;
	}
}

void
dispatch_tick(void)
{
	uint64_t limit = (uint64_t)sup.cfg->request_timeout_ms;
	struct conn *c, *next;

	for (int i = 0; dispatch_n > 0 && i < site_count(sup.cfg); i++) {
		int site = site_at(sup.cfg, i), n = dispatch_site_len(site);

		if (n == 0 || pool_ready_count(site) > 0 ||
		    !pool_crash_looping(site))
			continue;
		if (site == SITE_NONE)
			log_warn("no worker can start: failing %d queued "
			    "request(s)", n);
		else
			log_warn("no worker of site %s can start: failing %d "
			    "queued request(s)", site_name(sup.cfg, site), n);
		for (c = TAILQ_FIRST(&dispatch_q); c != NULL; c = next) {
			next = TAILQ_NEXT(c, qlink);
			if (c->site != site)
				continue;
			dispatch_cancel(c);
			conn_error(c, 503);
		}
	}
	while ((c = TAILQ_FIRST(&dispatch_q)) != NULL &&
	    loop_now_ms() - c->req_start >= limit) {
		dispatch_cancel(c);
		log_warn("request waited %llu ms for a worker: 503",
		    (unsigned long long)(loop_now_ms() - c->req_start));
		SUP_COUNT(rejected, 1);
		conn_error(c, 503);
	}
}

void
dispatch_fail_all(int status)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&dispatch_q)) != NULL) {
		dispatch_cancel(c);
		conn_error(c, status);
	}
}
