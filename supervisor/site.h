/*
 * site.h - the sites of a wiki farm (mw.yaml sites:): which one a request
 * is for.
 *
 * Each site has a pool of workers of its own (pool.c), which bootstrapped
 * that site's LocalSettings.php; a request goes only to a worker of its
 * site.  A site is an index into sup.cfg->sites; without sites: every
 * request and every worker has site SITE_NONE, so the one pool serves all.
 */
#ifndef MW_SITE_H
#define MW_SITE_H

#include <stddef.h>

struct config;

#define SITE_NONE	(-1)	/* no sites: configured */
#define SITE_GONE	(-2)	/* a worker whose site a reload removed */

/*
 * The site of a request whose Host names host (hostlen bytes, without the
 * port; none: 0): a site's name or alias, else the longest "*.suffix"
 * alias it ends in, else the site marked default, else the first site.
 * Never fails: an unknown host is the default site's.  SITE_NONE without
 * sites.
 */
int		 site_choose(const struct config *cfg, const char *host,
		    size_t hostlen);
/* The index of the site called name in cfg, or SITE_GONE. */
int		 site_find(const struct config *cfg, const char *name);
/* Its name ("" for SITE_NONE and SITE_GONE). */
const char	*site_name(const struct config *cfg, int site);
/* How many workers its pool has (pool.workers without sites). */
int		 site_workers(const struct config *cfg, int site);
/* Sites to walk: the number of sites, or 1 (SITE_NONE) without. */
int		 site_count(const struct config *cfg);
/* The i-th of those (0 <= i < site_count): i, or SITE_NONE. */
int		 site_at(const struct config *cfg, int i);

#endif
