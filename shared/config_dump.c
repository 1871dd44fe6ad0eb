/*
 * config_dump.c - a struct config written back as mw.yaml (mwsup --dump).
 *
 * The dump walks the key tables config.c parses with (config_schema.h),
 * each key printed by the printer of its setter, so a key added to a table
 * shows in the dump or makes it fail, naming the key: there is no list of
 * keys of its own to forget.  What it prints parses back to the same
 * config, and so dumps again the same.
 */
#include "config.h"
#include "config_schema.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int config_dumper(FILE *, const struct config *,
    const struct config_key *, const void *, int);

static int config_dump_keys(FILE *, const struct config *,
    const struct config_key *, const void *, const char *, int, int);

/* Written plain when YAML reads it back as the same text, else quoted. */
static void
config_dump_text(FILE *f, const char *s)
{
	static const char *const special[] = { "~", "null", "Null", "NULL",
	    "true", "True", "TRUE", "false", "False", "FALSE", "off", NULL };
	size_t len = s ? strlen(s) : 0;
	int plain = len > 0 && (isalnum((unsigned char)s[0]) || s[0] == '/' ||
	    s[0] == '_' || s[0] == '.') && s[len - 1] != ':' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_./+=@:-") == len;

	if (s == NULL) {
		fputs("~", f);
		return;
	}
	for (int i = 0; plain && special[i]; i++)
		if (strcmp(s, special[i]) == 0)
			plain = 0;
	if (plain) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* "  name:" at depth d; a value follows on the line or below it. */
static void
config_dump_key(FILE *f, int d, const char *name)
{
	fprintf(f, "%*s", 2 * d, "");
	config_dump_text(f, name);
	fputc(':', f);
}

/* A sequence of names below key k ("[]" when empty). */
static void
config_dump_list(FILE *f, int d, char *const *v, int n)
{
	if (n == 0) {
		fputs(" []\n", f);
		return;
	}
	fputc('\n', f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%*s- ", 2 * d + 2, "");
		config_dump_text(f, v[i]);
		fputc('\n', f);
	}
}

static const void *
config_field(const void *base, const struct config_key *k)
{
	return (const char *)base + k->off;
}

static int
config_dump_number(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const void *p = config_field(base, k);
	char buf[32];
	uint64_t v;

	(void)cfg;
	switch (k->num) {
	case CONFIG_NUM_U64:
		v = *(const uint64_t *)p;
		break;
	case CONFIG_NUM_SIZE:
		v = *(const size_t *)p;
		break;
	case CONFIG_NUM_RSS:
		v = *(const uint64_t *)p * KB;
		break;
	default:
		v = (uint64_t)*(const int *)p;
		break;
	}
	/* 0 below the range: not set (a job group's limits) */
	if (v == 0 && k->min > 0 && k->num != CONFIG_NUM_RSS)
		return 0;
	config_dump_key(f, d, k->name);
	if (k->num == CONFIG_NUM_SIZE || k->num == CONFIG_NUM_RSS)
		fprintf(f, " %s\n", config_size_text(v, buf, sizeof(buf)));
	else if (k->num == CONFIG_NUM_MS && v % 1000 != 0) {
		snprintf(buf, sizeof(buf), "%03llu",
		    (unsigned long long)(v % 1000));
		for (int i = 2; i > 0 && buf[i] == '0'; i--)
			buf[i] = '\0';
		fprintf(f, " %llu.%s\n", (unsigned long long)(v / 1000), buf);
	}
	else if (k->num == CONFIG_NUM_MS)
		fprintf(f, " %llu\n", (unsigned long long)(v / 1000));
	else
		fprintf(f, " %llu\n", (unsigned long long)v);
	return 0;
}

/* log.slow: off, or seconds. */
static int
config_dump_slow(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	if (*(const int *)config_field(base, k) != 0)
		return config_dump_number(f, cfg, k, base, d);
	config_dump_key(f, d, k->name);
	fputs(" off\n", f);
	return 0;
}

/* A string key; NULL is written null ("~"). */
static int
config_dump_string(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const char *s = *(char *const *)config_field(base, k);

	(void)cfg;
	config_dump_key(f, d, k->name);
	fputc(' ', f);
	config_dump_text(f, s);
	fputc('\n', f);
	return 0;
}

/* log.access: off, stderr or a path. */
static int
config_dump_log_target(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const char *s = *(char *const *)config_field(base, k);

	(void)cfg;
	config_dump_key(f, d, k->name);
	fputc(' ', f);
	if (s == NULL)
		fputs("off", f);
	else
		config_dump_text(f, s);
	fputc('\n', f);
	return 0;
}

/* Cache-Control: none is "". */
static int
config_dump_cache_control(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const char *s = *(char *const *)config_field(base, k);

	(void)cfg;
	config_dump_key(f, d, k->name);
	fputc(' ', f);
	config_dump_text(f, s ? s : "");
	fputc('\n', f);
	return 0;
}

static int
config_dump_bool(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)cfg;
	config_dump_key(f, d, k->name);
	fprintf(f, " %s\n", *(const bool *)config_field(base, k) ?
	    "true" : "false");
	return 0;
}

