/*
 * warm.c - the long-lived PHP request of a warm worker.
 *
 * php_request_startup() runs once; MediaWiki's bootstrap runs in it
 * (worker/php/warm.php); the checkpoint follows.  Each HTTP request then
 * redoes, between two calls into PHP, the per-request part of what PHP's
 * own request startup and shutdown do: SAPI state (headers, status, POST
 * body, cookies), output layer, superglobals, shutdown functions, session.
 * The entry-point constants are switched here too; their defined() checks
 * would be cached per opline, so PHP is compiled without that opcode.
 * Whatever goes wrong in a way PHP cannot unwind (a fatal error, exit(),
 * an exception at the top) ends with the worker recycled.
 */
#include "warm.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <main/php.h>
#include <main/SAPI.h>
#include <main/php_main.h>
#include <main/php_output.h>
#include <main/php_variables.h>
#include <ext/standard/head.h>
#include <ext/standard/php_filestat.h>
#include <Zend/zend_exceptions.h>
#include <Zend/zend_execute.h>

#include "checkpoint.h"
#include "config.h"
#include "log.h"
#include "private.h"
#include "request.h"
#include "sapi.h"

#define WARM_GLUE	"warm.php"
#define WARM_JOBS	"jobs.php"	/* the supervisor's job slices */

/* Constants an entry script defines before WebStart.php. */
enum {
	WARM_C_API, WARM_C_REST, WARM_C_NO_SESSION, WARM_C_NO_COMPRESSION,
	WARM_C_THUMB_HANDLER, WARM_C_N
};
static const struct {
	const char	*name;
	bool		 one;	/* defined as 1, else as true */
} warm_consts[WARM_C_N] = {
	{ "MW_API", false }, { "MW_REST_API", false },
	{ "MW_NO_SESSION", true }, { "MW_NO_OUTPUT_COMPRESSION", true },
	{ "THUMB_HANDLER", false },
};
#define WC(c)	(1u << (c))

/*
 * The entry points served warm: each script at the top of the MediaWiki
 * root and the constants it defines.  The scripts whose body is a
 * function of their own are served warm only if php/warm-entry.php's
 * MwsupWarmScripts found them as MediaWiki ships them and declared their
 * functions at the bootstrap (its $ready); otherwise they run cold.
 */
static const struct warm_script {
	const char	*entry;
	unsigned	 consts;
	bool		 checked;	/* only if MwsupWarmScripts::$ready says */
} warm_scripts[] = {
	{ "index", 0, false },
	{ "api", WC(WARM_C_API), false },
	{ "load", WC(WARM_C_NO_SESSION), false },
	{ "rest", WC(WARM_C_REST), false },
	{ "opensearch_desc", WC(WARM_C_NO_SESSION), true },
	{ "img_auth", WC(WARM_C_NO_COMPRESSION), true },
	{ "thumb", WC(WARM_C_NO_COMPRESSION), true },
	{ "thumb_handler", WC(WARM_C_NO_COMPRESSION) |
	    WC(WARM_C_THUMB_HANDLER), true },
};
#define WARM_NSCRIPTS	(sizeof(warm_scripts) / sizeof(warm_scripts[0]))

static struct {
	const struct config *cfg;
	char		 glue[PATH_MAX];
	char		 jobs[PATH_MAX];	/* jobs.php beside it, resolved */
	char		 root[PATH_MAX];	/* MediaWiki root, resolved */
	bool		 enabled;
	bool		 booted;
	bool		 bailed;	/* the current request ended in a bailout */
	int		 since_gc;	/* requests since the last cycle collection */
	uint32_t	 roots_after_gc;	/* GC roots buffered after the last request */
	zend_constant	*saved[WARM_C_N];	/* removed, kept for reuse */
	bool		 script_ok[WARM_NSCRIPTS];	/* may be served warm */
} warm;

/*
 * The glue ships beside the binary's data: in the build tree (a binary
 * not in the install directory) it is the source tree's worker/php.
 */
