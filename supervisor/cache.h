/*
 * cache.h - the page cache: a shared HTTP cache (RFC 9111) in the
 * supervisor for what anonymous readers ask, emptied entry by entry by
 * MediaWiki's PURGE requests ($wgUseCdn, $wgCdnServers).  cache.c says
 * how it works.
 */
#ifndef MW_CACHE_H
#define MW_CACHE_H

#include <stdint.h>

struct conn;

/* After the configuration is loaded or reloaded: entries stay, trimmed
 * to a smaller bound; "cache: off" drops them all. */
void	cache_configure(void);
/* A PURGE request, before routing: answered here (200, 403 from an
 * address not in cache.purge_allow, 405 with the cache off).  Returns 1
 * when c was a PURGE, 0 otherwise. */
int	cache_purge_request(struct conn *c);
/* A request routed to PHP: answered from the cache (1), or 0 with
 * c->cache_flags set to the CTL_REQ_* flags for the worker (store a copy,
 * or say X-Cache: pass). */
int	cache_lookup(struct conn *c);
/* The worker's copy of c's answer (the first len bytes of its copy file;
 * fd closed here): stored unless a purge of its URL came while it was
 * made, or it breaks the rules. */
void	cache_store(struct conn *c, int fd, uint64_t len, int status);
/* c's request is over (answered, failed, or the connection closed). */
void	cache_forget(struct conn *c);
/* Drop every entry (at exit, for leak checks). */
void	cache_clear(void);

#endif