static int
config_dump_level(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	int v = *(const int *)config_field(base, k);

	(void)cfg;
	config_dump_key(f, d, k->name);
	if (v == 0)
		fputs(" off\n", f);
	else
		fprintf(f, " %d\n", v);
	return 0;
}

static int
config_dump_mode(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)cfg;
	config_dump_key(f, d, k->name);
	fprintf(f, " %04o\n", (unsigned)*(const int *)config_field(base, k));
	return 0;
}

static int
config_dump_dispatch(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)cfg;
	config_dump_key(f, d, k->name);
	fprintf(f, " %s\n", *(const enum dispatch_policy *)config_field(base,
	    k) == DISPATCH_LONGEST_BUSY ? "longest-busy" : "queue");
	return 0;
}

static int
config_dump_symlinks(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	static const char *const names[] = {
		[SYMLINKS_REFUSE] = "refuse", [SYMLINKS_INSIDE] = "inside",
		[SYMLINKS_OWNER] = "owner", [SYMLINKS_FOLLOW] = "follow",
	};
	enum symlink_policy v =
	    *(const enum symlink_policy *)config_field(base, k);

	(void)cfg;
	if ((unsigned)v >= sizeof(names) / sizeof(names[0]))
		return -1;
	config_dump_key(f, d, k->name);
	fprintf(f, " %s\n", names[v]);
	return 0;
}

static int
config_dump_listen(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	fputc('\n', f);
	for (int i = 0; i < cfg->nlisten; i++) {
		fprintf(f, "%*s- ", 2 * d + 2, "");
		if (cfg->listen_proxy[i])
			fputs("address: ", f);
		config_dump_text(f, cfg->listen[i]);
		fputc('\n', f);
		if (cfg->listen_proxy[i])
			fprintf(f, "%*sproxy_protocol: true\n", 2 * d + 4, "");
	}
	return 0;
}

/* status.allow, proxy.trusted, cache.purge_allow */
static int
config_dump_cidrs(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const struct config_cidrs *list = config_field(base, k);
	const struct config_cidr *v = list->v;
	char addr[INET6_ADDRSTRLEN];

	(void)cfg;
	config_dump_key(f, d, k->name);
	if (list->n == 0) {
		fputs(" []\n", f);
		return 0;
	}
	fputc('\n', f);
	for (int i = 0; i < list->n; i++) {
		fprintf(f, "%*s- ", 2 * d + 2, "");
		if (v[i].family == AF_UNIX) {
			fputs("unix\n", f);
			continue;
		}
		if (inet_ntop(v[i].family, v[i].addr, addr,
		    sizeof(addr)) == NULL)
			return -1;
		fprintf(f, "'%s", addr);
		if (v[i].bits != (v[i].family == AF_INET ? 32 : 128))
			fprintf(f, "/%d", v[i].bits);
		fputs("'\n", f);
	}
	return 0;
}

static int
config_dump_php(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	fputs(cfg->nini ? "\n" : " {}\n", f);
	for (int i = 0; i < cfg->nini; i++) {
		config_dump_key(f, d + 1, cfg->ini[i].name);
		fputc(' ', f);
		config_dump_text(f, cfg->ini[i].value);
		fputc('\n', f);
	}
	return 0;
}