static int
warm_find_glue(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *dir = MW_PKGDATADIR "/php";

	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if (strcmp(exe, MW_LIBEXECDIR) != 0)
			dir = MW_SRCDIR "/worker/php";
	}
	if ((size_t)snprintf(warm.glue, sizeof(warm.glue), "%s/%s", dir,
	    WARM_GLUE) >= sizeof(warm.glue) || access(warm.glue, R_OK) < 0) {
		log_err("warm mode: %s/%s: %s", dir, WARM_GLUE,
		    strerror(errno ? errno : ENAMETOOLONG));
		return -1;
	}
	/* The supervisor names jobs.php by the same rule; a slice for
	 * another file runs cold. */
	if ((size_t)snprintf(exe, sizeof(exe), "%s/%s", dir, WARM_JOBS) >=
	    sizeof(exe) || realpath(exe, warm.jobs) == NULL)
		warm.jobs[0] = '\0';
	return 0;
}

const char *
warm_entry(const char *script)
{
	const char *slash = strrchr(script, '/');
	size_t dlen, i;

	if (!warm.enabled || slash == NULL)
		return NULL;
	if (strcmp(slash + 1, WARM_JOBS) == 0) {
		char real[PATH_MAX];

		return warm.jobs[0] != '\0' && realpath(script, real) &&
		    strcmp(real, warm.jobs) == 0 ? "mwsup-jobs" : NULL;
	}
	dlen = (size_t)(slash - script);
	if (strlen(warm.root) != dlen || strncmp(script, warm.root, dlen) != 0)
		return NULL;
	for (i = 0; i < WARM_NSCRIPTS; i++) {
		size_t n = strlen(warm_scripts[i].entry);

		if (strncmp(slash + 1, warm_scripts[i].entry, n) != 0 ||
		    strcmp(slash + 1 + n, ".php") != 0)
			continue;
		/* Until a bootstrap said it may, a script of that kind
		 * runs cold. */
		if (!warm.script_ok[i])
			return NULL;
		return warm_scripts[i].entry;
	}
	return NULL;
}

/* ---- entry-point constants ---- */

static void
warm_const_set(int idx, bool on)
{
	const char *name = warm_consts[idx].name;
	size_t len = strlen(name);
	zend_constant *c = zend_hash_str_find_ptr(EG(zend_constants), name,
	    len);

	if (on && c == NULL) {
		zend_constant nc;

		if (warm.saved[idx] != NULL) {
			/* The same struct again: a FETCH_CONSTANT cache slot
			 * may still point at it. */
			zend_hash_add_new_ptr(EG(zend_constants),
			    warm.saved[idx]->name, warm.saved[idx]);
			return;
		}
		if (warm_consts[idx].one)
			ZVAL_LONG(&nc.value, 1);
		else
			ZVAL_TRUE(&nc.value);
		ZEND_CONSTANT_SET_FLAGS(&nc, 0, PHP_USER_CONSTANT);
		nc.name = zend_string_init_interned(name, len, 0);
		(void)zend_register_constant(&nc);
	} else if (!on && c != NULL) {
		dtor_func_t dtor = EG(zend_constants)->pDestructor;

		warm.saved[idx] = c;
		EG(zend_constants)->pDestructor = NULL;
		zend_hash_str_del(EG(zend_constants), name, len);
		EG(zend_constants)->pDestructor = dtor;
	}
}

static void
warm_set_entry(const char *entry)
{
	zend_constant *c = zend_hash_str_find_ptr(EG(zend_constants),
	    ZEND_STRL("MW_ENTRY_POINT"));
	unsigned consts = 0;
	size_t i;
	int k;

	if (c == NULL) {
		zend_constant nc;

		ZVAL_STRING(&nc.value, entry);
		ZEND_CONSTANT_SET_FLAGS(&nc, 0, PHP_USER_CONSTANT);
		nc.name = zend_string_init_interned(ZEND_STRL("MW_ENTRY_POINT"),
		    0);
		(void)zend_register_constant(&nc);
	} else if (Z_TYPE(c->value) != IS_STRING ||
	    strcmp(Z_STRVAL(c->value), entry) != 0) {
		/* Changed in place, for the same reason as above. */
		zval_ptr_dtor(&c->value);
		ZVAL_STRING(&c->value, entry);
	}
	for (i = 0; i < WARM_NSCRIPTS; i++)
		if (strcmp(entry, warm_scripts[i].entry) == 0)
			consts = warm_scripts[i].consts;
	for (k = 0; k < WARM_C_N; k++)
		warm_const_set(k, (consts & WC(k)) != 0);
}

