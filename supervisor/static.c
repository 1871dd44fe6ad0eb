/*
 * static.c - serve MediaWiki's assets and uploads with sendfile.
 *
 * Only regular files with a known extension are served, so an unknown
 * file type is a 404 rather than a guess.  The path below the served
 * directory is opened one name at a time, each relative to the directory
 * before it and without following links, so what is checked is what is
 * served: a symbolic link is judged by the directory's symlinks policy
 * before its target is walked the same way, and a directory whose
 * .htaccess denies everyone (as MediaWiki writes into its private upload
 * folders) refuses all below it, as Apache would.  Conditional GETs by
 * If-Modified-Since answer 304; bodies go out with sendfile from the page
 * cache without passing through user space.
 */
#include "static.h"
#include "conn.h"
#include "log.h"
#include "route.h"
#include "sup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATIC_MAX_DEPTH	64	/* directories on one resolved path */
#define STATIC_MAX_LINKS	40	/* links followed for one request (ELOOP) */
#define STATIC_HTACCESS_MAX	(64 * 1024)	/* bytes of .htaccess read */
#define STATIC_SECTIONS_MAX	32	/* <Section> nesting in .htaccess */

static const struct {
	const char *ext;
	const char *type;
} static_types[] = {
	{ "css",	"text/css; charset=utf-8" },
	{ "js",		"text/javascript; charset=utf-8" },
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
	{ "txt",	"text/plain; charset=utf-8" },
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

const char *
static_content_type(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	size_t i;

	if (dot == NULL || (slash && slash > dot))
		return NULL;
	for (i = 0; i < sizeof(static_types) / sizeof(static_types[0]); i++)
		if (strcasecmp(dot + 1, static_types[i].ext) == 0)
			return static_types[i].type;
	return NULL;
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
 * Open rel below dir under policy: 0 and a readable fd of a regular file
 * with its stat, or the HTTP status to answer.
 */
static int
static_open(const char *dir, const char *rel, enum symlink_policy policy,
    int *fdp, struct stat *stp)
{
	static struct static_walk w;
	struct stat st;
	const char *p;
	int fd, rc;

	memset(&w, 0, offsetof(struct static_walk, path));
	w.policy = policy;
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

static int
static_not_modified(struct conn *c, time_t mtime)
{
	const char *v;
	char buf[64];
	size_t n;
	struct tm tm;
	char *end;

	if ((v = conn_header(c, "If-Modified-Since", &n)) == NULL ||
	    n >= sizeof(buf))
		return 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	return mtime <= timegm(&tm);
}

void
static_serve(struct conn *c, const struct route *r)
{
	const char *type = static_content_type(r->file);
	char lm[64], now[64], dir[PATH_MAX];
	struct stat st;
	int fd, rc, head = c->parser.method == HTTP_HEAD;

	if (c->parser.method != HTTP_GET && !head) {
		c->out_len = c->out_off = 0;
		c->status = 405;
		sup_count_response(405, 0);
		conn_out_printf(c, "HTTP/1.1 405 Method Not Allowed\r\n"
		    "Server: mwsup\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n"
		    "%s\r\n", c->keepalive ? "" : "Connection: close\r\n");
		conn_start_write(c);
		return;
	}
	if (type == NULL) {
		conn_error_keep(c, 404);
		return;
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
		} else
			conn_error_keep(c, rc);
		return;
	}
	static_http_date(st.st_mtime, lm, sizeof(lm));
	static_http_date(time(NULL), now, sizeof(now));
	c->out_len = c->out_off = 0;
	if (static_not_modified(c, st.st_mtime)) {
		close(fd);
		c->status = 304;
		sup_count_response(304, 0);
		conn_out_printf(c, "HTTP/1.1 304 Not Modified\r\nServer: mwsup\r\n"
		    "Date: %s\r\nLast-Modified: %s\r\n%s\r\n", now, lm,
		    c->keepalive ? "" : "Connection: close\r\n");
		conn_start_write(c);
		return;
	}
	c->status = 200;
	sup_count_response(200, 0);
	conn_out_printf(c, "HTTP/1.1 200 OK\r\nServer: mwsup\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %lld\r\nLast-Modified: %s\r\n"
	    "Cache-Control: max-age=86400\r\nX-Content-Type-Options: nosniff\r\n"
	    "%s\r\n", now, type, (long long)st.st_size, lm,
	    c->keepalive ? "" : "Connection: close\r\n");
	if (head) {
		close(fd);
	} else {
		c->file_fd = fd;
		c->file_off = 0;
		c->file_end = st.st_size;
	}
	conn_start_write(c);
}
