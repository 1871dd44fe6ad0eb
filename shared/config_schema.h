/*
 * config_schema.h - the key tables of mw.yaml, for config.c and
 * config_dump.c only.
 *
 * config.c parses with the tables; config_dump.c prints a config by
 * walking the same tables, each key by the printer of its setter, so
 * that the two cannot disagree on which keys there are.
 */
#ifndef MW_CONFIG_SCHEMA_H
#define MW_CONFIG_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#define KB	1024ULL
#define MB	(1024ULL * KB)
#define GB	(1024ULL * MB)
#define TB	(1024ULL * GB)

struct config_walk;
struct yamltree_node;
struct config_key;

/* Checks a key's value and stores it; -1 (reported) when it is wrong. */
typedef int config_setter(struct config_walk *, const struct config_key *,
    const struct yamltree_node *, const struct yamltree_node *);

/* How a number is written and where it is stored. */
enum config_num { CONFIG_NUM_INT, CONFIG_NUM_U64, CONFIG_NUM_SIZE,
		  CONFIG_NUM_RSS, CONFIG_NUM_MS };

struct config_key {
	const char		*name;
	config_setter		*set;
	size_t			 off;		/* field in struct config */
	enum config_num		 num;
	uint64_t		 min, max;	/* range, in the unit written */
	const struct config_key	*sub;		/* keys of a section */
};

/* The tables, each ended by a NULL name: the top level's (whose sections
 * point to theirs), static:'s settings, a job group's and a site's (their
 * offsets relative to struct config_job_group and struct config_site). */
extern const struct config_key config_top_keys[];
extern const struct config_key config_static_keys[];
extern const struct config_key config_job_group_keys[];
extern const struct config_key config_site_keys[];

/* Section and key of the one wiki's settings a farm refuses, and why;
 * ended by NULLs. */
extern const char *const config_one_wiki[][3];

/* A size as written in mw.yaml ("16k", "100M"), into buf. */
const char *config_size_text(uint64_t v, char *buf, size_t size);

/* The setters config_dump.c tells apart. */
config_setter	config_set_number;
config_setter	config_set_slow;
config_setter	config_set_abspath;
config_setter	config_set_abspath_opt;
config_setter	config_set_name_opt;
config_setter	config_set_prefix_opt;
config_setter	config_set_urlpath_opt;
config_setter	config_set_header_name;
config_setter	config_set_log_target;
config_setter	config_set_cache_control;
config_setter	config_set_bool;
config_setter	config_set_level;
config_setter	config_set_mode;
config_setter	config_set_dispatch;
config_setter	config_set_symlinks;
config_setter	config_set_listen;
config_setter	config_set_cidrs;
config_setter	config_set_cache;
config_setter	config_set_php;
config_setter	config_set_static;
config_setter	config_set_static_types;
config_setter	config_set_exclude;
config_setter	config_set_reset;
config_setter	config_set_compress_types;
config_setter	config_set_errpages;
config_setter	config_set_section;
config_setter	config_set_compression;
config_setter	config_set_job_groups;
config_setter	config_set_job_types;
config_setter	config_set_sites;
config_setter	config_set_site_aliases;
config_setter	config_set_site_static;

#endif
