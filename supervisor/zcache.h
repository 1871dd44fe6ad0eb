/*
 * zcache.h - static files compressed once, kept in memory for sendfile.
 *
 * A file served with a content coding is encoded the first time it is
 * asked for, into a memfd, and sent from there afterwards like any file.
 * An entry is known by path, mtime, size and coding, so a changed file is
 * encoded again; the least recently used entries go when the cache holds
 * more than compression.static_cache bytes or ZCACHE_FILES descriptors.
 */
#ifndef MW_ZCACHE_H
#define MW_ZCACHE_H

#include <sys/stat.h>
#include <sys/types.h>

#include "compress.h"

/*
 * Encoding runs in the supervisor's event loop, which waits meanwhile: the
 * input and the level are bounded so that it waits tens of milliseconds,
 * once per file (a 290 KB jquery.js: 15 ms at gzip 5, 35 ms at brotli 6,
 * 0.7 to 1.2 s at brotli 9 to 11).  Higher levels are for .gz/.br files
 * made beforehand.
 */
#define ZCACHE_FILES	128		/* descriptors held at most */
#define ZCACHE_INPUT_MAX (512 * 1024)	/* larger files are sent as they are */
#define ZCACHE_GZIP_MAX	6		/* levels used at most */
#define ZCACHE_BROTLI_MAX 6

struct config;

/*
 * A descriptor (the caller's to close) of the file open as fd, described
 * by st and named path, encoded with coding; its length in *len.  -1 when
 * it is not kept (larger than ZCACHE_INPUT_MAX or the cache, out of
 * memory or descriptors, a read error): the caller sends it as it is.
 */
int	zcache_get(const struct config *cfg, const char *path,
	    const struct stat *st, int fd, enum compress_coding coding,
	    off_t *len);
/* Forget every entry (at a reload, whose levels may differ, and at exit). */
void	zcache_clear(void);

#endif
