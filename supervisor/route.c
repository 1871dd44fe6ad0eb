/*
 * route.c - map a request-target to an entry point or a file.
 *
 * The path is percent-decoded once, then judged on its decoded form: NUL,
 * backslash and "."/".." segments are refused outright rather than
 * normalised, so no encoding trick can walk out of a served directory.
 * PHP runs only for MediaWiki's known entry points at the top of its root;
 * everything else is a static file from an allowed directory with an
 * allowed extension, or nothing.  Below an upload directory, the folders
 * MediaWiki keeps private (deleted files, stashed uploads, lock files) are
 * refused by name too, whether or not their .htaccess is still there.
 * A thumbnail missing below an upload directory's thumb/ is made by
 * thumb_handler.php (static.c finds it missing, route_thumb_handler()).
 */
#include "route.h"
#include "frame.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const route_entry_points[] = {
	"index.php", "api.php", "load.php", "rest.php", "img_auth.php",
	"opensearch_desc.php", "thumb.php", "thumb_handler.php", NULL,
};

/* Directories under the MediaWiki root that hold public assets. */
static const char *const route_root_dirs[] = {
	"/resources/", "/skins/", "/extensions/", NULL,
};

/*
 * Folders of $wgUploadDirectory that MediaWiki 1.39 never means to be
 * served: the "deleted" and "temp" zones of the local file repository
 * (FileRepo::initDirectory makes them with a deny-all .htaccess) and
 * FSLockManager's "lockdir".  "archive" (old versions), "thumb" and
 * "transcoded" are public.
 */
static const char *const route_private_upload_dirs[] = {
	"deleted", "temp", "lockdir", NULL,
};

