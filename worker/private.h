/*
 * private.h - does a private wiki serve its uploads to anyone?
 *
 * A wiki where anonymous users may not read ($wgGroupPermissions['*']
 * ['read'] = false) still has every upload readable by anyone who knows
 * its URL when a static: mapping serves $wgUploadDirectory: the
 * supervisor sends those files without asking MediaWiki.  Once MediaWiki
 * is set up in a worker (the warm bootstrap, or a cold worker's first
 * request), the worker looks, and tells the supervisor, which warns.
 */
#ifndef MW_PRIVATE_H
#define MW_PRIVATE_H

struct config;

/* The config whose static mappings are compared (the worker's, for
 * good). */
void	private_init(const struct config *cfg);
/* Look, if not done yet, in the PHP request that just ran MediaWiki. */
void	private_check(void);
/* The index in cfg->statics of a mapping that serves a private wiki's
 * upload directory (or part of it), or -1. */
int	private_uploads_mapping(void);
/* 1 once, the first time after private_check() found one: to report. */
int	private_report_due(void);

#endif