/* ---- PHP's per-request state ---- */

static void
warm_output_start(void)
{
	php_output_activate();
	if (PG(output_handler) && PG(output_handler)[0]) {
		zval oh;

		ZVAL_STRING(&oh, PG(output_handler));
		php_output_start_user(&oh, 0, PHP_OUTPUT_HANDLER_STDFLAGS);
		zval_ptr_dtor(&oh);
	} else if (PG(output_buffering)) {
		php_output_start_user(NULL, PG(output_buffering) > 1 ?
		    PG(output_buffering) : 0, PHP_OUTPUT_HANDLER_STDFLAGS);
	} else if (PG(implicit_flush)) {
		php_output_set_implicit_flush(1);
	}
}

/*
 * PHP's CPU-time limit is a timer (SIGPROF) armed per PHP request: with
 * max_input_time by php_request_startup(), then with max_execution_time
 * by php_execute_script() -- unless that is 0, which arms nothing and
 * leaves the first timer running.  In the one long PHP request of a warm
 * worker either timer would count the CPU time of every HTTP request
 * together: with max_input_time = 60, "Maximum execution time of 0
 * seconds exceeded" after ~10,000 requests.  So each HTTP request gets
 * its own limit: max_execution_time as configured (a set_time_limit() of
 * an earlier request is undone by the checkpoint's ini restore), armed
 * before the request, disarmed after it.
 */
static void
warm_timeout_stop(void)
{
	/* zend_unset_timeout() leaves the timer armed while the current
	 * limit reads 0, which is how the max_input_time one survives. */
	EG(timeout_seconds) = 1;
	zend_unset_timeout();
	EG(timeout_seconds) = 0;
}

static void
warm_timeout_start(void)
{
	warm_timeout_stop();
	zend_set_timeout(INI_INT("max_execution_time"), 0);
}

/* What php_request_startup() sets for a request, minus the engine. */
static void
warm_activate(void)
{
	int i;

	sapi_activate();
	SG(sapi_started) = 1;
	PG(connection_status) = PHP_CONNECTION_NORMAL;
	PG(header_is_being_sent) = 0;
	PG(during_request_startup) = 0;
	EG(exit_status) = 0;
	warm_output_start();
	for (i = 0; i < NUM_TRACK_VARS; i++)
		zval_ptr_dtor(&PG(http_globals)[i]);
	php_hash_environment();
	zend_is_auto_global_str(ZEND_STRL("_SERVER"));
	zend_is_auto_global_str(ZEND_STRL("_ENV"));
	zend_is_auto_global_str(ZEND_STRL("_REQUEST"));
	zend_memory_reset_peak_usage();
	/* PHP's stat cache (the last file stat()ed) is emptied at the end
	 * of each PHP request: a filemtime() in this request must not get
	 * the answer of the last one (a template or a JSON file changed in
	 * between).  The realpath cache lives on, as under PHP-FPM. */
	php_clear_stat_cache(false, NULL, 0);
	warm_timeout_start();
}

/* What php_request_shutdown() clears, minus the engine. */
static void
warm_deactivate(void)
{
	zend_try {
		php_output_discard_all();
		php_output_deactivate();
	} zend_end_try();
	if (Z_TYPE(SG(callback_func)) != IS_UNDEF) {
		zval_ptr_dtor(&SG(callback_func));
		ZVAL_UNDEF(&SG(callback_func));
	}
	if (SG(request_info).request_body != NULL) {
		php_stream_close(SG(request_info).request_body);
		SG(request_info).request_body = NULL;
	}
	sapi_deactivate();
	PG(last_error_type) = 0;
	PG(last_error_lineno) = 0;
	if (PG(last_error_message)) {
		zend_string_release(PG(last_error_message));
		PG(last_error_message) = NULL;
	}
	if (PG(last_error_file)) {
		zend_string_release(PG(last_error_file));
		PG(last_error_file) = NULL;
	}
}

