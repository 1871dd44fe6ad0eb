/*
 * putback.h - mwsup_put_back(), the PHP function php/warm-services.php
 * sets the reset services back with after each request (putback.c).
 */
#ifndef MW_PUTBACK_H
#define MW_PUTBACK_H

#include <main/php.h>

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(mwsup_arginfo_put_back, 0, 2,
    IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, records, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, keep, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_NAMED_FUNCTION(mwsup_put_back);

#endif