static void
config_dump_statics(FILE *f, const struct config_static *st, int n, int d)
{
	for (int i = 0; i < n; i++) {
		config_dump_key(f, d, st[i].prefix);
		fputc(' ', f);
		config_dump_text(f, st[i].dir);
		fputc('\n', f);
	}
}

/* static: its prefixes, then the keys of config_static_keys. */
static int
config_dump_static(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	config_dump_key(f, d, k->name);
	fputc('\n', f);
	config_dump_statics(f, cfg->statics, cfg->nstatics, d + 1);
	return config_dump_keys(f, cfg, config_static_keys, base, k->name,
	    d + 1, 0);
}

static int
config_dump_static_types(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	fputs(cfg->ntypes ? "\n" : " {}\n", f);
	for (int i = 0; i < cfg->ntypes; i++) {
		config_dump_key(f, d + 1, cfg->types[i].ext);
		fputc(' ', f);
		config_dump_text(f, cfg->types[i].type);
		fputc('\n', f);
	}
	return 0;
}

static int
config_dump_exclude(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	config_dump_list(f, d, cfg->exclude, cfg->nexclude);
	return 0;
}

static int
config_dump_reset(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	config_dump_list(f, d, cfg->reset, cfg->nreset);
	return 0;
}

static int
config_dump_compress_types(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	config_dump_list(f, d, cfg->compress_types, cfg->ncompress_types);
	return 0;
}

static int
config_dump_errpages(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	fputs(cfg->nerrpages ? "\n" : " {}\n", f);
	for (int i = 0; i < cfg->nerrpages; i++) {
		fprintf(f, "%*s%d: ", 2 * d + 2, "", cfg->errpages[i].status);
		config_dump_text(f, cfg->errpages[i].path);
		fputc('\n', f);
	}
	return 0;
}

/* A section: its keys below it. */
static int
config_dump_section(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	config_dump_key(f, d, k->name);
	fputc('\n', f);
	return config_dump_keys(f, cfg, k->sub, base, k->name, d + 1, 0);
}

static int
config_dump_job_types(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const struct config_job_group *g = (const void *)((const char *)base +
	    k->off - offsetof(struct config_job_group, types));

	(void)cfg;
	if (g->ntypes == 0)
		return 0;	/* the catch-all group */
	config_dump_key(f, d, k->name);
	config_dump_list(f, d, g->types, g->ntypes);
	return 0;
}

/* jobs.groups: a sequence of mappings. */
static int
config_dump_job_groups(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	if (cfg->njob_groups == 0) {
		fputs(" ~\n", f);
		return 0;
	}
	fputc('\n', f);
	for (int i = 0; i < cfg->njob_groups; i++)
		if (config_dump_keys(f, cfg, config_job_group_keys,
		    &cfg->job_groups[i], "jobs.groups", d + 2, 1) == -1)
			return -1;
	return 0;
}

static int
config_dump_site_aliases(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const struct config_site *s = base;

	(void)cfg;
	if (s->naliases == 0)
		return 0;	/* an empty list is no list of aliases */
	config_dump_key(f, d, k->name);
	config_dump_list(f, d, (char *const *)s->aliases, s->naliases);
	return 0;
}

static int
config_dump_site_static(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	const struct config_site *s = base;

	(void)cfg;
	config_dump_key(f, d, k->name);
	fputs(s->nstatics ? "\n" : " {}\n", f);
	config_dump_statics(f, s->statics, s->nstatics, d + 1);
	return 0;
}

static int
config_dump_sites(FILE *f, const struct config *cfg,
    const struct config_key *k, const void *base, int d)
{
	(void)base;
	config_dump_key(f, d, k->name);
	if (cfg->nsites == 0) {
		fputs(" ~\n", f);
		return 0;
	}
	fputc('\n', f);
	for (int i = 0; i < cfg->nsites; i++) {
		config_dump_key(f, d + 1, cfg->sites[i].name);
		fputc('\n', f);
		if (config_dump_keys(f, cfg, config_site_keys, &cfg->sites[i],
		    "sites", d + 2, 0) == -1)
			return -1;
	}
	return 0;
}

