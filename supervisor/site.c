/*
 * site.c - choosing the site of a request by its Host.
 *
 * A farm has a few sites with a few aliases each: a walk over them per
 * request costs less than building anything.  Names and aliases are kept
 * in lower case by the config; the host is compared without case, with
 * one trailing dot (an absolute name) dropped.
 */
#include "site.h"
#include "config.h"

#include <string.h>
#include <strings.h>

static int
site_same(const char *name, const char *host, size_t len)
{
	return strlen(name) == len && strncasecmp(name, host, len) == 0;
}

/* "*.suffix" matches a host ending in ".suffix" with a label before it;
 * how long the suffix is (longer wins), or 0. */
static size_t
site_wild(const char *alias, const char *host, size_t len)
{
	size_t n;

	if (alias[0] != '*')
		return 0;
	n = strlen(alias + 1);		/* ".suffix" */
	if (len <= n || strncasecmp(host + len - n, alias + 1, n) != 0)
		return 0;
	return n;
}

int
site_choose(const struct config *cfg, const char *host, size_t len)
{
	int wild = -1, dflt = 0;
	size_t best = 0;

	if (cfg->nsites == 0)
		return SITE_NONE;
	if (len > 0 && host[len - 1] == '.')
		len--;
	for (int i = 0; i < cfg->nsites; i++) {
		const struct config_site *s = &cfg->sites[i];

		if (s->is_default)
			dflt = i;
		if (len == 0)
			continue;
		if (site_same(s->name, host, len))
			return i;
		for (int j = 0; j < s->naliases; j++) {
			size_t n;

			if (site_same(s->aliases[j], host, len))
				return i;
			if ((n = site_wild(s->aliases[j], host, len)) > best) {
				best = n;
				wild = i;
			}
		}
	}
	return wild >= 0 ? wild : dflt;
}

int
site_find(const struct config *cfg, const char *name)
{
	for (int i = 0; i < cfg->nsites; i++)
		if (strcmp(cfg->sites[i].name, name) == 0)
			return i;
	return SITE_GONE;
}

const char *
site_name(const struct config *cfg, int site)
{
	return site >= 0 && site < cfg->nsites ? cfg->sites[site].name : "";
}

int
site_workers(const struct config *cfg, int site)
{
	if (site >= 0 && site < cfg->nsites)
		return cfg->sites[site].workers;
	return site == SITE_NONE ? cfg->workers : 0;
}

int
site_count(const struct config *cfg)
{
	return cfg->nsites > 0 ? cfg->nsites : 1;
}

int
site_at(const struct config *cfg, int i)
{
	return cfg->nsites > 0 ? i : SITE_NONE;
}