/* Call MwsupWarm::method(arg); returns its result as a bool. */
static bool
warm_call(const char *method, const char *arg)
{
	zval fn, ret, args[1];
	volatile bool ok = false;

	ZVAL_STRING(&fn, method);
	ZVAL_UNDEF(&ret);
	if (arg)
		ZVAL_STRING(&args[0], arg);
	if (call_user_function(NULL, NULL, &fn, &ret, arg ? 1 : 0, args) ==
	    SUCCESS && !EG(exception))
		ok = Z_TYPE(ret) == IS_NULL || zend_is_true(&ret);
	if (EG(exception))
		zend_clear_exception();
	zval_ptr_dtor(&ret);
	zval_ptr_dtor(&fn);
	if (arg)
		zval_ptr_dtor(&args[0]);
	return ok;
}

/* Which entry scripts MwsupWarmScripts found fit to serve warm. */
static void
warm_scripts_ready(void)
{
	zend_class_entry *ce = zend_hash_str_find_ptr(EG(class_table),
	    ZEND_STRL("mwsupwarmscripts"));
	zval *ready = NULL;
	size_t i;

	if (ce != NULL)
		ready = zend_read_static_property(ce, ZEND_STRL("ready"), true);
	for (i = 0; i < WARM_NSCRIPTS; i++)
		warm.script_ok[i] = !warm_scripts[i].checked ||
		    (ready != NULL && Z_TYPE_P(ready) == IS_ARRAY &&
		    zend_hash_str_exists(Z_ARRVAL_P(ready), warm_scripts[i].entry,
		    strlen(warm_scripts[i].entry)));
}

/*
 * Hand warm.php's static $prop the names[0..n) that start with prefix,
 * without it (the warm-mode lists of mw.yaml).
 */
static void
warm_hand_names(zend_class_entry *ce, const char *prop, char *const *names,
    int n, const char *prefix)
{
	size_t plen = strlen(prefix);
	zval list;
	int i;

	array_init(&list);
	for (i = 0; i < n; i++)
		if (strncmp(names[i], prefix, plen) == 0)
			add_next_index_string(&list, names[i] + plen);
	if (zend_update_static_property(ce, prop, strlen(prop), &list) !=
	    SUCCESS)
		log_warn("warm mode: cannot hand %s to %s", prop, warm.glue);
	zval_ptr_dtor(&list);
}

static void
warm_keep_services(void)
{
	zend_class_entry *ce = zend_hash_str_find_ptr(EG(class_table),
	    ZEND_STRL("mwsupwarm"));

	if (ce == NULL)
		return;
	warm_hand_names(ce, "keepServices", warm.cfg->exclude,
	    warm.cfg->nexclude, "service:");
	warm_hand_names(ce, "resetServices", warm.cfg->reset,
	    warm.cfg->nreset, "");
	zend_update_static_property_bool(ce, ZEND_STRL("debug"),
	    log_get_verbose());
}

/*
 * The bootstrap's $_SERVER: a plain GET of the wiki's index.php, so the
 * WebRequest Setup.php makes (and drops) has what it looks for.  Nothing
 * from it outlives the bootstrap: each request builds its own.  The probe
 * (warm_probe()) differs from it in every part of a request a site's
 * settings could read: host, port, protocol (https, and through a proxy),
 * client address, query, cookies, language, user agent, request id.
 *
 * A worker of a farm's site (mw.yaml sites:) bootstraps for the site's
 * host, and its probe keeps that host: every request it is given is for
 * that site (its name, an alias, or a host the default site takes), so
 * a LocalSettings.php that picks the wiki by Host is that wiki's here.
 */
