/*
 * static.c - serve MediaWiki's assets and uploads with sendfile.
 *
 * Only regular files are served, each with the media type its extension
 * names (application/octet-stream when none does).  The path below the served
 * directory is opened one name at a time, each relative to the directory
 * before it and without following links, so what is checked is what is
 * served: a symbolic link is judged by the directory's symlinks policy
 * before its target is walked the same way, and a directory whose
 * .htaccess denies everyone (as MediaWiki writes into its private upload
 * folders) refuses all below it, as Apache would.  Conditional GETs by
 * If-None-Match (nginx's ETag form) or If-Modified-Since answer 304, and
 * byte ranges answer 206 (several as multipart/byteranges, as nginx
 * frames them), so media can be sought into; bodies go out
 * with sendfile from the page cache without passing through user space.
 * A file of compression.types goes gzip- or br-encoded to a client that
 * asks: from a file.gz or file.br beside it (same owner, not older), else
 * from zcache.c, which encodes it once.  A range is always of the file
 * itself, and each coding has its own ETag.
 */
#include "static.h"
#include "conn.h"
#include "errpage.h"
#include "log.h"
#include "pathcache.h"
#include "route.h"
#include "sup.h"
#include "zcache.h"

#include <stdint.h>
#include <stdlib.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATIC_MAX_DEPTH	64	/* directories on one resolved path */
#define STATIC_MAX_LINKS	40	/* links followed for one request (ELOOP) */
#define STATIC_HTACCESS_MAX	(64 * 1024)	/* bytes of .htaccess read */
#define STATIC_SECTIONS_MAX	32	/* <Section> nesting in .htaccess */
/* Ranges in one request (nginx's max_ranges has no bound by default,
 * Apache's MaxRanges is 200): more get the whole file, as does a Range
 * header longer than STATIC_RANGE_HEADER_MAX (static.h). */
#define STATIC_RANGES_MAX	64
#define STATIC_PART_TYPE_MAX	192	/* a part's Content-Type value */

/* A multipart/byteranges answer being sent: conn.c asks for each part
 * after the one before is written (static_parts_next). */
struct static_parts {
	int	 n, next;	/* ranges, and the next to queue */
	int64_t	 size;		/* of the file */
	char	 boundary[24];
	char	 type[STATIC_PART_TYPE_MAX];
	int64_t	 first[STATIC_RANGES_MAX], last[STATIC_RANGES_MAX];
};

/*
 * What a file is sent as, by its extension: static.types from mw.yaml,
 * then Debian's /etc/mime.types (package media-types, read once at start
 * and reload), then the few below that it lacks or that MediaWiki needs
 * even without it; anything else is application/octet-stream, as nginx's
 * default_type.  Extensions never served (PHP source, databases, mw.yaml)
 * are refused by route.c before a type is looked for.  MediaWiki's own
 * tree holds code and tests beside its assets: there only the assets'
 * extensions below and those of static.types are served, as MediaWiki's
 * nginx recipe serves only assets from skins/ and extensions/.
 */
#define STATIC_MIME_FILE	"/etc/mime.types"
#define STATIC_MIME_MAX		(1024 * 1024)	/* bytes of it read */
#define STATIC_DEFAULT_TYPE	"application/octet-stream"

static const struct {
	const char *ext;
	const char *type;
} static_builtin_types[] = {
	{ "css",	"text/css" },
	{ "js",		"text/javascript" },
	{ "json",	"application/json" },
	{ "map",	"application/json" },
	{ "png",	"image/png" },
	{ "gif",	"image/gif" },
	{ "jpg",	"image/jpeg" },
	{ "jpeg",	"image/jpeg" },
	{ "webp",	"image/webp" },
	{ "svg",	"image/svg+xml" },
	{ "ico",	"image/vnd.microsoft.icon" },
	{ "bmp",	"image/bmp" },
	{ "tif",	"image/tiff" },
	{ "tiff",	"image/tiff" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "ttf",	"font/ttf" },
	{ "otf",	"font/otf" },
	{ "eot",	"application/vnd.ms-fontobject" },
	{ "txt",	"text/plain" },
	{ "pdf",	"application/pdf" },
	{ "ogg",	"audio/ogg" },
	{ "oga",	"audio/ogg" },
	{ "ogv",	"video/ogg" },
	{ "mp3",	"audio/mpeg" },
	{ "mp4",	"video/mp4" },
	{ "webm",	"video/webm" },
	{ "wav",	"audio/wav" },
	{ "djvu",	"image/vnd.djvu" },
	{ "cur",	"image/x-icon" },
};

struct static_type {
	const char *ext;
	const char *type;
	int	 rank;		/* 2 mw.yaml, 1 mime.types, 0 built in */
	int	 seq;		/* order within its source: the first wins */
	int	 asset;		/* built in or in mw.yaml: served from root */
};

static struct {
	struct static_type *v;
	size_t	 n;
	char	*text;		/* /etc/mime.types, cut into words */
} static_types;

static int
static_type_cmp(const void *a, const void *b)
{
	const struct static_type *x = a, *y = b;
	int c = strcasecmp(x->ext, y->ext);

	if (c != 0)
		return c;
	if (x->rank != y->rank)
		return y->rank - x->rank;
	return x->seq - y->seq;
}

