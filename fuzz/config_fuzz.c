/*
 * config_fuzz.c - libFuzzer target for the mw.yaml parser.
 *
 * The config arrives from an admin, not an attacker, but it is parsed as
 * root before privileges are dropped and its bytes are handed on to every
 * worker, so the parser must neither crash nor leak on any input.  Besides
 * the sanitizers' checks, an accepted config is checked against the
 * promises config.h makes to its users.
 */
#include "config.h"
#include "log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
config_fuzz_check(const struct config *cfg)
{
	int i;
	size_t n;

	if (cfg->nlisten < 1 || cfg->nlisten > CONFIG_MAX_LISTEN ||
	    cfg->workers < 1 || cfg->workers > 1024 ||
	    cfg->mw_root == NULL || cfg->mw_root[0] != '/' ||
	    cfg->mw_settings == NULL || cfg->mw_settings[0] != '/' ||
	    cfg->head_max < 1024 || cfg->head_max > 1024 * 1024 ||
	    cfg->header_timeout_ms < 1 || cfg->request_timeout_ms < 1 ||
	    cfg->nini > CONFIG_MAX_INI || cfg->nstatics > CONFIG_MAX_STATIC ||
	    cfg->nexclude > CONFIG_MAX_EXCLUDE ||
	    cfg->gzip_level < 0 || cfg->gzip_level > 9 ||
	    cfg->brotli_level < 0 || cfg->brotli_level > 11 ||
	    cfg->ncompress_types < 0 ||
	    cfg->ncompress_types > CONFIG_MAX_COMPRESS_TYPES)
		abort();
	for (i = 0; i < cfg->ncompress_types; i++)
		if (cfg->compress_types[i] == NULL ||
		    strchr(cfg->compress_types[i], '/') == NULL)
			abort();
	for (i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i] == NULL || cfg->listen[i][0] == '\0')
			abort();
	for (i = 0; i < cfg->nstatics; i++) {
		n = strlen(cfg->statics[i].prefix);
		if (cfg->statics[i].prefix[0] != '/' ||
		    cfg->statics[i].prefix[n - 1] != '/' ||
		    cfg->statics[i].dir[0] != '/')
			abort();
	}
	for (i = 0; i < cfg->nini; i++)
		if (cfg->ini[i].name == NULL || cfg->ini[i].value == NULL)
			abort();
	if (cfg->mw_short_urls && (cfg->mw_short_urls[0] != '/' ||
	    cfg->mw_short_urls[strlen(cfg->mw_short_urls) - 1] != '/'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;

	log_init("config_fuzz");
	if (config_parse(&cfg, "fuzz.yaml", (const char *)data, size) == 0)
		config_fuzz_check(&cfg);
	config_free(&cfg);
	return 0;
}
