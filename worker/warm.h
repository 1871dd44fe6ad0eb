/*
 * warm.h - warm mode: MediaWiki bootstrapped once, restored after each request.
 *
 * With snapshot.enabled, the worker keeps one PHP request open for its
 * whole life: worker/php/warm.php bootstraps MediaWiki in it, the
 * checkpoint is taken (checkpoint.h), and each HTTP request for one of
 * MediaWiki's entry points (warm_scripts in warm.c), and each job slice
 * (worker/php/jobs.php), becomes a call into that request followed by a
 * restore.  Any other script, and an entry script that is not the one
 * MediaWiki ships, is served the cold way (a PHP request of its own) after
 * leaving warm mode; the next warm request bootstraps again.
 */
#ifndef MW_WARM_H
#define MW_WARM_H

#include <stdbool.h>

struct config;
struct request;

/* Bootstrap now (so the first request is warm).  Returns 0, or -1 after
 * logging why: the worker then serves every request cold. */
int	 warm_init(const struct config *cfg);
/* The entry point warm mode serves for this script ("index", "api",
 * "load", "rest", or "mwsup-jobs" for the supervisor's job slices), or
 * NULL. */
const char *warm_entry(const char *script);
/* Run the entry point for rq: output is in rq->resp (headers fixed), not
 * yet finished.  Sets rq->fatal and rq->recycle. */
void	 warm_run(struct request *rq, const char *entry);
/* After the response: shutdown functions, restore, SAPI reset. */
void	 warm_cleanup(struct request *rq);
/* Leave warm mode: end the long PHP request (a cold request follows, or
 * the worker exits). */
void	 warm_stop(void);

#endif