/* /etc/mime.types, NUL-terminated, or NULL (logged). */
static char *
static_mime_read(size_t *lenp)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(STATIC_MIME_FILE, O_RDONLY | O_CLOEXEC)) < 0) {
		log_warn("%s: %s; only the built-in media types are known",
		    STATIC_MIME_FILE, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(STATIC_MIME_MAX + 1)) == NULL) {
		close(fd);
		log_warn("%s: out of memory", STATIC_MIME_FILE);
		return NULL;
	}
	while (len < STATIC_MIME_MAX &&
	    (n = read(fd, buf + len, STATIC_MIME_MAX - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("%s: %s; only the built-in media types are "
			    "known", STATIC_MIME_FILE, strerror(errno));
			close(fd);
			free(buf);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len == STATIC_MIME_MAX) {
		/* keep whole lines only */
		while (len > 0 && buf[len - 1] != '\n')
			len--;
		log_warn("%s: larger than %d bytes; the rest is not read",
		    STATIC_MIME_FILE, STATIC_MIME_MAX);
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* A word of mime.types that can go into a header line as it is. */
static int
static_word_ok(const char *w)
{
	for (; *w; w++)
		if ((unsigned char)*w <= 0x20 || (unsigned char)*w >= 0x7f)
			return 0;
	return 1;
}

int
static_types_load(const struct config *cfg)
{
	size_t nbuiltin = sizeof(static_builtin_types) /
	    sizeof(static_builtin_types[0]), cap, n = 0, len = 0;
	struct static_type *v;
	char *text = static_mime_read(&len), *line, *save = NULL;
	int seq = 0;

	/* every word but the first of a line is an extension at most */
	cap = nbuiltin + (size_t)cfg->ntypes + (text ? len / 2 + 1 : 0);
	if ((v = calloc(cap, sizeof(*v))) == NULL) {
		free(text);
		log_err("media types: out of memory");
		return -1;
	}
	for (size_t i = 0; i < nbuiltin; i++, n++) {
		v[n].ext = static_builtin_types[i].ext;
		v[n].type = static_builtin_types[i].type;
		v[n].rank = 0;
		v[n].seq = (int)i;
	}
	for (int i = 0; i < cfg->ntypes; i++, n++) {
		v[n].ext = cfg->types[i].ext;
		v[n].type = cfg->types[i].type;
		v[n].rank = 2;
		v[n].seq = i;
	}
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *lsave = NULL, *type, *ext;

		if ((type = strtok_r(line, " \t\r", &lsave)) == NULL ||
		    type[0] == '#' || !strchr(type, '/') ||
		    !static_word_ok(type))
			continue;
		while ((ext = strtok_r(NULL, " \t\r", &lsave)) != NULL &&
		    ext[0] != '#') {
			if (!static_word_ok(ext) || n == cap)
				continue;
			v[n].ext = ext;
			v[n].type = type;
			v[n].rank = 1;
			v[n].seq = seq++;
			n++;
		}
	}
	qsort(v, n, sizeof(*v), static_type_cmp);
	/* the first of each extension is the one that counts */
	{
		size_t o = 0;

		for (size_t i = 0; i < n; i++) {
			if (o == 0 || strcasecmp(v[o - 1].ext, v[i].ext) != 0)
				v[o++] = v[i];
			if (v[i].rank != 1)
				v[o - 1].asset = 1;
		}
		n = o;
	}
	free(static_types.v);
	free(static_types.text);
	static_types.v = v;
	static_types.n = n;
	static_types.text = text;
	return 0;
}

void
static_types_free(void)
{
	free(static_types.v);
	free(static_types.text);
	memset(&static_types, 0, sizeof(static_types));
}

/* The entry for path's extension, or NULL. */
static const struct static_type *
static_type_find(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	struct static_type key;
	size_t lo = 0, hi = static_types.n;

	if (dot == NULL || (slash && slash > dot) || dot[1] == '\0')
		return NULL;
	key.ext = dot + 1;
	/* rank 3 sorts before every entry of the same extension: the lower
	 * bound is the first (and only) one */
	key.rank = 3;
	key.seq = 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (static_type_cmp(&static_types.v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == static_types.n ||
	    strcasecmp(static_types.v[lo].ext, key.ext) != 0)
		return NULL;
	return &static_types.v[lo];
}

/* The media type of path's extension, application/octet-stream if none
 * is known.  Valid until the next static_types_load(). */
const char *
static_content_type(const char *path)
{
	const struct static_type *t = static_type_find(path);

	return t ? t->type : STATIC_DEFAULT_TYPE;
}

/* ---- .htaccess: does a directory deny everyone? ---- */

/* Apache sections whose directives apply to the whole directory when
 * their condition holds; any other section (<Files>, <Limit>, <If>...)
 * narrows what its directives apply to. */
static int
static_section_is_condition(const char *name, size_t len)
{
	static const char *const cond[] = {
		"IfModule", "IfVersion", "IfDefine", "IfFile", "IfDirective",
		"IfSection", NULL,
	};

	for (int i = 0; cond[i]; i++)
		if (strlen(cond[i]) == len && strncasecmp(name, cond[i], len) == 0)
			return 1;
	return 0;
}

/* Next whitespace-separated word of *p (bounded by end), or NULL. */
static const char *
static_word(const char **p, const char *end, size_t *len)
{
	const char *w;

	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p == end)
		return NULL;
	w = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*len = (size_t)(*p - w);
	return w;
}

static int
static_word_is(const char *w, size_t len, const char *s)
{
	return w && strlen(s) == len && strncasecmp(w, s, len) == 0;
}

/*
 * 1 if the text has "Deny from all" (Apache 2.2) or "Require all denied"
 * (2.4) outside any section that narrows it: the deny-all file MediaWiki's
 * FSFileBackend, installer and composer write ("Require all denied",
 * "Satisfy All"), and what admins write by hand.
 */
static int
static_htaccess_denies(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	unsigned char narrow[STATIC_SECTIONS_MAX];
	int depth = 0, narrowing = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *le, *w1,
		    *w2, *w3;
		size_t l1 = 0, l2 = 0, l3 = 0, l4 = 0;

		le = eol ? eol : end;
		while (p < le && isspace((unsigned char)*p))
			p++;
		if (p < le && p[0] == '<' && p + 1 < le && p[1] == '/') {
			if (depth > 0 && narrow[--depth])
				narrowing--;
		} else if (p < le && p[0] == '<') {
			const char *n = p + 1, *ne = n;

			while (ne < le && *ne != ' ' && *ne != '\t' &&
			    *ne != '>' && *ne != '\r')
				ne++;
			/* too deep to follow: not a plain deny-all file */
			if (depth == STATIC_SECTIONS_MAX)
				return 0;
			narrow[depth] = !static_section_is_condition(n,
			    (size_t)(ne - n));
			narrowing += narrow[depth++];
		} else if (narrowing == 0) {
			const char *q = p, *qe = le;

			while (qe > q && isspace((unsigned char)qe[-1]))
				qe--;
			w1 = static_word(&q, qe, &l1);
			w2 = static_word(&q, qe, &l2);
			w3 = static_word(&q, qe, &l3);
			if (static_word(&q, qe, &l4) == NULL &&
			    ((static_word_is(w1, l1, "deny") &&
			    static_word_is(w2, l2, "from") &&
			    static_word_is(w3, l3, "all")) ||
			    (static_word_is(w1, l1, "require") &&
			    static_word_is(w2, l2, "all") &&
			    static_word_is(w3, l3, "denied"))))
				return 1;
		}
		p = eol ? eol + 1 : end;
	}
	return 0;
}

/* 0 if directory dfd may be served from, else 403 (or 503). */
static int
static_dir_allowed(int dfd)
{
	static char buf[STATIC_HTACCESS_MAX];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = openat(dfd, ".htaccess", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		/* unreadable: it may deny, so it does */
		return errno == EMFILE || errno == ENFILE ? 503 : 403;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return 403;
		}
		len += (size_t)n;
	}
	close(fd);
	return static_htaccess_denies(buf, len) ? 403 : 0;
}