/* The printer of each setter. */
static const struct {
	config_setter	*set;
	config_dumper	*dump;
} config_dumpers[] = {
	{ config_set_number,		config_dump_number },
	{ config_set_slow,		config_dump_slow },
	{ config_set_abspath,		config_dump_string },
	{ config_set_abspath_opt,	config_dump_string },
	{ config_set_name_opt,		config_dump_string },
	{ config_set_prefix_opt,	config_dump_string },
	{ config_set_urlpath_opt,	config_dump_string },
	{ config_set_header_name,	config_dump_string },
	{ config_set_log_target,	config_dump_log_target },
	{ config_set_cache_control,	config_dump_cache_control },
	{ config_set_bool,		config_dump_bool },
	{ config_set_level,		config_dump_level },
	{ config_set_mode,		config_dump_mode },
	{ config_set_dispatch,		config_dump_dispatch },
	{ config_set_symlinks,		config_dump_symlinks },
	{ config_set_listen,		config_dump_listen },
	{ config_set_cidrs,		config_dump_cidrs },
	{ config_set_cache,		config_dump_section },
	{ config_set_php,		config_dump_php },
	{ config_set_static,		config_dump_static },
	{ config_set_static_types,	config_dump_static_types },
	{ config_set_exclude,		config_dump_exclude },
	{ config_set_reset,		config_dump_reset },
	{ config_set_compress_types,	config_dump_compress_types },
	{ config_set_errpages,		config_dump_errpages },
	{ config_set_section,		config_dump_section },
	{ config_set_compression,	config_dump_section },
	{ config_set_job_groups,	config_dump_job_groups },
	{ config_set_job_types,		config_dump_job_types },
	{ config_set_sites,		config_dump_sites },
	{ config_set_site_aliases,	config_dump_site_aliases },
	{ config_set_site_static,	config_dump_site_static },
};

/* The first key of a sequence entry: as at depth d, its indent's last
 * two spaces made "- ". */
static int
config_dump_item(FILE *f, const struct config *cfg, const struct config_key *k,
    const void *base, int d, config_dumper *dump)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int rc;

	if ((m = open_memstream(&buf, &len)) == NULL)
		return -1;
	rc = dump(m, cfg, k, base, d);
	if (fclose(m) != 0 || buf == NULL)
		rc = -1;
	if (rc == 0 && len >= (size_t)(2 * d) && d > 0)
		memcpy(buf + 2 * d - 2, "- ", 2);
	if (rc == 0)
		fwrite(buf, 1, len, f);
	free(buf);
	return rc;
}

/* Is section.name a key of the one wiki, left out of a farm's dump? */
static int
config_dump_skip(const struct config *cfg, const char *section,
    const char *name)
{
	if (cfg->nsites == 0 || section == NULL)
		return 0;
	for (size_t i = 0; config_one_wiki[i][0]; i++)
		if (strcmp(config_one_wiki[i][0], section) == 0 &&
		    strcmp(config_one_wiki[i][1], name) == 0)
			return 1;
	return 0;
}

/*
 * The keys of a table (of section, NULL at the top), their fields at
 * base, at depth d; item: the first key opens an entry of a sequence
 * ("- ").  A key whose setter has no printer fails the dump, naming it.
 */
static int
config_dump_keys(FILE *f, const struct config *cfg,
    const struct config_key *keys, const void *base, const char *section,
    int d, int item)
{
	const struct config_key *k;
	size_t i;

	for (k = keys; k->name; k++) {
		if (config_dump_skip(cfg, section, k->name))
			continue;
		for (i = 0; i < sizeof(config_dumpers) /
		    sizeof(config_dumpers[0]); i++)
			if (config_dumpers[i].set == k->set)
				break;
		if (i == sizeof(config_dumpers) / sizeof(config_dumpers[0])) {
			log_err("dump: key \"%s\" has no printer", k->name);
			return -1;
		}
		if (item && k == keys) {
			if (config_dump_item(f, cfg, k, base, d,
			    config_dumpers[i].dump) == -1)
				return -1;
		} else if (config_dumpers[i].dump(f, cfg, k, base, d) == -1)
			return -1;
	}
	return 0;
}

int
config_dump(const struct config *cfg, FILE *f)
{
	if (config_dump_keys(f, cfg, config_top_keys, cfg, NULL, 0, 0) == -1)
		return -1;
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
