/*
 * zcache.c - the cache of compressed static files (see zcache.h).
 *
 * A small array searched linearly: it holds at most ZCACHE_FILES entries,
 * and a lookup costs far less than the sendfile that follows.  Entries are
 * memfds so that a connection sends from its own dup of one while the
 * cache may drop it: the bytes live until the last descriptor closes.
 * Encoding runs in the event loop, once per file and coding, which is why
 * the input is bounded (ZCACHE_INPUT_MAX).
 */
#include "zcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sup.h"

struct zcache_entry {
	char			*path;		/* NULL: free */
	struct timespec		 mtime;
	off_t			 size;		/* of the file */
	enum compress_coding	 coding;
	int			 fd;		/* memfd with the encoded bytes */
	off_t			 len;		/* their number */
	uint64_t		 used;		/* zcache_clock at last use */
};

static struct zcache_entry	zcache[ZCACHE_FILES];
static uint64_t			zcache_clock;
static uint64_t			zcache_bytes;	/* sum of len */
static uint64_t			zcache_nentries;

/* The cache's size, for mwsup status. */
static void
zcache_publish(void)
{
	SUP_SET(zcache_entries, zcache_nentries);
	SUP_SET(zcache_bytes, zcache_bytes);
}

static void
zcache_drop(struct zcache_entry *e)
{
	if (e->path == NULL)
		return;
	free(e->path);
	close(e->fd);
	zcache_bytes -= (uint64_t)e->len;
	zcache_nentries--;
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	zcache_publish();
}

void
zcache_clear(void)
{
	for (int i = 0; i < ZCACHE_FILES; i++)
		zcache_drop(&zcache[i]);
}

/* Room for len more bytes and one more descriptor: drop the least
 * recently used entries.  Returns a free entry. */
static struct zcache_entry *
zcache_room(uint64_t max, off_t len)
{
	for (;;) {
		struct zcache_entry *lru = NULL, *free_e = NULL;

		for (int i = 0; i < ZCACHE_FILES; i++) {
			struct zcache_entry *e = &zcache[i];

			if (e->path == NULL) {
				free_e = free_e ? free_e : e;
				continue;
			}
			if (lru == NULL || e->used < lru->used)
				lru = e;
		}
		if (free_e && zcache_bytes + (uint64_t)len <= max)
			return free_e;
		if (lru == NULL)
			return NULL;	/* cannot be: len <= max checked */
		zcache_drop(lru);
	}
}

/* The whole file into a new buffer; NULL on a read error or short read
 * (the file changed under us: sent as it is this time). */
static char *
zcache_read(int fd, off_t size)
{
	char *buf = malloc(size > 0 ? (size_t)size : 1);
	size_t got = 0;

	if (buf == NULL)
		return NULL;
	while (got < (size_t)size) {
		ssize_t n = pread(fd, buf + got, (size_t)size - got,
		    (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	return buf;
}

/* The encoded bytes of the file, in a new memfd; -1 if not made. */
static int
zcache_make(const struct config *cfg, const char *path, int fd,
    const struct stat *st, enum compress_coding coding, off_t *len)
{
	struct compress_buf out = { NULL, 0, 0 };
	int mfd = -1, level = compress_level(cfg, coding),
	    max = coding == COMPRESS_GZIP ? ZCACHE_GZIP_MAX : ZCACHE_BROTLI_MAX;
	char *in;

	errno = 0;
	if ((in = zcache_read(fd, st->st_size)) == NULL) {
		log_warn("static %s: reading it to compress: %s", path,
		    errno ? strerror(errno) : "shorter than its size");
		return -1;
	}
	if (compress_all(coding, level < max ? level : max, in,
	    (size_t)st->st_size, &out) == -1)
		log_warn("static %s: %s-encoding it: out of memory", path,
		    compress_name(coding));
	else if ((mfd = memfd_create("mwsup-zcache", MFD_CLOEXEC)) < 0)
		log_warn("static %s: memfd for its %s form: %s", path,
		    compress_name(coding), strerror(errno));
	else if (sup_write_all(mfd, out.p, out.len) < 0) {
		log_warn("static %s: keeping its %s form: %s", path,
		    compress_name(coding), strerror(errno));
		close(mfd);
		mfd = -1;
	}
	*len = (off_t)out.len;
	free(in);
	free(out.p);
	return mfd;
}

int
zcache_get(const struct config *cfg, const char *path, const struct stat *st,
    int fd, enum compress_coding coding, off_t *len)
{
	struct zcache_entry *e, *old = NULL;
	off_t elen;
	int mfd, dfd;

	for (int i = 0; i < ZCACHE_FILES; i++) {
		e = &zcache[i];
		if (e->path == NULL || e->coding != coding ||
		    strcmp(e->path, path) != 0)
			continue;
		if (e->size == st->st_size &&
		    e->mtime.tv_sec == st->st_mtim.tv_sec &&
		    e->mtime.tv_nsec == st->st_mtim.tv_nsec) {
			if ((dfd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0)) < 0)
				return -1;
			e->used = ++zcache_clock;
			*len = e->len;
			SUP_COUNT(zcache_hits, 1);
			return dfd;
		}
		old = e;	/* the file changed: this form is stale */
	}
	if (old)
		zcache_drop(old);
	SUP_COUNT(zcache_misses, 1);
	if (st->st_size > ZCACHE_INPUT_MAX ||
	    (uint64_t)st->st_size > cfg->static_cache)
		return -1;
	if ((mfd = zcache_make(cfg, path, fd, st, coding, &elen)) < 0)
		return -1;
	if ((uint64_t)elen > cfg->static_cache ||
	    (e = zcache_room(cfg->static_cache, elen)) == NULL ||
	    (e->path = strdup(path)) == NULL) {
		close(mfd);
		return -1;
	}
	e->mtime = st->st_mtim;
	e->size = st->st_size;
	e->coding = coding;
	e->fd = mfd;
	e->len = elen;
	e->used = ++zcache_clock;
	zcache_bytes += (uint64_t)elen;
	zcache_nentries++;
	zcache_publish();
	if ((dfd = fcntl(mfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	*len = elen;
	return dfd;
}
