/*
 * jobs.h - MediaWiki's job queue, run by the supervisor in idle workers.
 *
 * A job slice is a request the supervisor makes itself: the worker runs
 * worker/php/jobs.php (a few jobs of one group, within a time and memory
 * limit, and the queue upkeep the Redis job "chron" service did) and
 * answers on a socketpair whose other end the supervisor reads.  Slices
 * go only to workers beyond jobs.reserve idle ones, and only while no web
 * request waits, so web requests never wait behind more than one slice.
 */
#ifndef MW_JOBS_H
#define MW_JOBS_H

#include <stdint.h>

struct ctl_done;
struct jobs_slice;
struct worker;

void	 jobs_init(void);
/* The configuration changed (SIGHUP): forget what was known per group. */
void	 jobs_reload(void);
/* Start slices if there is work and room; called every loop turn. */
void	 jobs_tick(void);
uint64_t jobs_slice_id(const struct jobs_slice *js);
/* w reported CTL_DONE for its slice: read the answer, count, free. */
void	 jobs_slice_done(struct worker *w, const struct ctl_done *done);
/* w died or was killed during its slice. */
void	 jobs_slice_lost(struct worker *w);
void	 jobs_cleanup(void);

#endif
