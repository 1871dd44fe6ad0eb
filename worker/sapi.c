/*
 * sapi.c - the PHP SAPI module of mwworker: PHP's view of the request.
 *
 * Not the stock embed SAPI: embed assumes a CLI-like program (headers
 * already "sent", no HTTP request).  Here PHP sees a web request: the
 * status and header list are handed to the response at PHP's first output,
 * the body comes from the supervisor's copy, $_SERVER from its CGI
 * parameters.  The callbacks reach the request being served through one
 * pointer, mwsapi_current: a worker serves one request at a time.
 * fastcgi_finish_request() is provided because MediaWiki uses it to answer
 * before its post-send work.
 */
#include "sapi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <main/php.h>
#include <main/SAPI.h>
#include <main/php_main.h>
#include <main/php_variables.h>
#include <main/php_output.h>
#include <ext/standard/head.h>
#include <Zend/zend_signal.h>

#include "config.h"
#include "log.h"
#include "putback.h"
#include "request.h"
#include "response.h"

/*
 * Settings under the config's php: entries (which come later and win) and
 * over php.ini: errors never reach the client, they go to the SAPI's log
 * callback (stderr) unless the admin sets error_log.
 */
static const char mwsapi_ini_defaults[] =
    "display_errors=0\n"
    "display_startup_errors=0\n"
    "log_errors=1\n"
    "html_errors=0\n"
    "implicit_flush=0\n";

static struct request *mwsapi_current;
/* $_SERVER of a PHP request without a client (warm mode's bootstrap). */
static const char *mwsapi_boot_params;
static size_t mwsapi_boot_len;
static char *mwsapi_ini;
static void (*mwsapi_prev_error_cb)(int, zend_string *, const uint32_t,
    zend_string *);

/* ---- PHP's request lifecycle hooks ---- */

/*
 * OPcache starts only under SAPI names on its allow-list, which exists to
 * keep it out of short-lived processes; a worker lives for thousands of
 * requests, which is exactly the case it is for, and a Main Page costs
 * ~10x more without it.  So while Zend extensions start, and only then,
 * the module carries an allow-listed name (one without "cgi" in it, which
 * would change MediaWiki's path-info handling).  PHP_SAPI was registered
 * before, and php_sapi_name() reads the name again after startup, so PHP
 * code only ever sees "mwworker".
 */
#define MWSAPI_NAME		"mwworker"
#define MWSAPI_OPCACHE_NAME	"uwsgi"

static PHP_MINIT_FUNCTION(mwworker)
{
	/* Modules start before Zend extensions such as OPcache. */
	sapi_module.name = (char *)MWSAPI_OPCACHE_NAME;
	return SUCCESS;
}

static zend_module_entry mwsapi_zend_module = {
	STANDARD_MODULE_HEADER,
	MWSAPI_NAME,
	NULL,			/* functions: the SAPI's own, see below */
	PHP_MINIT(mwworker),
	NULL, NULL, NULL, NULL,
	PACKAGE_VERSION,
	STANDARD_MODULE_PROPERTIES
};

static int
mwsapi_startup(sapi_module_struct *module)
{
	int rc = php_module_startup(module, &mwsapi_zend_module);

	sapi_module.name = (char *)MWSAPI_NAME;
	return rc;
}

static int
mwsapi_activate(void)
{
	struct request *rq = mwsapi_current;
	const char *auth;

	if (rq == NULL)
		return SUCCESS;
	/* PHP would stop output for HEAD itself; the response needs the
	 * body's length to give HEAD the Content-Length a GET would get, so
	 * it counts and drops the bytes instead. */
	SG(request_info).headers_only = 0;
	SG(request_info).proto_num = 1000 + rq->http_minor;
	if ((auth = request_param(rq, "HTTP_AUTHORIZATION")) != NULL)
		php_handle_auth_data(auth);
	return SUCCESS;
}

static size_t
mwsapi_ub_write(const char *str, size_t len)
{
	struct request *rq = mwsapi_current;

	if (rq == NULL)
		return len;
	if (response_write(&rq->resp, str, len) < 0 &&
	    !(PG(connection_status) & PHP_CONNECTION_ABORTED)) {
		/* Client gone: PHP stops the script unless it asked to go
		 * on (ignore_user_abort, which MediaWiki sets for its
		 * post-send work). */
		php_handle_aborted_connection();
	}
	return len;
}