static void
warm_boot_params(struct ctl_params *p, bool probe)
{
	char script[PATH_MAX + 16];
	const char *host = warm.cfg->site ? warm.cfg->site :
	    warm.cfg->server_name ? warm.cfg->server_name : "localhost";
	static const char *const probe_params[][2] = {
		{ "REQUEST_URI", "/index.php?title=Mwsup_probe&action=history&uselang=de" },
		{ "QUERY_STRING", "title=Mwsup_probe&action=history&uselang=de" },
		{ "SERVER_NAME", "probe.mwsup.invalid" },
		{ "SERVER_PORT", "443" },
		{ "HTTPS", "on" },
		{ "REMOTE_ADDR", "192.0.2.7" },
		{ "REMOTE_PORT", "40007" },
		{ "HTTP_HOST", "probe.mwsup.invalid:8443" },
		{ "HTTP_X_FORWARDED_PROTO", "https" },
		{ "HTTP_X_FORWARDED_FOR", "198.51.100.7" },
		{ "HTTP_COOKIE", "mwsupProbe=1; UseDC=master" },
		{ "HTTP_ACCEPT_LANGUAGE", "de" },
		{ "HTTP_USER_AGENT", "mwsup-probe/1" },
		{ "HTTP_X_REQUEST_ID", "mwsup-probe-request" },
	};
	size_t i;

	snprintf(script, sizeof(script), "%s/index.php", warm.root);
	ctl_params_reset(p);
	(void)ctl_params_add(p, "REQUEST_METHOD", "GET", 3);
	(void)ctl_params_add(p, "SCRIPT_NAME", "/index.php", 10);
	(void)ctl_params_add(p, "SCRIPT_FILENAME", script, strlen(script));
	(void)ctl_params_add(p, "SERVER_PROTOCOL", "HTTP/1.1", 8);
	if (probe) {
		for (i = 0; i < sizeof(probe_params) / sizeof(probe_params[0]);
		    i++) {
			const char *v = probe_params[i][1];

			if (warm.cfg->site &&
			    (strcmp(probe_params[i][0], "SERVER_NAME") == 0 ||
			    strcmp(probe_params[i][0], "HTTP_HOST") == 0))
				v = host;
			(void)ctl_params_add(p, probe_params[i][0], v,
			    strlen(v));
		}
		return;
	}
	(void)ctl_params_add(p, "REQUEST_URI", "/index.php", 10);
	(void)ctl_params_add(p, "QUERY_STRING", "", 0);
	(void)ctl_params_add(p, "SERVER_NAME", host, strlen(host));
	(void)ctl_params_add(p, "SERVER_PORT", "80", 2);
	(void)ctl_params_add(p, "REMOTE_ADDR", "127.0.0.1", 9);
	(void)ctl_params_add(p, "HTTP_HOST", host, strlen(host));
}

/*
 * Start a PHP request and bootstrap MediaWiki in it through the glue,
 * with the synthetic request's $_SERVER (the probe's, or the one kept).
 * On failure the PHP request is ended and -1 returned after logging.
 */
