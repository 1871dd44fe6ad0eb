/*
 * config.h - mw.yaml, parsed once into a plain struct.
 *
 * The supervisor parses the file, then hands the same bytes to each worker
 * through a memfd, so both processes always see one version of the file
 * even if it is edited while workers start.  Every error names
 * file:line:column and the loader returns -1; callers exit 2.
 */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_STATIC	16
#define CONFIG_MAX_TYPES	256	/* static.types entries */
#define CONFIG_MAX_INI		64
#define CONFIG_MAX_EXCLUDE	128
#define CONFIG_MAX_ALLOW	32
#define CONFIG_MAX_JOB_GROUPS	16
#define CONFIG_MAX_ERRPAGES	32
#define CONFIG_MAX_JOB_TYPES	64	/* named by one group */
#define CONFIG_MAX_SITES	64
#define CONFIG_MAX_ALIASES	16	/* per site */
#define CONFIG_MAX_COMPRESS_TYPES 64	/* compression.types entries */

enum dispatch_policy { DISPATCH_QUEUE = 0, DISPATCH_LONGEST_BUSY = 1 };

/* Which symbolic links below a served directory are followed. */
enum symlink_policy {
	SYMLINKS_REFUSE,	/* none */
	SYMLINKS_INSIDE,	/* to what is inside the directory, same owner */
	SYMLINKS_OWNER,		/* to what has the link's owner, anywhere */
	SYMLINKS_FOLLOW,	/* all */
};

struct config_static {
	char	*prefix;	/* URL prefix, starts and ends with '/' */
	char	*dir;		/* directory it maps to */
	unsigned long line, col;	/* where mw.yaml names it */
};

/* static.types: a file name extension and the Content-Type it is sent as. */
struct config_type {
	char	*ext;		/* without the dot, lower case */
	char	*type;
};

struct config_cidr {
	int	 family;		/* AF_INET, AF_INET6, or AF_UNIX for "unix" */
	uint8_t	 addr[16];
	int	 bits;
};

/* status.allow, proxy.trusted, cache.purge_allow: addresses and networks. */
struct config_cidrs {
	struct config_cidr v[CONFIG_MAX_ALLOW];
	int	 n;
};

/* error_pages: the file sent for one of the supervisor's own errors. */
struct config_errpage {
	int	 status;	/* 400..599 */
	char	*path;		/* absolute */
	unsigned long line, col;	/* where mw.yaml names it */
};
struct config_ini {
	char	*name;
	char	*value;
};

/* jobs.groups: job types run in slices of their own, with their limits. */
struct config_job_group {
	char	*name;
	char	*types[CONFIG_MAX_JOB_TYPES];	/* none: every type no other group names */
	int	 ntypes;
	int	 max_jobs;		/* 0: jobs.max_jobs */
	int	 max_time_ms;		/* 0: jobs.max_time */
	int	 workers;		/* slices at once; 0: no limit of its own */
};

/*
 * sites: one wiki of a farm, served by a pool of workers of its own that
 * bootstrap its LocalSettings.php with its name as the request's host.
 */
struct config_site {
	char	*name;		/* host name, lower case: the mw.yaml key */
	char	*settings;	/* its LocalSettings.php */
	char	*aliases[CONFIG_MAX_ALIASES];	/* lower case; "*.suffix" */
	int	 naliases;
	int	 workers;	/* its pool; pool.workers when not given */
	bool	 is_default;	/* gets the hosts no site names */
	struct config_static statics[CONFIG_MAX_STATIC];	/* over static: */
	int	 nstatics;
	unsigned long line, col;	/* where mw.yaml names it */
};

struct config {
	char	*path;			/* file the config came from */

	char	*listen[CONFIG_MAX_LISTEN];	/* "host:port", "[v6]:port", "unix:/path" */
	bool	 listen_proxy[CONFIG_MAX_LISTEN];	/* PROXY protocol first */
	int	 nlisten;

	/* mediawiki: */
	char	*mw_root;		/* MediaWiki install, /usr/share/mediawiki */
	char	*mw_settings;		/* LocalSettings.php */
	char	*mw_short_urls;		/* article path prefix like "/wiki/", or NULL */
	char	*server_name;		/* SERVER_NAME, default from Host: */
	enum symlink_policy mw_symlinks; /* below root's resources/ etc. */
	char	*mw_cache_control;	/* Cache-Control of its files, NULL: none */
	char	*mw_favicon;		/* file sent for /favicon.ico, or NULL */

	/* pool: */
	int	 workers;		/* pool size, 1..1024 */
	enum dispatch_policy dispatch;
	int	 queue_max;		/* requests held when no worker is idle */
	char	*worker_path;		/* mwworker binary, NULL = default */

	/* timeouts: (milliseconds) */
	int	 header_timeout_ms;
	int	 body_timeout_ms;
	int	 request_timeout_ms;
	int	 keepalive_timeout_ms;
	int	 shutdown_timeout_ms;
	int	 startup_timeout_ms;
	int	 drain_ms;		/* stop: health says draining, still serving */

	/* limits: */
	size_t	 head_max;		/* request line + headers, bytes */
	size_t	 body_max;		/* request body, bytes */
	int	 headers_max;		/* number of header fields */
	int	 connections_max;
	size_t	 body_buffer;		/* request body kept in memory, bytes */
	size_t	 response_buffer;	/* unsent answer kept in memory, bytes */