static void
mwsapi_flush(void *server_context)
{
	struct request *rq = server_context;

	if (rq != NULL && rq == mwsapi_current)
		response_flush(&rq->resp);
}

static int
mwsapi_send_headers(sapi_headers_struct *headers)
{
	struct request *rq = mwsapi_current;
	zend_llist_position pos;
	sapi_header_struct *h;

	if (rq == NULL)
		return SAPI_HEADER_SENT_SUCCESSFULLY;
	/* PHP leaves the code 0 when the script never set one. */
	response_set_status(&rq->resp,
	    headers->http_response_code ? headers->http_response_code : 200);
	for (h = zend_llist_get_first_ex(&headers->headers, &pos); h != NULL;
	    h = zend_llist_get_next_ex(&headers->headers, &pos))
		response_add_header(&rq->resp, h->header, h->header_len);
	response_headers_done(&rq->resp);
	return SAPI_HEADER_SENT_SUCCESSFULLY;
}

static size_t
mwsapi_read_post(char *buf, size_t len)
{
	return mwsapi_current ? request_read_body(mwsapi_current, buf, len) : 0;
}

/* A parameter of the bootstrap's synthetic request, or NULL. */
static const char *
mwsapi_boot_param(const char *want)
{
	const char *name, *value;
	size_t off = 0, vlen;

	while (mwsapi_boot_params && ctl_params_next(mwsapi_boot_params,
	    mwsapi_boot_len, &off, &name, &value, &vlen) == 1)
		if (strcmp(name, want) == 0)
			return value;
	return NULL;
}

static char *
mwsapi_read_cookies(void)
{
	/* PHP copies the string before parsing it. */
	return (char *)(mwsapi_current ?
	    request_param(mwsapi_current, "HTTP_COOKIE") :
	    mwsapi_boot_param("HTTP_COOKIE"));
}

static void
mwsapi_register_variables(zval *vars)
{
	struct request *rq = mwsapi_current;
	const char *name, *value, *sname, *pinfo;
	size_t off = 0, vlen;
	char *self;

	if (rq == NULL) {
		while (mwsapi_boot_params && ctl_params_next(mwsapi_boot_params,
		    mwsapi_boot_len, &off, &name, &value, &vlen) == 1)
			php_register_variable_safe(name, value, vlen, vars);
		return;
	}
	while (ctl_params_next(rq->params, rq->params_len, &off, &name, &value,
	    &vlen) == 1)
		php_register_variable_safe(name, value, vlen, vars);
	/* PHP_SELF is SCRIPT_NAME + PATH_INFO, as CGI servers build it. */
	sname = request_param(rq, "SCRIPT_NAME");
	pinfo = request_param(rq, "PATH_INFO");
	if (sname == NULL)
		return;
	if (pinfo == NULL || *pinfo == '\0') {
		php_register_variable_safe("PHP_SELF", sname, strlen(sname),
		    vars);
		return;
	}
	spprintf(&self, 0, "%s%s", sname, pinfo);
	php_register_variable_safe("PHP_SELF", self, strlen(self), vars);
	efree(self);
}

static char *
mwsapi_getenv(const char *name, size_t len)
{
	/* The request's parameters act as the CGI environment; PHP's
	 * getenv() falls back to the process environment (MW_CONFIG_FILE)
	 * when this returns NULL. */
	return mwsapi_current ? (char *)request_param(mwsapi_current, name) :
	    NULL;
}

/* One log line per message line: a stack trace must not lose its
 * priority prefix in the journal after the first line. */
static void
mwsapi_log_message(const char *msg, int syslog_level)
{
	enum log_level lvl = LOG_LVL_ERR;
	const char *p = msg, *nl;

	if (syslog_level >= LOG_LVL_ERR && syslog_level <= LOG_LVL_DEBUG)
		lvl = (enum log_level)syslog_level;
	do {
		int n;

		nl = strchr(p, '\n');
		n = nl ? (int)(nl - p) : (int)strlen(p);
		if (n > 0 || nl == NULL)
			log_msg(lvl, "%.*s", n, p);
		p = nl + 1;
	} while (nl != NULL && *p != '\0');
}

