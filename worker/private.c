/*
 * private.c - a private wiki whose uploads a static mapping serves.
 */
#include "private.h"
#include "config.h"
#include "log.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <main/php.h>
#include <Zend/zend_exceptions.h>
#include <Zend/zend_execute.h>

static struct {
	const struct config *cfg;
	bool	 checked;
	bool	 reported;
	int	 mapping;
} priv = { NULL, false, false, -1 };

/* null until MediaWiki is set up; "" if anonymous users may read; else
 * the upload directory */
static const char private_php[] =
    "(static function () {"
    " $p = $GLOBALS['wgGroupPermissions'] ?? null;"
    " if ( !is_array( $p ) || !isset( $GLOBALS['wgUploadDirectory'] ) )"
    "  return null;"
    " if ( !empty( $p['*']['read'] ) ) return '';"
    " $d = $GLOBALS['wgUploadDirectory'];"
    " return is_string( $d ) ? ( realpath( $d ) ?: $d ) : '';"
    "})()";

/* Is one of a and b the other, or below it? */
static bool
private_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

	if (strncmp(a, b, n) != 0)
		return false;
	if (la == lb)
		return true;
	/* the shorter is a directory of the longer ("/" is one of all) */
	return (la > lb ? a[n] : b[n]) == '/' || n == 1;
}

void
private_init(const struct config *cfg)
{
	priv.cfg = cfg;
}

void
private_check(void)
{
	const struct config *cfg = priv.cfg;
	zval ret;
	volatile bool ok = false;
	char dir[PATH_MAX];

	if (priv.checked || cfg == NULL)
		return;
	ZVAL_UNDEF(&ret);
	zend_try {
		ok = zend_eval_stringl(private_php, sizeof(private_php) - 1,
		    &ret, "mwsup private wiki check") == SUCCESS;
	} zend_end_try();
	if (EG(exception))
		zend_clear_exception();
	if (!ok || Z_TYPE(ret) != IS_STRING) {
		zval_ptr_dtor(&ret);
		return;		/* MediaWiki not set up here: next time */
	}
	priv.checked = true;
	if (Z_STRLEN(ret) > 0) {
		for (int i = 0; i < cfg->nstatics && priv.mapping < 0; i++) {
			const char *d = cfg->statics[i].dir;

			if (realpath(d, dir) == NULL)
				snprintf(dir, sizeof(dir), "%s", d);
			/* without its trailing '/' */
			if (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
				dir[strlen(dir) - 1] = '\0';
			if (private_overlap(dir, Z_STRVAL(ret)))
				priv.mapping = i;
		}
	}
	zval_ptr_dtor(&ret);
}

int
private_uploads_mapping(void)
{
	return priv.mapping;
}

int
private_report_due(void)
{
	if (priv.mapping < 0 || priv.reported)
		return 0;
	priv.reported = true;
	return 1;
}