	/* recycle: */
	uint64_t max_requests;		/* 0 = never */
	uint64_t max_rss_kb;		/* 0 = never */

	/* php: */
	struct config_ini ini[CONFIG_MAX_INI];
	int	 nini;

	/* static: */
	struct config_static statics[CONFIG_MAX_STATIC];
	int	 nstatics;
	enum symlink_policy static_symlinks;
	char	*static_cache_control;	/* Cache-Control of uploads, NULL: none */
	struct config_type types[CONFIG_MAX_TYPES];	/* over /etc/mime.types */
	int	 ntypes;

	/* compression: of answers, negotiated on Accept-Encoding */
	int	 gzip_level;		/* 1..9; 0: gzip not offered */
	int	 brotli_level;		/* 1..11; 0: br not offered */
	size_t	 compress_min;		/* smaller answers go as they are */
	char	*compress_types[CONFIG_MAX_COMPRESS_TYPES];	/* "text/html"; a wildcard "text/" "*" covers all text */
	int	 ncompress_types;
	size_t	 static_cache;		/* compressed static files kept, bytes */

	/* cache: the page cache for anonymous readers (supervisor/cache.c) */
	bool	 cache_enabled;
	size_t	 cache_size;		/* bound on what entries take, bytes */
	size_t	 cache_max_entry;	/* larger answers are not stored */
	struct config_cidrs cache_purge_allow;	/* none: loopback only */

	/* snapshot: */
	bool	 snapshot_enabled;	/* warm workers: bootstrap once, checkpoint/restore */
	int	 gc_interval;		/* requests between PHP cycle collections */
	char	*exclude[CONFIG_MAX_EXCLUDE];
	int	 nexclude;
	char	*reset[CONFIG_MAX_EXCLUDE];	/* services set back per request */
	int	 nreset;

	/* status: the HTTP status endpoint */
	char	*status_path;		/* NULL = off */
	char	*status_health;		/* exact URL path; NULL = off */
	struct config_cidrs status_allow;	/* none: loopback only */
	bool	 status_show_query;	/* in-flight requests with their query */

	/* error_pages: */
	struct config_errpage errpages[CONFIG_MAX_ERRPAGES];
	int	 nerrpages;
	/* proxy: who may say who the client is */
	struct config_cidrs proxy_trusted;	/* none: nobody; headers ignored */
	char	*proxy_header;		/* "X-Forwarded-For" */
	char	*proxy_proto_header;	/* "X-Forwarded-Proto", NULL: none */
	/* log: */
	char	*access_log;		/* NULL off, "stderr", or a path */
	int	 slow_log_ms;		/* 0 = off */

	/* jobs: MediaWiki's job queue, run in idle workers */
	bool	 jobs_enabled;
	int	 jobs_reserve;		/* idle workers kept for web requests */
	int	 jobs_max_jobs;		/* per slice */
	int	 jobs_max_time_ms;	/* a slice takes no new job after this */
	int	 jobs_timeout_ms;	/* a slice still running is killed */
	size_t	 jobs_memory_limit;	/* PHP memory_limit in a slice, bytes */
	int	 jobs_poll_ms;		/* how often to look for work */
	int	 jobs_chron_ms;		/* queue upkeep (recycle, undelay...) */
	char	*jobs_sqlite;		/* the wiki's SQLite file, looked at read-only */
	struct config_job_group job_groups[CONFIG_MAX_JOB_GROUPS];
	int	 njob_groups;		/* 0: one group with every type */

	/* request bodies and unsent answers past their memory bounds */
	char	*temp_dir;
	/* unix_socket: the listen sockets mwsup makes itself */
	char	*socket_owner;		/* NULL: the user mwsup runs as */
	char	*socket_group;		/* NULL: the group mwsup runs as */
	int	 socket_mode;		/* permission bits, 0660 */

	/* sites: a wiki farm; none: the one wiki of mediawiki.settings */
	struct config_site sites[CONFIG_MAX_SITES];
	int	 nsites;
	int	 workers_total;		/* pool.workers, or the sites' sum */
	/* mwworker --site: the site this worker serves (a name of sites,
	 * set by the worker after parsing; never read from mw.yaml). */
	const char *site;

	/* privileges, when started as root */
	char	*user;
	char	*group;
};

/* Parse buf (len bytes) named name.  On error logs file:line:col: message
 * and returns -1.  cfg is filled with defaults first.  On error cfg holds
 * nothing to free (config_free on it is harmless either way). */
int	config_parse(struct config *cfg, const char *name, const char *buf,
	    size_t len);
/* Read and parse a file; the bytes read are returned in *bufp (malloc'd,
 * NUL-terminated past *lenp) so they can be passed on unchanged.  On error
 * *bufp is NULL and cfg holds nothing to free. */
int	config_load(struct config *cfg, const char *path, char **bufp,
	    size_t *lenp);
void	config_free(struct config *cfg);
/* Write cfg to f as mw.yaml: every key of the schema in its order, the
 * defaults filled in; parsing what it writes gives cfg again (mwsup
 * --dump).  -1, logged, when a key has no printer, or on a write error. */
int	config_dump(const struct config *cfg, FILE *f);
/* Is an address in list (status.allow, proxy.trusted, cache.purge_allow)?
 * fam: AF_INET or AF_INET6 with a's 4 or 16 bytes, or AF_UNIX for a unix
 * socket client (a unused), which only "unix" matches. */
int	config_cidr_match(const struct config_cidrs *list, int fam,
	    const uint8_t *a);

#endif
