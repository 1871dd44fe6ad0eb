/*
 * log.h - leveled logging to stderr for mwsup and mwworker.
 *
 * Lines carry an sd-daemon "<N>" priority prefix when stderr goes to the
 * journal (JOURNAL_STREAM set), so journald shows levels; otherwise a plain
 * "mwsup: warning: ..." form for a terminal.  fatal() logs and exits 1.
 */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5,
		 LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_init(const char *progname);
/* A farm worker's site: every later line says "site NAME: " after its
 * level, so the journal tells the sites' workers apart (NULL: none). */
void log_set_site(const char *site);
void log_set_verbose(int verbose);
int log_get_verbose(void);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