static int
warm_boot_php(bool probe)
{
	static struct ctl_params params;
	zend_file_handle fh;
	volatile bool ok = false;

	memset(warm.saved, 0, sizeof(warm.saved));
	if (warm.cfg->mw_root && chdir(warm.cfg->mw_root) < 0)
		log_warn("chdir %s: %s", warm.cfg->mw_root, strerror(errno));
	warm_boot_params(&params, probe);
	mwsapi_set_boot_params(params.buf, params.len);
	if (php_request_startup() == FAILURE) {
		log_err("warm mode: PHP request startup failed");
		mwsapi_set_boot_params(NULL, 0);
		return -1;
	}
	/* The bootstrap is limited as a request is: max_execution_time,
	 * not max_input_time (PHP reads no request body here). */
	warm_timeout_start();
	/* defined() as a function call: its opcode caches the answer.  And
	 * no constant's value compiled into code: MW_ENTRY_POINT differs per
	 * request (OPcache asks the same for the scripts it caches, but
	 * not every script is cached: a LocalSettings.php changed within
	 * opcache.file_update_protection, eval()'d code, OPcache off). */
	CG(compiler_options) |= ZEND_COMPILE_NO_BUILTINS |
	    ZEND_COMPILE_NO_CONSTANT_SUBSTITUTION;
	warm_set_entry("index");
	zend_register_stringl_constant("MWSUP_MW_ROOT", sizeof("MWSUP_MW_ROOT") - 1,
	    warm.root, strlen(warm.root), 0, PHP_USER_CONSTANT);
	zend_stream_init_filename(&fh, warm.glue);
	zend_try {
		ok = php_execute_script(&fh);
	} zend_end_try();
	zend_destroy_file_handle(&fh);
	mwsapi_set_boot_params(NULL, 0);
	if (ok && zend_get_constant_str(ZEND_STRL("MWSUP_WARM_BOOTED")) == NULL)
		ok = false;
	if (!ok) {
		log_err("warm mode: MediaWiki bootstrap through %s%s failed "
		    "(see above)", warm.glue, probe ?
		    " for a second synthetic request" : "");
		php_request_shutdown(NULL);
		return -1;
	}
	warm_timeout_stop();
	return 0;
}

/*
 * MwsupWarm::fingerprints() of the globals and class statics as they are
 * now (checkpoint_values()): name => hash, into *out.  False if it failed.
 */
static bool
warm_prints(zval *out)
{
	zval fn, args[1];
	volatile bool ok = false;

	ZVAL_UNDEF(out);
	ZVAL_STRING(&fn, "MwsupWarm::fingerprints");
	checkpoint_values(&args[0]);
	zend_try {
		ok = call_user_function(NULL, NULL, &fn, out, 1, args) ==
		    SUCCESS && !EG(exception) && Z_TYPE_P(out) == IS_ARRAY;
	} zend_end_try();
	if (EG(exception))
		zend_clear_exception();
	zval_ptr_dtor(&args[0]);
	zval_ptr_dtor(&fn);
	if (!ok) {
		zval_ptr_dtor(out);
		ZVAL_UNDEF(out);
	}
	return ok;
}

static void
warm_print_dtor(zval *zv)
{
	free(Z_PTR_P(zv));
}

/*
 * A site's settings may derive values from the request (a $wgServer or a
 * $wgSitename made from the Host header, a setting chosen by the client's
 * address): made once at the bootstrap, they would serve every request.
 * So before the bootstrap kept, another one runs in a PHP request of its
 * own with a synthetic request that differs in everything a request
 * carries (warm_boot_params()), and the globals and class statics each
 * bootstrap leaves are compared (warm_compare()).  What MediaWiki itself
 * derives from the request at the bootstrap the glue derives again per
 * request and leaves out of the bootstrap ($wgCookieSecure, the request
 * id).  Run once per worker; the hashes live in *prints (malloc'd).
 */
static int
warm_probe(HashTable *prints)
{
	zval out, *h;
	zend_string *name;
	volatile bool ok;

	if (warm_boot_php(true) < 0)
		return -1;
	warm_deactivate();	/* as before the checkpoint: see warm_boot() */
	ok = warm_prints(&out);
	if (ok) {
		zend_hash_init(prints, zend_hash_num_elements(Z_ARRVAL(out)),
		    NULL, warm_print_dtor, 1);
		ZEND_HASH_FOREACH_STR_KEY_VAL(Z_ARRVAL(out), name, h) {
			if (name != NULL && Z_TYPE_P(h) == IS_STRING)
				zend_hash_str_add_ptr(prints, ZSTR_VAL(name),
				    ZSTR_LEN(name), strdup(Z_STRVAL_P(h)));
		} ZEND_HASH_FOREACH_END();
		zval_ptr_dtor(&out);
	}
	php_request_shutdown(NULL);
	if (!ok)
		log_err("warm mode: the globals of the second bootstrap could "
		    "not be read (see above)");
	return ok ? 0 : -1;
}

