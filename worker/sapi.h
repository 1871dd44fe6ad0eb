/*
 * sapi.h - mwworker's own PHP SAPI module.
 *
 * PHP already owns every sapi_* name (sapi_startup, sapi_flush, ...), so
 * this module's prefix is mwsapi_.  It starts libphp once per process and
 * connects PHP's callbacks (output, headers, body, cookies, $_SERVER,
 * getenv, error log) to the request being served.
 */
#ifndef MW_SAPI_H
#define MW_SAPI_H

#include <stddef.h>

struct config;
struct request;

/* Start PHP with the config's php: settings over Debian's php.ini and
 * conf.d.  Returns 0, or -1 after logging why. */
int	mwsapi_init(const struct config *cfg);
void	mwsapi_shutdown(void);

/* Bind a request to PHP's request globals before php_request_startup(),
 * and unbind it after php_request_shutdown(). */
void	mwsapi_request_begin(struct request *rq);
void	mwsapi_request_end(struct request *rq);

/* The response is complete: PHP's output and headers go nowhere from now
 * on, though the request info stays until mwsapi_request_end(). */
void	mwsapi_detach(void);
/* CGI parameters (name\0value\0...) for $_SERVER while no request is
 * bound (warm mode's bootstrap), or NULL. */
void	mwsapi_set_boot_params(const char *params, size_t len);

#endif