/* Decode the path of url into out; returns 0 or an HTTP status. */
static int
route_decode_path(const char *url, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0;

	/* absolute-form: http://host/path */
	if (len > 7 && (strncasecmp(url, "http://", 7) == 0 ||
	    strncasecmp(url, "https://", 8) == 0)) {
		const char *p = memchr(url + 8, '/', len - 8);

		if (p == NULL)
			return 400;
		i = (size_t)(p - url);
	}
	if (i >= len || url[i] != '/')
		return 400;
	for (; i < len && url[i] != '?' && url[i] != '#'; i++) {
		int ch = (unsigned char)url[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return 400;
			hi = frame_hexval((unsigned char)url[i + 1]);
			lo = frame_hexval((unsigned char)url[i + 2]);
			if (hi < 0 || lo < 0)
				return 400;
			ch = hi * 16 + lo;
			i += 2;
		}
		if (ch == '\0' || ch == '\\')
			return 400;
		if (o + 1 >= cap)
			return 414;
		/* collapse runs of '/' */
		if (ch == '/' && o > 0 && out[o - 1] == '/')
			continue;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* 0 if every segment is acceptable, else a status. */
static int
route_check_segments(const char *path)
{
	const char *seg = path;

	while (*seg == '/')
		seg++;
	while (*seg) {
		size_t n = strcspn(seg, "/");

		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 400;
		if (seg[0] == '.')
			return 404;	/* dot-files: .htaccess, .git */
		seg += n;
		while (*seg == '/')
			seg++;
	}
	return 0;
}

static int
route_forbidden_ext(const char *path)
{
	static const char *const bad[] = {
		".php", ".phtml", ".phar", ".inc", ".php5", ".php7", ".php8",
		".phps", ".sql", ".sqlite", ".db", ".yaml", ".yml", ".ini",
		NULL,
	};
	const char *dot = strrchr(path, '.');
	int i;

	if (dot == NULL || strchr(dot, '/'))
		return 0;
	for (i = 0; bad[i]; i++)
		if (strcasecmp(dot, bad[i]) == 0)
			return 1;
	return 0;
}

static void
route_error(struct route *r, int status)
{
	r->kind = ROUTE_ERROR;
	r->status = status;
}

static int
route_php(const struct config *cfg, const char *path, struct route *r)
{
	int i;

	if (strcmp(path, "/") == 0) {
		snprintf(r->script_name, sizeof(r->script_name), "/index.php");
		goto found;
	}
	if (cfg->mw_short_urls &&
	    strncmp(path, cfg->mw_short_urls, strlen(cfg->mw_short_urls)) == 0) {
		snprintf(r->script_name, sizeof(r->script_name), "/index.php");
		goto found;
	}
	for (i = 0; route_entry_points[i]; i++) {
		size_t n = strlen(route_entry_points[i]);

		if (strncmp(path + 1, route_entry_points[i], n) != 0)
			continue;
		if (path[1 + n] != '\0' && path[1 + n] != '/')
			continue;
		snprintf(r->script_name, sizeof(r->script_name), "/%s",
		    route_entry_points[i]);
		if (path[1 + n] == '/') {
			if (strlen(path + 1 + n) >= sizeof(r->path_info)) {
				route_error(r, 414);
				return 1;
			}
			snprintf(r->path_info, sizeof(r->path_info), "%s",
			    path + 1 + n);
			r->has_path_info = 1;
		}
		goto found;
	}
	return 0;
found:
	if ((size_t)snprintf(r->script_filename, sizeof(r->script_filename),
	    "%s%s", cfg->mw_root, r->script_name) >= sizeof(r->script_filename))
		route_error(r, 414);
	else
		r->kind = ROUTE_PHP;
	return 1;
}

/* The longest of the n prefixes of statics that path starts with, if
 * longer than *best: its directory in *dir, the rest of path in *rest. */
static void
route_longest(const struct config_static *statics, int n, const char *path,
    size_t *best, const char **dir, const char **rest)
{
	for (int i = 0; i < n; i++) {
		size_t len = strlen(statics[i].prefix);

		if (len > *best && strncmp(path, statics[i].prefix, len) == 0) {
			*best = len;
			*dir = statics[i].dir;
			*rest = path + len;
		}
	}
}

static int
route_static(const struct config *cfg, int site, const char *path,
    struct route *r)
{
	const char *dir = NULL, *rest = NULL;
	size_t best = 0;
	int i;

	/* a favicon named in mw.yaml is the admin's choice, links and all */
	if (cfg->mw_favicon && strcmp(path, "/favicon.ico") == 0) {
		const char *slash = strrchr(cfg->mw_favicon, '/');

		if (strlen(cfg->mw_favicon) >= sizeof(r->file)) {
			route_error(r, 404);
			return 1;
		}
		strcpy(r->file, cfg->mw_favicon);
		r->rel_off = (size_t)(slash - cfg->mw_favicon) + 1;
		r->dir_len = slash == cfg->mw_favicon ? 1 : r->rel_off - 1;
		r->symlinks = SYMLINKS_FOLLOW;
		r->cache_control = cfg->mw_cache_control;
		r->kind = ROUTE_STATIC;
		return 1;
	}
	r->symlinks = cfg->static_symlinks;
	/* A site's own prefix wins over static:'s of the same length. */
	if (site >= 0 && site < cfg->nsites)
		route_longest(cfg->sites[site].statics,
		    cfg->sites[site].nstatics, path, &best, &dir, &rest);
	route_longest(cfg->statics, cfg->nstatics, path, &best, &dir, &rest);
	if (dir != NULL) {
		size_t n = strcspn(rest, "/");

		r->upload = 1;
		r->cache_control = cfg->static_cache_control;
		r->thumb = n == 5 && strncmp(rest, "thumb/", 6) == 0;
		for (i = 0; route_private_upload_dirs[i]; i++) {
			if (strlen(route_private_upload_dirs[i]) == n &&
			    strncmp(rest, route_private_upload_dirs[i], n) == 0) {
				route_error(r, 403);
				return 1;
			}
		}
	} else {
		r->symlinks = cfg->mw_symlinks;
		r->cache_control = cfg->mw_cache_control;
		r->assets_only = 1;
		for (i = 0; route_root_dirs[i]; i++) {
			size_t n = strlen(route_root_dirs[i]);

			if (strncmp(path, route_root_dirs[i], n) == 0) {
				dir = cfg->mw_root;
				rest = path + 1;
				break;
			}
		}
	}
	if (dir == NULL && (strcmp(path, "/favicon.ico") == 0 ||
	    strcmp(path, "/robots.txt") == 0)) {
		dir = cfg->mw_root;
		rest = path + 1;
		r->symlinks = cfg->mw_symlinks;
		r->cache_control = cfg->mw_cache_control;
		r->assets_only = 1;
	}
	if (dir == NULL || *rest == '\0')
		return 0;
	if ((size_t)snprintf(r->file, sizeof(r->file), "%s/%s", dir, rest) >=
	    sizeof(r->file)) {
		route_error(r, 414);
		return 1;
	}
	r->dir_len = strlen(dir);
	r->rel_off = r->dir_len + 1;
	r->kind = ROUTE_STATIC;
	return 1;
}

/*
 * The article path without its slash ("/wiki") is sent to the article
 * path ("/wiki/", the main page), query and all, as MediaWiki's nginx
 * recipe does; it is no file and no entry point.
 */
static int
route_article_root(const struct config *cfg, const char *path,
    const char *url, size_t len, struct route *r)
{
	size_t n, qlen = 0;
	const char *q;

	if (cfg->mw_short_urls == NULL)
		return 0;
	n = strlen(cfg->mw_short_urls);
	if (n < 2 || strlen(path) != n - 1 ||
	    strncmp(path, cfg->mw_short_urls, n - 1) != 0)
		return 0;
	if ((q = memchr(url, '?', len)) != NULL) {
		const char *hash = memchr(q, '#', len - (size_t)(q - url));

		qlen = (size_t)((hash ? hash : url + len) - q);
	}
	if (n + qlen >= sizeof(r->location)) {
		route_error(r, 414);
		return 1;
	}
	memcpy(r->location, cfg->mw_short_urls, n);
	if (qlen > 0)
		memcpy(r->location + n, q, qlen);
	r->location[n + qlen] = '\0';
	r->kind = ROUTE_REDIRECT;
	r->status = 301;
	return 1;
}

void
route_thumb_handler(const struct config *cfg, struct route *r)
{
	snprintf(r->script_name, sizeof(r->script_name), "/thumb_handler.php");
	r->has_path_info = 0;
	r->path_info[0] = '\0';
	if ((size_t)snprintf(r->script_filename, sizeof(r->script_filename),
	    "%s%s", cfg->mw_root, r->script_name) >= sizeof(r->script_filename))
		route_error(r, 414);
	else
		r->kind = ROUTE_PHP;
}

void
route_request(const struct config *cfg, int site, const char *url,
    size_t len, struct route *r)
{
	char path[4096];
	int st;

	memset(r, 0, sizeof(*r));
	if ((st = route_decode_path(url, len, path, sizeof(path))) != 0 ||
	    (st = route_check_segments(path)) != 0) {
		route_error(r, st);
		return;
	}
	if (route_php(cfg, path, r) || route_article_root(cfg, path, url, len,
	    r))
		return;
	if (route_forbidden_ext(path) || strstr(path, "LocalSettings")) {
		route_error(r, 403);
		return;
	}
	if (route_static(cfg, site, path, r))
		return;
	route_error(r, 404);
}
