/*
 * pathcache.c - static.c's verdicts on directories, kept while inotify
 * says nothing in their path changed.
 *
 * One table of PATHCACHE_SLOTS slots (open addressing, linear probing,
 * never more than half full), each a key made by static.c (the symlinks
 * policy, where the root ends, the directory's path as requested), the
 * root it was judged under and an O_PATH descriptor of the directory.
 * Entries are never removed one by one: a change forgets them all, by
 * closing the inotify descriptor (which drops every watch) and each
 * entry's directory.  Watches are only added, so they are bounded by
 * the directories walked since the last clear, which the table bounds
 * unless walks keep failing; past PATHCACHE_WATCHES the cache is cleared
 * too.  inotify does not see a file system mounted over a directory:
 * /proc/self/mountinfo, polled with the inotify descriptor in the same
 * call, says the mount table changed, and that forgets all as well.
 */
#include "pathcache.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#define PATHCACHE_SLOTS		(2 * PATHCACHE_MAX)
#define PATHCACHE_WATCHES	(16 * PATHCACHE_MAX)

/* what changes a verdict: names, owners, modes, the directory itself;
 * a write only when it is to an .htaccess (see pathcache_matters) */
#define PATHCACHE_EVENTS	(IN_ATTRIB | IN_CREATE | IN_DELETE | \
    IN_DELETE_SELF | IN_MODIFY | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO)

struct pathcache_entry {
	char	*key;		/* NULL: a free slot */
	size_t	 len;
	uint64_t hash;
	dev_t	 dev;		/* the root it was judged under */
	ino_t	 ino;
	int	 fd;		/* the directory, O_PATH */
};

static struct {
	struct pathcache_entry slot[PATHCACHE_SLOTS];
	int	 n;
	int	 ifd;		/* inotify, -1 until a first watch */
	int	 mfd;		/* /proc/self/mountinfo: mounts, -1 */
	int	 nwatch;	/* directories watched since the last clear */
	int	 broken;	/* no inotify or mountinfo: never cache */
	unsigned gen;		/* clears so far */
} pc = { .ifd = -1, .mfd = -1 };

static uint64_t
pathcache_hash(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void
pathcache_clear(void)
{
	for (int i = 0; i < PATHCACHE_SLOTS; i++) {
		struct pathcache_entry *e = &pc.slot[i];

		if (e->key == NULL)
			continue;
		free(e->key);
		close(e->fd);
		e->key = NULL;
	}
	pc.n = 0;
	pc.gen++;
	if (pc.ifd >= 0)
		close(pc.ifd);
	if (pc.mfd >= 0)
		close(pc.mfd);
	pc.ifd = pc.mfd = -1;
	pc.nwatch = 0;
}

/* Does event ev make some verdict stale? */
static int
pathcache_matters(const struct inotify_event *ev)
{
	/* a file's bytes change what is sent, not whether it may be */
	if ((ev->mask & ~IN_ISDIR) == IN_MODIFY && ev->len > 0 &&
	    strcmp(ev->name, ".htaccess") != 0)
		return 0;
	/* anything else: a name, an owner or mode, the directory gone or
	 * moved, a watch dropped (IN_IGNORED), events lost (IN_Q_OVERFLOW) */
	return 1;
}

void
pathcache_sync(void)
{
	/* aligned as struct inotify_event needs */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p[2];
	ssize_t n;
	int r;

	if (pc.ifd < 0)
		return;
	/* one call for both: inotify's queue, and the mount table (a file
	 * system mounted over a directory, which inotify does not see) */
	p[0].fd = pc.ifd;
	p[0].events = POLLIN;
	p[1].fd = pc.mfd;
	p[1].events = POLLPRI;
	p[0].revents = p[1].revents = 0;
	while ((r = poll(p, pc.mfd >= 0 ? 2 : 1, 0)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return;
	if (r < 0 || (p[1].revents & (POLLPRI | POLLERR)) ||
	    (p[0].revents & (POLLERR | POLLNVAL))) {
		pathcache_clear();	/* cannot tell, or mounts changed */
		return;
	}
	while ((n = read(pc.ifd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				pathcache_clear();	/* cannot tell: forget */
			return;
		}
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const void *)q;

			if (pathcache_matters(ev)) {
				pathcache_clear();
				return;
			}
			q += sizeof(*ev) + ev->len;
		}
	}
}

int
pathcache_lookup(const char *key, size_t len, dev_t dev, ino_t ino)
{
	uint64_t h = pathcache_hash(key, len);

	for (size_t i = h % PATHCACHE_SLOTS;; i = (i + 1) % PATHCACHE_SLOTS) {
		struct pathcache_entry *e = &pc.slot[i];

		if (e->key == NULL)
			return -1;
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0)
			return e->dev == dev && e->ino == ino ? e->fd : -1;
	}
}

int
pathcache_watch(int fd)
{
	char proc[64];
	int wd;

	if (pc.broken)
		return -1;
	if (pc.nwatch >= PATHCACHE_WATCHES)
		pathcache_clear();
	if (pc.ifd < 0) {
		const char *what = "/proc/self/mountinfo";
		int err;

		/* both, or nothing is kept: a mount over a directory shows
		 * in the mount table only */
		if ((pc.mfd = open(what, O_RDONLY | O_CLOEXEC)) >= 0) {
			what = "inotify";
			if ((pc.ifd = inotify_init1(IN_NONBLOCK |
			    IN_CLOEXEC)) >= 0)
				goto ready;
		}
		err = errno;
		if (pc.mfd >= 0)
			close(pc.mfd);
		pc.mfd = -1;
		if (err != EMFILE && err != ENFILE) {
			log_warn("static files: %s: %s; each path is checked "
			    "in full for every request", what, strerror(err));
			pc.broken = 1;
		}
		return -1;
	}
ready:
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((wd = inotify_add_watch(pc.ifd, proc, PATHCACHE_EVENTS |
	    IN_ONLYDIR)) < 0)
		return -1;
	/* a directory watched again keeps its number; new ones count up */
	if (wd > pc.nwatch)
		pc.nwatch = wd;
	return 0;
}

unsigned
pathcache_generation(void)
{
	return pc.gen;
}

void
pathcache_store(unsigned gen, const char *key, size_t len, dev_t dev,
    ino_t ino, int fd)
{
	uint64_t h = pathcache_hash(key, len);
	struct pathcache_entry *e;
	size_t i;
	int dfd;

	/* events since the walk began may make it stale already */
	pathcache_sync();
	if (pc.gen != gen || pc.ifd < 0)
		return;		/* cleared since: its watches are gone */
	if (pc.n >= PATHCACHE_MAX) {
		pathcache_clear();
		return;		/* the walk's watches went with it */
	}
	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return;
	for (i = h % PATHCACHE_SLOTS; pc.slot[i].key != NULL;
	    i = (i + 1) % PATHCACHE_SLOTS) {
		e = &pc.slot[i];
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0) {
			/* judged again under another root: the new one */
			close(e->fd);
			e->fd = dfd;
			e->dev = dev;
			e->ino = ino;
			return;
		}
	}
	e = &pc.slot[i];
	if ((e->key = malloc(len)) == NULL) {
		close(dfd);
		return;
	}
	memcpy(e->key, key, len);
	e->len = len;
	e->hash = h;
	e->dev = dev;
	e->ino = ino;
	e->fd = dfd;
	pc.n++;
}