/*
 * Compare the bootstrap just made with the probe's: each name whose value
 * differs, or that only one of them has, is logged (the first 20 named)
 * and makes the worker serve every request cold.  Returns -1 then.
 */
static int
warm_compare(HashTable *prints)
{
	zval out, *h;
	zend_string *name;
	char msg[1024];
	size_t len = 0;
	int n = 0;
	const char *p;

	if (!warm_prints(&out)) {
		log_err("warm mode: the globals of the bootstrap could not be "
		    "read (see above)");
		return -1;
	}
	msg[0] = '\0';
#define WARM_DIFFER(nm) do {						\
	if (n++ < 20 && len < sizeof(msg))				\
		len += (size_t)snprintf(msg + len, sizeof(msg) - len,	\
		    "%s%s", len ? ", " : "", (nm));			\
} while (0)
	ZEND_HASH_FOREACH_STR_KEY_VAL(Z_ARRVAL(out), name, h) {
		if (name == NULL || Z_TYPE_P(h) != IS_STRING)
			continue;
		p = zend_hash_str_find_ptr(prints, ZSTR_VAL(name),
		    ZSTR_LEN(name));
		/* A static only one bootstrap has is of a class the other
		 * did not use (or whose statics it did not touch): one took
		 * the extension registry from this process's cache, which
		 * the other filled.  A global only one has counts. */
		if (p == NULL ? ZSTR_VAL(name)[0] == '$' :
		    strcmp(p, Z_STRVAL_P(h)) != 0)
			WARM_DIFFER(ZSTR_VAL(name));
	} ZEND_HASH_FOREACH_END();
	ZEND_HASH_FOREACH_STR_KEY(prints, name) {
		if (name != NULL && ZSTR_VAL(name)[0] == '$' &&
		    !zend_hash_exists(Z_ARRVAL(out), name))
			WARM_DIFFER(ZSTR_VAL(name));
	} ZEND_HASH_FOREACH_END();
#undef WARM_DIFFER
	zval_ptr_dtor(&out);
	if (n == 0)
		return 0;
	if (len >= sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	log_err("warm mode: LocalSettings.php depends on the request: %s%s "
	    "differ%s between two synthetic requests (another host, "
	    "protocol, client, query, cookies); MediaWiki bootstrapped once "
	    "would give every request the first one's", msg, n > 20 ?
	    " and more" : "", n == 1 ? "s" : "");
	return -1;
}

static int
warm_boot(HashTable *prints)
{
	volatile bool ok = true;

	memset(warm.script_ok, 0, sizeof(warm.script_ok));
	warm.bailed = false;
	if (warm_boot_php(false) < 0)
		return -1;
	warm_keep_services();
	warm_scripts_ready();
	private_check();
	/* The bootstrap was a request without a client: drop what it
	 * printed and the headers it set (which runs MediaWiki's header
	 * callback). */
	warm_deactivate();
	if (prints != NULL && warm_compare(prints) < 0) {
		php_request_shutdown(NULL);
		return -1;
	}
	zend_try {
		checkpoint_take(warm.cfg);
	} zend_catch {
		ok = false;
	} zend_end_try();
	if (!ok) {
		log_err("warm mode: taking the checkpoint failed");
		php_request_shutdown(NULL);
		return -1;
	}
	warm.booted = true;
	return 0;
}