/* ---- walking a path below a served directory ---- */

struct static_walk {
	enum symlink_policy policy;
	int	 watch;			/* each directory watched: cacheable */
	int	 fd;			/* directory reached so far (O_PATH) */
	int	 depth;			/* directories from the base to fd */
	dev_t	 dev[STATIC_MAX_DEPTH];
	ino_t	 ino[STATIC_MAX_DEPTH];
	uid_t	 uid[STATIC_MAX_DEPTH];
	dev_t	 root_dev;		/* the served directory */
	ino_t	 root_ino;
	int	 nlinks;
	/* links whose target is not walked to its end yet: the owner of the
	 * link, and how much of the path is left once it is */
	struct {
		uid_t	 uid;
		size_t	 rest;
	} pending[STATIC_MAX_LINKS];
	int	 npending;
	char	 path[2 * PATH_MAX];	/* what is left to walk */
};

static int
static_errno_status(int err)
{
	if (err == EACCES || err == EPERM)
		return 403;
	if (err == EMFILE || err == ENFILE || err == ENOMEM)
		return 503;
	return 404;
}

/* Make directory fd (opened O_PATH) the next one down; takes fd. */
static int
static_enter(struct static_walk *w, int fd, const struct stat *st)
{
	if (w->depth == STATIC_MAX_DEPTH) {
		close(fd);
		return 404;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->dev[w->depth] = st->st_dev;
	w->ino[w->depth] = st->st_ino;
	w->uid[w->depth] = st->st_uid;
	/* watched before it is searched (and its owner read again): what
	 * changes after this is seen by pathcache_sync() */
	if (w->watch) {
		struct stat now;

		if (pathcache_watch(fd) < 0 || fstat(fd, &now) < 0)
			w->watch = 0;
		else
			w->uid[w->depth] = now.st_uid;
	}
	w->depth++;
	return static_dir_allowed(fd);
}

/* Start again at "/" for an absolute link. */
static int
static_enter_root(struct static_walk *w)
{
	struct stat st;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return static_errno_status(err);
	}
	w->depth = 0;
	return static_enter(w, fd, &st);
}

/* "..": the directory above, which must be the one we came down from. */
static int
static_leave(struct static_walk *w)
{
	struct stat st;
	int fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return static_errno_status(err);
	}
	if (w->depth > 1) {
		w->depth--;
		if (st.st_dev != w->dev[w->depth - 1] ||
		    st.st_ino != w->ino[w->depth - 1]) {
			close(fd);	/* moved under us */
			return 404;
		}
		close(w->fd);
		w->fd = fd;
		return 0;
	}
	/* above where the walk began: only outside links may go there */
	if (w->policy == SYMLINKS_INSIDE) {
		close(fd);
		return 403;
	}
	w->depth = 0;
	return static_enter(w, fd, &st);
}

/* Was the walk's directory reached below the served one? */
static int
static_inside(const struct static_walk *w)
{
	for (int i = 0; i < w->depth; i++)
		if (w->dev[i] == w->root_dev && w->ino[i] == w->root_ino)
			return 1;
	return 0;
}

/*
 * Link lnk (an O_PATH fd on the link itself, owned by st's owner) stands
 * where the walk is; *restp is what follows it.  Put its target in front.
 */
