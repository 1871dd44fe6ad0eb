/*
 * route.h - decide what a request path is: a PHP entry point, a static
 * file, or an error.  Pure functions of the URL and the config, so they
 * can be fuzzed and tested alone.
 */
#ifndef MW_ROUTE_H
#define MW_ROUTE_H

#include <limits.h>
#include <stddef.h>

#include "config.h"

enum route_kind { ROUTE_PHP, ROUTE_STATIC, ROUTE_ERROR, ROUTE_REDIRECT };

struct route {
	enum route_kind	kind;
	int		status;			/* ROUTE_ERROR: 400/403/404 */
	char		script_filename[PATH_MAX];	/* ROUTE_PHP */
	char		script_name[64];
	char		path_info[4096];	/* decoded, may be empty */
	int		has_path_info;
	char		file[PATH_MAX];		/* ROUTE_STATIC: dir/rel */
	size_t		rel_off;		/* rel: file + rel_off */
	size_t		dir_len;		/* dir: file[0..dir_len) */
	enum symlink_policy symlinks;		/* for links below dir */
	const char	*cache_control;		/* NULL: none */
	int		upload;			/* a static: mapping */
	int		assets_only;		/* MediaWiki's tree: asset types */
	int		thumb;			/* below its thumb/: made if missing */
	char		location[4096];		/* ROUTE_REDIRECT: 301 to it */
};

/* url is the request-target as received (not NUL-terminated); site is
 * the request's (site.h): its static prefixes come before static:'s. */
void	route_request(const struct config *cfg, int site, const char *url,
	    size_t len, struct route *r);
/* r, a missing thumbnail, is thumb_handler.php's to make (nginx's
 * try_files $uri @thumb). */
void	route_thumb_handler(const struct config *cfg, struct route *r);

#endif
