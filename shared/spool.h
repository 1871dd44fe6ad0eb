/*
 * spool.h - bytes held on their way elsewhere, in memory up to a bound and
 * on disk beyond it.
 *
 * A request body read ahead of its worker and the part of a response a
 * slow client has not taken yet are both held for as long as a client
 * chooses.  Kept in memory without a bound, a few clients that send slowly
 * or read slowly would decide how much memory the server uses.  A spool
 * is one descriptor either way, so it can be mapped, sendfile()d and
 * passed to another process: a memfd while it is small, an unlinked file
 * in the temp directory (mw.yaml temp_dir) once it would pass its bound.
 */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names of the files in the temp directory (only where O_TMPFILE is not
 * available; they are unlinked at once) and of the memfds. */
#define SPOOL_PREFIX	"mwsup-"

struct spool {
	int		 fd;		/* -1 until the first byte */
	bool		 on_disk;	/* a temp file, not a memfd */
	uint64_t	 off;		/* bytes before this are no longer needed */
	uint64_t	 len;		/* bytes written */
};

#define SPOOL_EMPTY	{ -1, false, 0, 0 }

/* Give sp (empty) its descriptor: a memfd, or a file of dir when on_disk
 * (for data known to pass the bound).  Returns 0, or -1 with errno. */
int	spool_begin(struct spool *sp, const char *dir, bool on_disk);
/* Append n bytes; the spool moves to a file of dir before its memfd would
 * hold more than mem_max bytes.  Returns 0, or -1 with errno (the spool is
 * left as it was). */
int	spool_write(struct spool *sp, const void *p, size_t n,
	    const char *dir, uint64_t mem_max);
/* Everything was taken: keep the descriptor, drop the bytes. */
int	spool_empty(struct spool *sp);
/* Close the descriptor; sp is empty again. */
void	spool_close(struct spool *sp);

/* Write all n bytes at offset at, or read exactly n bytes from it,
 * retrying after signals.  Returns 0, or -1 with errno (ENOSPC for a
 * write that takes nothing, EIO for a read that ends short). */
int	spool_pwrite_all(int fd, const void *p, size_t n, uint64_t at);
int	spool_pread_all(int fd, void *p, size_t n, uint64_t at);

/* Make the temp directory ready: created (0700) if missing, refused when
 * it is not a directory of ours that only we may write; with clean, files
 * a previous run left there (named SPOOL_PREFIX...) are removed.  Errors
 * are logged, naming the directory; returns 0 or -1. */
int	spool_dir_prepare(const char *dir, bool clean);

#endif