/*
 * Sees every error PHP reports (after user error handlers had their turn):
 * a fatal one marks the request, so the worker answers 500 if it still can
 * and is recycled after the request.
 */
static void
mwsapi_error_cb(int type, zend_string *file, const uint32_t line,
    zend_string *msg)
{
	struct request *rq = mwsapi_current;

	if (rq != NULL && (type & E_FATAL_ERRORS))
		rq->fatal = true;
	mwsapi_prev_error_cb(type, file, line, msg);
}

/* ---- fastcgi_finish_request() ---- */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(mwsapi_arginfo_finish, 0, 0,
    _IS_BOOL, 0)
ZEND_END_ARG_INFO()

/*
 * Complete the response now: end the output buffers, fix the headers, send
 * everything (with a Content-Length when nothing was streamed yet).  The
 * script goes on; whatever it prints later is discarded.
 */
static ZEND_NAMED_FUNCTION(mwsapi_fastcgi_finish_request)
{
	struct request *rq = mwsapi_current;

	ZEND_PARSE_PARAMETERS_NONE();
	if (rq == NULL || rq->finished_early)
		RETURN_FALSE;
	php_output_end_all();
	php_header();
	request_finish_early(rq);
	RETURN_TRUE;
}

/* ---- mwsup_ini_changed() ---- */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(mwsapi_arginfo_ini_changed, 0, 1,
    _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, name, IS_STRING, 0)
ZEND_END_ARG_INFO()

/*
 * Whether the php.ini setting name was changed at run time and not set
 * back since: by the bootstrap, or by the request under way, even if it
 * changed it back (the checkpoint's restore sets back only after the
 * request).  php/warm-storage.php trusts mysqlnd's statistics only when
 * mysqlnd.collect_statistics was not turned off meanwhile.
 */
static ZEND_NAMED_FUNCTION(mwsapi_ini_changed)
{
	zend_string *name;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_STR(name)
	ZEND_PARSE_PARAMETERS_END();
	RETURN_BOOL(EG(modified_ini_directives) != NULL &&
	    zend_hash_exists(EG(modified_ini_directives), name));
}

static const zend_function_entry mwsapi_functions[] = {
	ZEND_RAW_FENTRY("fastcgi_finish_request",
	    mwsapi_fastcgi_finish_request, mwsapi_arginfo_finish, 0)
	ZEND_RAW_FENTRY("mwsup_put_back", mwsup_put_back,
	    mwsup_arginfo_put_back, 0)
	ZEND_RAW_FENTRY("mwsup_ini_changed", mwsapi_ini_changed,
	    mwsapi_arginfo_ini_changed, 0)
	ZEND_FE_END
};

static sapi_module_struct mwsapi_module = {
	.name = MWSAPI_NAME,
	.pretty_name = "mwsup worker",
	.startup = mwsapi_startup,
	.shutdown = php_module_shutdown_wrapper,
	.activate = mwsapi_activate,
	.ub_write = mwsapi_ub_write,
	.flush = mwsapi_flush,
	.getenv = mwsapi_getenv,
	.sapi_error = zend_error,
	.send_headers = mwsapi_send_headers,
	.read_post = mwsapi_read_post,
	.read_cookies = mwsapi_read_cookies,
	.register_server_variables = mwsapi_register_variables,
	.log_message = mwsapi_log_message,
	/* php.ini comes from the compiled-in /etc/php/8.2/embed (Debian
	 * enables the extensions in its conf.d), never from the cwd, which
	 * is the directory of the script being run. */
	.php_ini_ignore_cwd = 1,
};

/* ---- startup ---- */

/*
 * php: settings become "name=value" lines of the SAPI's ini_entries, which
 * PHP parses after php.ini and conf.d.  Values with INI syntax characters
 * are quoted; a quote or newline cannot be expressed and is refused.
 *
 * Before them, PHP's own caps on a request body follow limits.body:
 * Debian's embed php.ini says upload_max_filesize = 2M and post_max_size =
 * 8M, and PHP drops a larger upload or form without a word to the client
 * (an empty $_FILES entry or $_POST), although mwsup accepted the body.
 * A php: setting of either still wins, being parsed later.
 */
