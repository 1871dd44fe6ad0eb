/*
 * pathcache.h - remember which directories below a static root were found
 * servable, so that a request for a file in one opens just the file.
 *
 * static.c walks a path one name at a time (no links followed blindly,
 * owners compared, every directory's .htaccess read).  What that walk
 * concluded about a directory part holds until something in one of the
 * directories it went through changes: a name added, removed or renamed
 * (an .htaccess created, a directory swapped for a link), an owner or mode
 * changed, an .htaccess written.  Each directory walked is watched with
 * inotify before it is searched, and the queued events are read before
 * every lookup: a change made before a request is seen by that request,
 * and any such change forgets the whole cache.  An entry keeps the
 * directory open (O_PATH), so the file is opened relative to the very
 * directory that was judged.  At most PATHCACHE_MAX directories are kept;
 * when full, all are forgotten and the cache fills again.
 */
#ifndef MW_PATHCACHE_H
#define MW_PATHCACHE_H

#include <stddef.h>
#include <sys/types.h>

#define PATHCACHE_MAX	256	/* directories (descriptors) kept */

/* Read the changes queued since the last call; forget all on any that
 * matters.  Call before pathcache_lookup() for each request. */
void	pathcache_sync(void);
/* The directory judged servable for key (of len bytes) when its static
 * root was the directory (dev, ino): a borrowed O_PATH descriptor, or -1. */
int	pathcache_lookup(const char *key, size_t len, dev_t dev, ino_t ino);
/* Watch directory fd (any descriptor of it) for changes: 0, or -1 when it
 * cannot be (no inotify, no /proc, too many watches): then nothing found
 * below it may be stored. */
int	pathcache_watch(int fd);
/* Counts the clears: a walk takes it before it begins. */
unsigned pathcache_generation(void);
/* Remember fd's directory (duplicated: fd stays the caller's) as the
 * servable one for key below the root (dev, ino).  Every directory the
 * walk that judged it went through must have been watched (before it was
 * searched) since generation gen; nothing is stored if the cache was
 * cleared since, or if a change came in meanwhile. */
void	pathcache_store(unsigned gen, const char *key, size_t len, dev_t dev,
	    ino_t ino, int fd);
/* Forget everything and close the descriptors (reload, exit). */
void	pathcache_clear(void);

#endif
