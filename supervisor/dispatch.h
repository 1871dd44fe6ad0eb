/*
 * dispatch.h - hand complete requests to workers, or hold them.
 *
 * The queue is FIFO.  With the "queue" policy (the default) a request
 * waits here until a worker reports idle, and then goes to the idle worker
 * that became idle last (its caches are warmest).  With "longest-busy",
 * when no worker is idle, a request goes at once to the worker that has
 * been busy longest, on the bet that it finishes first; it waits behind
 * that worker's current request even if another worker frees up sooner.
 * "longest-busy" is kept only to compare the two in the bench.
 */
#ifndef MW_DISPATCH_H
#define MW_DISPATCH_H

struct conn;
struct worker;

void	dispatch_submit(struct conn *c);
void	dispatch_cancel(struct conn *c);
/* A worker became idle: give it the oldest waiting request, if any. */
void	dispatch_worker_idle(struct worker *w);
int	dispatch_queue_len(void);
/* Requests of site waiting (site.h). */
int	dispatch_site_len(int site);
/* Reload: each waiting request's site chosen again by its Host under the
 * new sup.cfg (the sites may have changed). */
void	dispatch_reload_sites(void);
/* Requests waiting past the request timeout get 503. */
void	dispatch_tick(void);
/* Fail every waiting request with status (shutdown). */
void	dispatch_fail_all(int status);
/* A request held for a busy worker (longest-busy: w->pending) that will
 * not take it (the worker died or recycles): back to the queue's front. */
void	dispatch_requeue(struct conn *c);

#endif