static int
static_follow(struct static_walk *w, int lnk, const struct stat *st,
    const char **restp)
{
	char target[PATH_MAX], *t = target;
	size_t tl, rl = strlen(*restp);
	ssize_t n;
	int rc;

	if (w->policy == SYMLINKS_REFUSE)
		return 403;
	if (++w->nlinks > STATIC_MAX_LINKS)
		return 404;
	n = readlinkat(lnk, "", target, sizeof(target));
	if (n <= 0 || (size_t)n >= sizeof(target))
		return 404;
	target[n] = '\0';
	if (target[0] == '/') {
		while (*t == '/')
			t++;
		if ((rc = static_enter_root(w)) != 0)
			return rc;
	}
	tl = strlen(t);
	if (tl + 1 + rl + 1 > sizeof(w->path))
		return 404;
	/* *restp points into w->path: move it to the end first */
	memmove(w->path + tl + 1, *restp, rl + 1);
	memcpy(w->path, t, tl);
	w->path[tl] = '/';
	*restp = w->path;
	if (w->policy != SYMLINKS_FOLLOW) {
		w->pending[w->npending].uid = st->st_uid;
		w->pending[w->npending].rest = rl;
		w->npending++;
	}
	return 0;
}

/*
 * The last name of a path, in the directory dfd the walk reached: 0 and a
 * readable fd of a regular file with its stat, 1 if it is a link (to be
 * followed by the walk), or the HTTP status to answer.
 */