static long
warm_ms(const struct timespec *a, const struct timespec *b)
{
	return (long)(b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

int
warm_init(const struct config *cfg)
{
	HashTable prints;
	struct timespec t0, t1, t2;
	int rc;

	warm.cfg = cfg;
	if (realpath(cfg->mw_root ? cfg->mw_root : "/usr/share/mediawiki",
	    warm.root) == NULL) {
		log_err("warm mode: %s: %s", cfg->mw_root, strerror(errno));
		return -1;
	}
	if (warm_find_glue() < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (warm_probe(&prints) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	warm.enabled = true;
	rc = warm_boot(&prints);
	zend_hash_destroy(&prints);
	if (rc < 0) {
		warm.enabled = false;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	log_info("warm mode: two bootstraps for different synthetic requests "
	    "left the same globals (%ld ms for the compared one, %ld ms for "
	    "the one kept)", warm_ms(&t0, &t1), warm_ms(&t1, &t2));
	return 0;
}

void
warm_run(struct request *rq, const char *entry)
{
	volatile bool clean = false;

	warm.bailed = false;
	if (!warm.booted && warm_boot(NULL) < 0) {
		rq->fatal = true;
		rq->recycle = true;
		warm.bailed = true;
		return;
	}
	warm_set_entry(entry);
	mwsapi_request_begin(rq);
	warm_activate();
	request_cloexec_all();
	zend_try {
		clean = warm_call("MwsupWarm::request", entry);
	} zend_catch {
		warm.bailed = true;
	} zend_end_try();
	if (!clean)
		rq->recycle = true;
	/* What PHP's request shutdown does first: flush the buffers, send
	 * the headers if nothing did yet. */
	zend_try {
		php_output_end_all();
	} zend_end_try();
	zend_try {
		php_header();
	} zend_end_try();
}

static void warm_collect(void);

void
warm_cleanup(struct request *rq)
{
	volatile bool ok = false;

	if (warm.bailed) {
		/* exit() or a fatal error: the state is not worth restoring. */
		warm_timeout_stop();
		rq->recycle = true;
		mwsapi_request_end(rq);
		return;
	}
	mwsapi_detach();
	zend_try {
		checkpoint_run_shutdown_functions();
		/* The session and ini settings refuse to change while headers
		 * count as sent (zlib.output_compression asks the output
		 * layer); the response is complete, they go nowhere. */
		php_output_discard_all();
		SG(headers_sent) = 0;
		OG(flags) &= ~PHP_OUTPUT_SENT;
		(void)warm_call("MwsupWarm::end", NULL);
		/* Before the restore: a destructor run by the collection
		 * writes to the statics of its class (Scribunto's chunk
		 * lists), and the restore must come after it. */
		warm_collect();
		checkpoint_restore();
		ok = true;
	} zend_end_try();
	/* After the restore, which re-arms the timer when it undoes a
	 * set_time_limit(). */
	warm_timeout_stop();
	if (!ok) {
		log_notice("request %llu: restoring the checkpoint failed",
		    (unsigned long long)rq->id);
		warm.bailed = true;
		rq->recycle = true;
		mwsapi_request_end(rq);
		return;
	}
	warm_deactivate();
	mwsapi_request_end(rq);
}

/*
 * Cycles left by a request and the dropped services (and those an earlier
 * restore let go) are collected here, after the response and before the
 * restore, every gc_interval requests (a
 * collection walks every object the bootstrap made: ~5% of a small API
 * request's time when done each time) -- or sooner when the possible
 * roots PHP has buffered would reach its threshold during the next
 * request, judging by what this one added: PHP would then collect in the
 * middle of that request, on its client's time (a load.php startup
 * request once added ~3,500 roots of a threshold of 10,001, and every
 * third one paid a collection; php/warm-services.php now frees the
 * ResourceLoader without the collector: EMPTY_WHEN_DROPPED).
 */
static void
warm_collect(void)
{
	zend_gc_status st;
	uint32_t added;

	zend_gc_get_status(&st);
	added = st.num_roots > warm.roots_after_gc ?
	    st.num_roots - warm.roots_after_gc : 0;
	if (++warm.since_gc < warm.cfg->gc_interval &&
	    (uint64_t)st.num_roots + added < st.threshold) {
		warm.roots_after_gc = st.num_roots;
		return;
	}
	warm.since_gc = 0;
	/* The caller's zend_try catches a bailout in a destructor. */
	zend_gc_collect_cycles();
	zend_gc_get_status(&st);
	warm.roots_after_gc = st.num_roots;
}

void
warm_stop(void)
{
	if (!warm.booted)
		return;
	warm.booted = false;
	zend_try {
		checkpoint_drop(!warm.bailed);
	} zend_end_try();
	php_request_shutdown(NULL);
	memset(warm.saved, 0, sizeof(warm.saved));
}
