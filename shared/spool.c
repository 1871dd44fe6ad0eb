/*
 * spool.c - a memfd that becomes an unlinked temp file past its bound.
 *
 * Files are made with O_TMPFILE, so they have no name and vanish with
 * their last descriptor whatever happens to the process; on a filesystem
 * without it, a named file is made and unlinked at once, and only such a
 * file can be left behind (by a crash in between), which the next start
 * removes.  Writes go through pwrite() at the spool's end, so readers
 * using their own offsets (sendfile, mmap) never move it.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SPOOL_COPY_CHUNK	(64 * 1024)

int
spool_pwrite_all(int fd, const void *p, size_t n, uint64_t at)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, s, n, (off_t)at);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		s += w;
		at += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

int
spool_pread_all(int fd, void *p, size_t n, uint64_t at)
{
	char *d = p;

	while (n > 0) {
		ssize_t r = pread(fd, d, n, (off_t)at);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;	/* shorter than it should be */
			return -1;
		}
		d += r;
		at += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* A new, nameless file in dir, open for reading and writing. */
static int
spool_open_file(const char *dir)
{
	char path[4096];
	int fd, saved;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* EOPNOTSUPP: the filesystem has no O_TMPFILE; EISDIR: the kernel
	 * does not know the flag and saw O_DIRECTORY alone. */
	if (errno != EOPNOTSUPP && errno != EISDIR)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/" SPOOL_PREFIX "XXXXXX",
	    dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
spool_begin(struct spool *sp, const char *dir, bool on_disk)
{
	int fd = on_disk ? spool_open_file(dir) :
	    memfd_create(SPOOL_PREFIX "spool", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	spool_close(sp);
	sp->fd = fd;
	sp->on_disk = on_disk;
	return 0;
}

/* The bytes still needed, [off, len), go to a new file of dir. */
static int
spool_move_to_disk(struct spool *sp, const char *dir)
{
	char buf[SPOOL_COPY_CHUNK];
	uint64_t from = sp->off, to = 0;
	int fd, saved;

	if ((fd = spool_open_file(dir)) < 0)
		return -1;
	while (from < sp->len) {
		size_t want = sp->len - from < sizeof(buf) ?
		    (size_t)(sp->len - from) : sizeof(buf);
		ssize_t r = pread(sp->fd, buf, want, (off_t)from);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			goto fail;
		}
		if (spool_pwrite_all(fd, buf, (size_t)r, to) < 0)
			goto fail;
		from += (uint64_t)r;
		to += (uint64_t)r;
	}
	close(sp->fd);
	sp->fd = fd;
	sp->on_disk = true;
	sp->len -= sp->off;
	sp->off = 0;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
spool_write(struct spool *sp, const void *p, size_t n, const char *dir,
    uint64_t mem_max)
{
	if (n == 0)
		return 0;
	if (sp->fd < 0) {
		if (spool_begin(sp, dir, n > mem_max) < 0)
			return -1;
	} else if (!sp->on_disk && sp->len + n > mem_max &&
	    spool_move_to_disk(sp, dir) < 0)
		return -1;
	if (spool_pwrite_all(sp->fd, p, n, sp->len) < 0)
		return -1;
	sp->len += n;
	return 0;
}

int
spool_empty(struct spool *sp)
{
	if (sp->fd < 0)
		return 0;
	if (sp->on_disk) {
		/* The next bytes start in memory again. */
		spool_close(sp);
		return 0;
	}
	sp->off = sp->len = 0;
	return ftruncate(sp->fd, 0);
}

void
spool_close(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
	sp->on_disk = false;
	sp->off = sp->len = 0;
}

/* Files SPOOL_PREFIX... in the directory open as dfd: a previous run's. */
static void
spool_dir_clean(const char *dir, int dfd)
{
	struct dirent *de;
	DIR *d;
	int fd, n = 0;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		log_warn("temp_dir %s: cannot list it: %s", dir,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, SPOOL_PREFIX,
		    sizeof(SPOOL_PREFIX) - 1) != 0 ||
		    (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			n++;
		else if (errno != ENOENT)
			log_warn("temp_dir %s: removing %s: %s", dir,
			    de->d_name, strerror(errno));
	}
	closedir(d);
	if (n > 0)
		log_notice("temp_dir %s: removed %d file%s left by a previous "
		    "run", dir, n, n == 1 ? "" : "s");
}

int
spool_dir_prepare(const char *dir, bool clean)
{
	struct stat st;
	int dfd, fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_err("temp_dir %s: cannot create it: %s", dir,
		    strerror(errno));
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		log_err("temp_dir %s: %s", dir, errno == ELOOP || errno ==
		    ENOTDIR ? "not a directory (or a symbolic link)" :
		    strerror(errno));
		return -1;
	}
	if (fstat(dfd, &st) < 0) {
		log_err("temp_dir %s: %s", dir, strerror(errno));
		close(dfd);
		return -1;
	}
	/* Request bodies and answers are kept here: nobody else may put
	 * files in or take them out. */
	if (st.st_uid != geteuid()) {
		log_err("temp_dir %s: owned by uid %u, not by the server's "
		    "user (uid %u)", dir, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		close(dfd);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_err("temp_dir %s: writable by others (mode %04o); it must "
		    "not be", dir, (unsigned)(st.st_mode & 07777));
		close(dfd);
		return -1;
	}
	if (clean)
		spool_dir_clean(dir, dfd);
	close(dfd);
	if ((fd = spool_open_file(dir)) < 0) {
		log_err("temp_dir %s: cannot make a file in it: %s", dir,
		    strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}
