/*
 * static.c - serve MediaWiki's assets and uploads with sendfile.
 *
 * Only regular files with a known extension are served, so an unknown
 * file type is a 404 rather than a guess.  Conditional GETs by
 * If-Modified-Since answer 304; bodies go out with sendfile from the
 * page cache without passing through user space.
 */
#include "static.h"
#include "conn.h"
#include "log.h"
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
static_serve(struct conn *c, const char *path)
{
	const char *type = static_content_type(path);
	char lm[64], now[64];
	struct stat st;
	int fd, head = c->parser.method == HTTP_HEAD;

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
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE ||
	    errno == ENOMEM)) {
		/* The file may well exist: a 404 would be a lie a cache
		 * keeps.  503 says "again later", as for a full queue. */
		log_warn("static %s: %s", path, strerror(errno));
		conn_error(c, 503);
		return;
	}
	if (fd < 0) {
		conn_error_keep(c, errno == EACCES ? 403 : 404);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		conn_error_keep(c, 404);
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