static int
static_open_last(int dfd, const char *one, int *fdp, struct stat *stp)
{
	struct stat st;
	int fd;

	/* what it is, before opening it: a FIFO or a device is never
	 * opened (that alone can block or act) */
	if (fstatat(dfd, one, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return static_errno_status(errno);
	if (S_ISLNK(st.st_mode))
		return 1;
	if (!S_ISREG(st.st_mode))
		return 404;
	/* the same file, now to read: a swap in between is caught by the
	 * inode */
	fd = openat(dfd, one, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, stp) < 0) {
		int rc = static_errno_status(errno);

		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (stp->st_dev != st.st_dev || stp->st_ino != st.st_ino) {
		close(fd);
		return 404;
	}
	*fdp = fd;
	return 0;
}

/* pathcache's key for rel's directory below dir under policy. */
static size_t
static_cache_key(char *key, size_t cap, const char *dir, const char *rel,
    size_t rel_dir_len, enum symlink_policy policy)
{
	int n = snprintf(key, cap, "%d:%zu:%s/%.*s", (int)policy, strlen(dir),
	    dir, (int)rel_dir_len, rel);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/*
 * Open rel below dir under policy: 0 and a readable fd of a regular file
 * with its stat, or the HTTP status to answer.  A directory part judged
 * before (and not changed since) is taken from pathcache; the walk in
 * full stores what it judges.
 */
static int
static_open(const char *dir, const char *rel, enum symlink_policy policy,
    int *fdp, struct stat *stp)
{
	static struct static_walk w;
	static char key[2 * PATH_MAX + 64];
	struct stat st;
	const char *p, *base = strrchr(rel, '/');
	size_t keylen, last_len;
	unsigned gen;
	int fd, rc;

	base = base ? base + 1 : rel;
	last_len = strlen(base);
	keylen = static_cache_key(key, sizeof(key), dir, rel,
	    (size_t)(base - rel), policy);
	if (keylen > 0 && last_len > 0 && last_len <= NAME_MAX &&
	    stat(dir, &st) == 0) {
		int dfd;

		pathcache_sync();
		dfd = pathcache_lookup(key, keylen, st.st_dev, st.st_ino);
		if (dfd >= 0 && (rc = static_open_last(dfd, base, fdp,
		    stp)) != 1)
			return rc;
	}
	gen = pathcache_generation();
	memset(&w, 0, offsetof(struct static_walk, path));
	w.policy = policy;
	w.watch = keylen > 0;
	w.fd = -1;
	if (strlen(rel) >= sizeof(w.path))
		return 404;
	strcpy(w.path, rel);
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return static_errno_status(err);
	}
	w.root_dev = st.st_dev;
	w.root_ino = st.st_ino;
	if ((rc = static_enter(&w, fd, &st)) != 0)
		goto out;
	for (p = w.path;;) {
		const char *name;
		size_t len;
		int last;

		while (*p == '/')
			p++;
		/* a link's target walked to its end: is it the link's owner's? */
		while (w.npending > 0 && *p != '\0' &&
		    w.pending[w.npending - 1].rest == strlen(p)) {
			if (w.pending[w.npending - 1].uid != w.uid[w.depth - 1]) {
				rc = 403;
				goto out;
			}
			w.npending--;
		}
		if (*p == '\0') {	/* ends at a directory */
			rc = 404;
			goto out;
		}
		/* first at the request's last name: the directory part is
		 * judged (its links' owners too), what may be kept */
		if (w.watch && strlen(p) == last_len) {
			w.watch = 0;
			if (w.npending == 0 && !(policy == SYMLINKS_INSIDE &&
			    w.nlinks > 0 && !static_inside(&w)))
				pathcache_store(gen, key, keylen, w.root_dev,
				    w.root_ino, w.fd);
		}
		name = p;
		len = strcspn(p, "/");
		p += len;
		while (*p == '/')
			p++;
		last = *p == '\0';
		if (len == 1 && name[0] == '.')
			continue;
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			if ((rc = static_leave(&w)) != 0)
				goto out;
			continue;
		}
		{
			char one[NAME_MAX + 1];

			if (len > NAME_MAX) {
				rc = 404;
				goto out;
			}
			memcpy(one, name, len);
			one[len] = '\0';
			fd = openat(w.fd, one, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 || fstat(fd, &st) < 0) {
				rc = static_errno_status(errno);
				if (fd >= 0)
					close(fd);
				goto out;
			}
			if (S_ISLNK(st.st_mode)) {
				rc = static_follow(&w, fd, &st, &p);
				close(fd);
				if (rc != 0)
					goto out;
				continue;
			}
			if (S_ISDIR(st.st_mode) && !last) {
				if ((rc = static_enter(&w, fd, &st)) != 0)
					goto out;
				continue;
			}
			close(fd);
			if (!S_ISREG(st.st_mode) || !last) {
				rc = 404;
				goto out;
			}
			/* the same file, now to read: a swap in between is
			 * caught by the inode */
			fd = openat(w.fd, one, O_RDONLY | O_NOFOLLOW |
			    O_NONBLOCK | O_CLOEXEC);
		}
		if (fd < 0 || fstat(fd, stp) < 0) {
			rc = static_errno_status(errno);
			if (fd >= 0)
				close(fd);
			goto out;
		}
		if (stp->st_dev != st.st_dev || stp->st_ino != st.st_ino) {
			close(fd);
			rc = 404;
			goto out;
		}
		break;
	}
	/* links that led to the file itself */
	for (int i = 0; i < w.npending; i++) {
		if (w.pending[i].uid != stp->st_uid) {
			close(fd);
			rc = 403;
			goto out;
		}
	}
	if (policy == SYMLINKS_INSIDE && w.nlinks > 0 && !static_inside(&w)) {
		close(fd);
		rc = 403;
		goto out;
	}
	*fdp = fd;
	rc = 0;
out:
	if (w.fd >= 0)
		close(w.fd);
	return rc;
}

static void
static_http_date(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* A header's value as a string, or NULL if absent. */
static const char *
static_header(struct conn *c, const char *name, char *buf, size_t cap)
{
	const char *v;
	size_t n;

	if ((v = conn_header(c, name, &n)) == NULL)
		return NULL;
	/* too long to judge: as a value that matches nothing, which sends
	 * the whole file or 412, never a wrong part or a wrong 304 */
	if (n >= cap)
		n = 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

/* An HTTP date (IMF-fixdate, the only form sent today) or -1. */
static time_t
static_parse_date(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return (time_t)-1;
	return timegm(&tm);
}

/*
 * Does the entity-tag list in s (If-Match, If-None-Match) name etag?
 * "*" names any.  weak: compare without the W/ prefix (RFC 9110 8.8.3.2);
 * otherwise a weak tag never matches.
 */
static int
static_etag_listed(const char *s, const char *etag, int weak)
{
	size_t elen = strlen(etag);

	while (*s) {
		const char *q;
		int is_weak = 0;

		s += strspn(s, " \t,");
		if (*s == '\0')
			break;
		if (*s == '*')
			return 1;
		if (s[0] == 'W' && s[1] == '/') {
			is_weak = 1;
			s += 2;
		}
		if (*s != '"')
			return 0;	/* not a list of tags: no match */
		if ((q = strchr(s + 1, '"')) == NULL)
			return 0;
		if ((weak || !is_weak) && (size_t)(q + 1 - s) == elen &&
		    memcmp(s, etag, elen) == 0)
			return 1;
		s = q + 1;
	}
	return 0;
}

/* Digits to a number that stops growing at INT64_MAX; -1 if none. */
static int64_t
static_parse_pos(const char **p)
{
	int64_t v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++)
		v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*s - '0');
	*p = s;
	return v;
}

/*
 * One range-spec of a Range list from *p: [*a, *b] with -1 for a part
 * left out ("500-", "-500").  0, or -1 when it is malformed.
 */
static int
static_range_spec(const char **p, int64_t *a, int64_t *b)
{
	const char *s = *p;

	if (*s == '-') {		/* the last b bytes */
		s++;
		if ((*b = static_parse_pos(&s)) < 0)
			return -1;
		*a = -1;
	} else {
		if ((*a = static_parse_pos(&s)) < 0 || *s++ != '-')
			return -1;
		s += strspn(s, " \t");
		*b = isdigit((unsigned char)*s) ? static_parse_pos(&s) : -1;
		if (*b >= 0 && *b < *a)
			return -1;
	}
	*p = s;
	return 0;
}

/*
 * Range: byte ranges of a size-byte file (RFC 9110 14.1.2), at most
 * STATIC_RANGES_MAX, in the order asked, into first[] and last[].
 * Returns how many are satisfiable; 0 when none is (416); -1 to send the
 * whole file (200, which answers them all: RFC 9110 14.2): no Range of
 * bytes, a malformed one, more ranges than the cap, or ranges adding up
 * to more than the file (overlaps that would make the answer larger than
 * the file, as nginx judges them).  Empty list members are skipped,
 * ranges past the end dropped, as nginx does.
 */
static int
static_ranges(const char *s, int64_t size, int64_t *first, int64_t *last)
{
	int n = 0, members = 0;
	int64_t a, b, sum = 0;

	if (strncasecmp(s, "bytes", 5) != 0)
		return -1;
	s += 5;
	s += strspn(s, " \t");
	if (*s++ != '=')
		return -1;
	for (;;) {
		s += strspn(s, " \t");
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\0')
			break;
		if (++members > STATIC_RANGES_MAX ||
		    static_range_spec(&s, &a, &b) == -1)
			return -1;
		s += strspn(s, " \t");
		if (*s != ',' && *s != '\0')
			return -1;	/* junk after the range */
		if (a < 0) {
			if (b == 0 || size == 0)
				continue;	/* not satisfiable */
			a = b >= size ? 0 : size - b;
			b = size - 1;
		} else if (a >= size)
			continue;
		else if (b < 0 || b >= size)
			b = size - 1;
		if ((sum += b - a + 1) > size)
			return -1;
		first[n] = a;
		last[n++] = b;
	}
	return members == 0 ? -1 : n;
}

int
static_range(const char *s, int64_t size, int64_t *first, int64_t *last)
{
	int64_t f[STATIC_RANGES_MAX], l[STATIC_RANGES_MAX];
	int n = static_ranges(s, size, f, l);

	if (n == 0)
		return 416;
	if (n != 1)
		return -1;
	*first = f[0];
	*last = l[0];
	return 0;
}

/* Would a browser show a file of this type as a page that can run
 * script? */
static int
static_is_document(const char *type)
{
	static const char *const doc[] = {
		"text/html", "application/xhtml+xml", "image/svg+xml",
		"text/xml", "application/xml", "text/xsl", "application/xslt+xml",
		NULL,
	};
	size_t n = strcspn(type, "; ");

	for (int i = 0; doc[i]; i++)
		if (strlen(doc[i]) == n && strncasecmp(type, doc[i], n) == 0)
			return 1;
	return 0;
}

/*
 * The coding to send the file as (identity for a range: a range is of the
 * file as it is on disk), and whether the answer varies with
 * Accept-Encoding at all (a type compression.types names, big enough).
 */
static enum compress_coding
static_coding(struct conn *c, const char *type, const struct stat *st,
    int *vary)
{
	const struct config *cfg = sup.cfg;
	char ae[512];
	size_t n;

	*vary = 0;
	if ((cfg->gzip_level == 0 && cfg->brotli_level == 0) ||
	    (uint64_t)st->st_size < cfg->compress_min ||
	    !compress_type_ok(cfg, type, strlen(type)))
		return COMPRESS_IDENTITY;
	*vary = 1;
	if (conn_header(c, "Range", &n) != NULL)
		return COMPRESS_IDENTITY;
	return compress_choose(cfg, static_header(c, "Accept-Encoding", ae,
	    sizeof(ae)));
}

/*
 * A precompressed sibling of the file (rel + ".gz" or ".br"), opened the
 * same careful way, used when it has the file's owner and is not older
 * (an older one was made from another version of the file): a descriptor
 * and its size, or -1.
 */
static int
static_sibling(const char *dir, const char *rel, enum symlink_policy policy,
    const struct stat *st, enum compress_coding coding, off_t *len)
{
	char srel[PATH_MAX];
	struct stat sst;
	int fd;

	if ((size_t)snprintf(srel, sizeof(srel), "%s.%s", rel,
	    coding == COMPRESS_GZIP ? "gz" : "br") >= sizeof(srel) ||
	    static_open(dir, srel, policy, &fd, &sst) != 0)
		return -1;
	/* whole seconds: "gzip -k" and "brotli -k" give the sibling the
	 * file's mtime, brotli without its nanoseconds */
	if (sst.st_uid != st->st_uid || sst.st_mtime < st->st_mtime) {
		close(fd);
		return -1;
	}
	*len = sst.st_size;
	return fd;
}

/* The ETag of one coding of the file: nginx's form for the file itself,
 * with the coding's name after it for an encoded form. */
static void
static_etag(char *etag, size_t cap, const struct stat *st,
    enum compress_coding coding)
{
	snprintf(etag, cap, "\"%llx-%llx%s%s\"",
	    (unsigned long long)st->st_mtime, (unsigned long long)st->st_size,
	    coding != COMPRESS_IDENTITY ? "-" : "",
	    coding != COMPRESS_IDENTITY ? compress_name(coding) : "");
}

/* The end of an answer's head: connection state and the blank line. */
static const char *
static_head_end(const struct conn *c)
{
	return c->keepalive && !sup.draining ? "\r\n" :
	    "Connection: close\r\n\r\n";
}

/* A 304, or a 4xx with its page (errpage.c; none for a HEAD). */
static void
static_answer_short(struct conn *c, int status, const char *reason,
    const char *now, const char *extra)
{
	size_t blen = 0;
	const char *body = status >= 400 ? errpage_body(status, &blen) : NULL;

	c->status = status;
	sup_count_response(status, 0);
	/* a 304's Content-Length would have to be the file's size */
	if (body)
		conn_out_printf(c, "HTTP/1.1 %d %s\r\nServer: mwsup\r\n"
		    "Date: %s\r\n%sContent-Type: text/html; charset=utf-8\r\n"
		    "Content-Length: %zu\r\n%s", status, reason, now, extra,
		    blen, static_head_end(c));
	else
		conn_out_printf(c, "HTTP/1.1 %d %s\r\nServer: mwsup\r\n"
		    "Date: %s\r\n%s%s", status, reason, now, extra,
		    static_head_end(c));
	if (body && c->parser.method != HTTP_HEAD)
		conn_out_append(c, body, blen);
	conn_start_write(c);
}

/* The head of part i of p (i == p->n: the closing boundary) into buf, as
 * nginx writes it; its length. */
static size_t
static_part_head(char *buf, size_t cap, const struct static_parts *p, int i)
{
	int n;

	if (i == p->n)
		n = snprintf(buf, cap, "\r\n--%s--\r\n", p->boundary);
	else
		n = snprintf(buf, cap, "\r\n--%s\r\nContent-Type: %s\r\n"
		    "Content-Range: bytes %lld-%lld/%lld\r\n\r\n", p->boundary,
		    p->type, (long long)p->first[i], (long long)p->last[i],
		    (long long)p->size);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/*
 * The parts of a multipart answer, and its Content-Length in *total.
 * The boundary is nginx's form, twenty digits, from a counter that starts
 * at a random number.  NULL when out of memory or the type is too long
 * (the whole file goes instead).
 */
static struct static_parts *
static_parts_make(const char *type, const char *charset, int64_t size,
    const int64_t *first, const int64_t *last, int n, int64_t *total)
{
	static uint64_t seq;
	struct static_parts *p;
	char buf[512];
	int tl;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	tl = snprintf(p->type, sizeof(p->type), "%s%s", type, charset);
	if (tl < 0 || (size_t)tl >= sizeof(p->type)) {
		free(p);
		return NULL;
	}
	if (seq == 0 && getrandom(&seq, sizeof(seq), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(seq))
		seq = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	snprintf(p->boundary, sizeof(p->boundary), "%020llu",
	    (unsigned long long)++seq);
	p->n = n;
	p->size = size;
	memcpy(p->first, first, (size_t)n * sizeof(*first));
	memcpy(p->last, last, (size_t)n * sizeof(*last));
	*total = 0;
	for (int i = 0; i <= n; i++) {
		size_t hl = static_part_head(buf, sizeof(buf), p, i);

		if (hl == 0) {
			free(p);
			return NULL;
		}
		*total += (int64_t)hl + (i < n ? last[i] - first[i] + 1 : 0);
	}
	return p;
}

void
static_parts_free(struct conn *c)
{
	free(c->parts);
	c->parts = NULL;
}

int
static_parts_next(struct conn *c)
{
	struct static_parts *p = c->parts;
	char buf[512];
	size_t hl;

	if (p == NULL)
		return 0;
	/* what is written so far, for the access log's byte count */
	c->out_prior += (uint64_t)c->out_off +
	    (uint64_t)(c->file_off - c->file_start);
	c->out_len = c->out_off = 0;
	c->file_start = c->file_off;
	hl = static_part_head(buf, sizeof(buf), p, p->next);
	if (conn_out_append(c, buf, hl) == -1) {
		/* the answer cannot be finished: the client sees it short */
		log_warn("multipart answer: out of memory, cut short");
		c->close_after = 1;
		static_parts_free(c);
		return 0;
	}
	if (p->next == p->n) {
		static_parts_free(c);	/* the closing boundary is queued */
		return 1;
	}
	c->file_start = c->file_off = (off_t)p->first[p->next];
	c->file_end = (off_t)(p->last[p->next] + 1);
	p->next++;
	return 1;
}

/*
 * Several ranges of the file open as fd: a 206 multipart/byteranges
 * answer, its parts sent one after another by conn.c.  -1 when it cannot
 * be made (out of memory): the caller sends the whole file.
 */
static int
static_multipart(struct conn *c, int fd, int head, const char *type,
    const char *charset, int64_t size, const int64_t *first,
    const int64_t *last, int n, const char *now, const char *extra)
{
	struct static_parts *p;
	int64_t total;

	if ((p = static_parts_make(type, charset, size, first, last, n,
	    &total)) == NULL)
		return -1;
	c->status = 206;
	sup_count_response(206, 0);
	conn_out_printf(c, "HTTP/1.1 206 Partial Content\r\n"
	    "Server: mwsup\r\nDate: %s\r\n"
	    "Content-Type: multipart/byteranges; boundary=%s\r\n"
	    "Content-Length: %lld\r\n%sAccept-Ranges: bytes\r\n"
	    "X-Content-Type-Options: nosniff\r\n%s", now, p->boundary,
	    (long long)total, extra, static_head_end(c));
	if (head) {
		free(p);
		close(fd);
	} else {
		c->parts = p;
		c->file_fd = fd;
		c->file_start = c->file_off = c->file_end = 0;
		p->next = 0;	/* the first part's head comes after this one */
	}
	conn_start_write(c);
	return 0;
}

static void
static_close(int fd, int zfd)
{
	close(fd);
	if (zfd >= 0)
		close(zfd);
}

int
static_serve(struct conn *c, const struct route *r)
{
	const char *type = static_content_type(r->file), *v, *charset = "",
	    *csp = "";
	const struct static_type *known;
	char lm[64], now[64], dir[PATH_MAX], etag[64], hv[512], cc[320],
	    extra[1024], enc[64], rb[STATIC_RANGE_HEADER_MAX];
	struct stat st;
	int fd, rc, head = c->parser.method == HTTP_HEAD, ranged, vary;
	int zfd = -1;
	int64_t first = 0, last = 0, rfirst[STATIC_RANGES_MAX],
	    rlast[STATIC_RANGES_MAX];
	enum compress_coding coding;
	off_t zlen = 0;

	if (c->parser.method != HTTP_GET && !head) {
		static_http_date(time(NULL), now, sizeof(now));
		c->out_len = c->out_off = 0;
		static_answer_short(c, 405, "Method Not Allowed", now,
		    "Allow: GET, HEAD\r\n");
		return 0;
	}
	if (r->assets_only && ((known = static_type_find(r->file)) == NULL ||
	    !known->asset)) {
		conn_error_keep(c, 404);
		return 0;
	}
	memcpy(dir, r->file, r->dir_len);
	dir[r->dir_len] = '\0';
	if ((rc = static_open(dir, r->file + r->rel_off, r->symlinks, &fd,
	    &st)) != 0) {
		if (rc == 503) {
			/* The file may well exist: a 404 would be a lie a
			 * cache keeps.  503 says "again later", as for a
			 * full queue. */
			log_warn("static %s: out of file descriptors or "
			    "memory: 503", r->file);
			conn_error(c, 503);
		} else if (rc == 404 && r->thumb) {
			return 1;	/* a thumbnail to make */
		} else
			conn_error_keep(c, rc);
		return 0;
	}
	/* MediaWiki's own text files are UTF-8; an upload's encoding is
	 * unknown, so it goes without one, as nginx sends it by default */
	if (!r->upload && !strchr(type, ';') &&
	    (strncmp(type, "text/", 5) == 0 ||
	    strcmp(type, "application/javascript") == 0))
		charset = "; charset=utf-8";
	/* An upload a browser would open as a document of the wiki's own
	 * origin (HTML, XHTML, SVG, XML) runs no script and loads nothing:
	 * MediaWiki checks uploads for script, but not files put there
	 * another way, nor every trick. */
	if (r->upload && static_is_document(type))
		csp = "Content-Security-Policy: default-src 'none'; "
		    "img-src data:; style-src 'unsafe-inline'; sandbox\r\n";
	coding = static_coding(c, type, &st, &vary);
	if (coding != COMPRESS_IDENTITY)
		zfd = static_sibling(dir, r->file + r->rel_off, r->symlinks,
		    &st, coding, &zlen);
	/* nginx's form, so a cache in front sees the same tag from either */
	static_etag(etag, sizeof(etag), &st, coding);
	static_http_date(st.st_mtime, lm, sizeof(lm));
	static_http_date(time(NULL), now, sizeof(now));
	if (r->cache_control)
		snprintf(cc, sizeof(cc), "Cache-Control: %s\r\n",
		    r->cache_control);
	else
		cc[0] = '\0';
	snprintf(extra, sizeof(extra), "Last-Modified: %s\r\nETag: %s\r\n%s%s%s",
	    lm, etag, cc, csp, vary ? "Vary: Accept-Encoding\r\n" : "");
	c->out_len = c->out_off = 0;

	/* RFC 9110 13.2.2: the preconditions, in their order */
	if ((v = static_header(c, "If-Match", hv, sizeof(hv))) != NULL) {
		if (!static_etag_listed(v, etag, 0)) {
			static_close(fd, zfd);
			static_answer_short(c, 412, "Precondition Failed", now,
			    "");
			return 0;
		}
	} else if ((v = static_header(c, "If-Unmodified-Since", hv,
	    sizeof(hv))) != NULL) {
		time_t t = static_parse_date(v);

		if (t != (time_t)-1 && st.st_mtime > t) {
			static_close(fd, zfd);
			static_answer_short(c, 412, "Precondition Failed", now,
			    "");
			return 0;
		}
	}
	if ((v = static_header(c, "If-None-Match", hv, sizeof(hv))) != NULL) {
		if (static_etag_listed(v, etag, 1)) {
			static_close(fd, zfd);
			static_answer_short(c, 304, "Not Modified", now, extra);
			return 0;
		}
	} else if ((v = static_header(c, "If-Modified-Since", hv,
	    sizeof(hv))) != NULL) {
		time_t t = static_parse_date(v);

		if (t != (time_t)-1 && st.st_mtime <= t) {
			static_close(fd, zfd);
			static_answer_short(c, 304, "Not Modified", now, extra);
			return 0;
		}
	}
	if (coding != COMPRESS_IDENTITY && zfd < 0 &&
	    (zfd = zcache_get(sup.cfg, r->file, &st, fd, coding, &zlen)) < 0) {
		/* not kept (too large, out of memory): the file as it is */
		coding = COMPRESS_IDENTITY;
		static_etag(etag, sizeof(etag), &st, coding);
		snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n"
		    "ETag: %s\r\n%s%sVary: Accept-Encoding\r\n", lm, etag,
		    cc, csp);
	}
	if (coding != COMPRESS_IDENTITY) {
		close(fd);
		fd = zfd;
		zfd = -1;
		st.st_size = zlen;
		snprintf(enc, sizeof(enc), "Content-Encoding: %s\r\n",
		    compress_name(coding));
	} else
		enc[0] = '\0';
	ranged = -1;
	if (coding == COMPRESS_IDENTITY &&
	    (v = static_header(c, "Range", rb, sizeof(rb))) != NULL) {
		const char *ir;
		char irb[128];

		/* If-Range: the range only if the file is still the one the
		 * client has part of (a strong tag or the exact date) */
		if ((ir = static_header(c, "If-Range", irb, sizeof(irb))) ==
		    NULL || (ir[0] == '"' ? strcmp(ir, etag) == 0 :
		    strcmp(ir, lm) == 0))
			ranged = static_ranges(v, (int64_t)st.st_size, rfirst,
			    rlast);
	}
	if (ranged == 0) {
		char cr[96];

		close(fd);
		snprintf(cr, sizeof(cr), "Content-Range: bytes */%lld\r\n",
		    (long long)st.st_size);
		static_answer_short(c, 416, "Range Not Satisfiable", now, cr);
		return 0;
	}
	if (ranged > 1 && static_multipart(c, fd, head, type, charset,
	    (int64_t)st.st_size, rfirst, rlast, ranged, now, extra) == 0)
		return 0;
	if (ranged == 1) {
		first = rfirst[0];
		last = rlast[0];
	}
	if (ranged == 1) {
		c->status = 206;
		sup_count_response(206, 0);
		conn_out_printf(c, "HTTP/1.1 206 Partial Content\r\n"
		    "Server: mwsup\r\nDate: %s\r\nContent-Type: %s%s\r\n"
		    "Content-Length: %lld\r\nContent-Range: bytes %lld-%lld/%lld"
		    "\r\n%sAccept-Ranges: bytes\r\n"
		    "X-Content-Type-Options: nosniff\r\n%s", now, type, charset,
		    (long long)(last - first + 1), (long long)first,
		    (long long)last, (long long)st.st_size, extra,
		    static_head_end(c));
	} else {
		first = 0;
		last = (int64_t)st.st_size - 1;
		c->status = 200;
		sup_count_response(200, 0);
		conn_out_printf(c, "HTTP/1.1 200 OK\r\nServer: mwsup\r\n"
		    "Date: %s\r\nContent-Type: %s%s\r\n%sContent-Length: %lld"
		    "\r\n%s%sX-Content-Type-Options: nosniff\r\n%s", now,
		    type, charset, enc, (long long)st.st_size, extra,
		    /* as nginx: ranges are of the file, not of this form */
		    enc[0] ? "" : "Accept-Ranges: bytes\r\n",
		    static_head_end(c));
	}
	if (head) {
		close(fd);
	} else {
		c->file_fd = fd;
		c->file_start = c->file_off = (off_t)first;
		c->file_end = (off_t)(last + 1);
	}
	conn_start_write(c);
	return 0;
}