static int
mwsapi_build_ini(const struct config *cfg)
{
	size_t cap = sizeof(mwsapi_ini_defaults) + 80, len;
	int i;

	for (i = 0; i < cfg->nini; i++)
		cap += strlen(cfg->ini[i].name) + strlen(cfg->ini[i].value) + 4;
	if ((mwsapi_ini = malloc(cap)) == NULL) {
		log_err("php ini settings: %s", strerror(errno));
		return -1;
	}
	memcpy(mwsapi_ini, mwsapi_ini_defaults, sizeof(mwsapi_ini_defaults));
	len = sizeof(mwsapi_ini_defaults) - 1;
	if (cfg->body_max > 0)
		len += (size_t)sprintf(mwsapi_ini + len,
		    "upload_max_filesize=%zu\npost_max_size=%zu\n",
		    cfg->body_max, cfg->body_max);
	for (i = 0; i < cfg->nini; i++) {
		const char *n = cfg->ini[i].name, *v = cfg->ini[i].value;
		bool quote;

		if (n[strcspn(n, "=;\"\r\n[] \t")] != '\0' ||
		    v[strcspn(v, "\"\r\n")] != '\0') {
			log_err("%s: php setting %s: name or value holds a "
			    "character php.ini syntax cannot carry", cfg->path ?
			    cfg->path : "config", n);
			return -1;
		}
		quote = v[strcspn(v, ";=${}#")] != '\0' || *v == ' ' ||
		    (*v != '\0' && v[strlen(v) - 1] == ' ');
		len += (size_t)sprintf(mwsapi_ini + len, quote ? "%s=\"%s\"\n" :
		    "%s=%s\n", n, v);
	}
	return 0;
}

int
mwsapi_init(const struct config *cfg)
{
	if (mwsapi_build_ini(cfg) < 0)
		return -1;
	zend_signal_startup();
	sapi_startup(&mwsapi_module);
	/* sapi_startup() clears ini_entries; php_module_startup() copies
	 * the module again, so the fields are set in between. */
	mwsapi_module.ini_entries = mwsapi_ini;
	mwsapi_module.additional_functions = mwsapi_functions;
	if (mwsapi_module.startup(&mwsapi_module) == FAILURE) {
		log_err("PHP module startup failed (see messages above)");
		sapi_shutdown();
		return -1;
	}
	mwsapi_prev_error_cb = zend_error_cb;
	zend_error_cb = mwsapi_error_cb;
	return 0;
}

void
mwsapi_shutdown(void)
{
	if (mwsapi_prev_error_cb) {
		zend_error_cb = mwsapi_prev_error_cb;
		php_module_shutdown();
		sapi_shutdown();
	}
	free(mwsapi_ini);
	mwsapi_ini = NULL;
}

void
mwsapi_set_boot_params(const char *params, size_t len)
{
	mwsapi_boot_params = params;
	mwsapi_boot_len = len;
	/* $_GET and $_COOKIE as a request's are made (the strings live in
	 * params until the bootstrap ends). */
	SG(request_info).query_string = (char *)mwsapi_boot_param("QUERY_STRING");
	SG(request_info).request_method = mwsapi_boot_param("REQUEST_METHOD");
}

void
mwsapi_request_begin(struct request *rq)
{
	/* The pointers stay inside the request's message buffer, which
	 * outlives the PHP request; PHP copies what it parses. */
	SG(server_context) = rq;
	SG(request_info).request_method = rq->method;
	SG(request_info).request_uri = (char *)rq->uri;
	SG(request_info).query_string = (char *)rq->query;
	SG(request_info).path_translated = (char *)rq->script;
	SG(request_info).content_type = rq->content_type;
	SG(request_info).content_length = (zend_long)rq->body_len;
	SG(request_info).auth_user = NULL;
	SG(request_info).auth_password = NULL;
	SG(request_info).auth_digest = NULL;
	/* Nothing in PHP resets the code between requests; 200 is also what
	 * its fatal error handler looks for before choosing 500. */
	SG(sapi_headers).http_response_code = 200;
	mwsapi_current = rq;
}

void
mwsapi_detach(void)
{
	mwsapi_current = NULL;
}

void
mwsapi_request_end(struct request *rq)
{
	memset(&SG(request_info), 0, sizeof(SG(request_info)));
	SG(server_context) = NULL;
	mwsapi_current = NULL;
}
