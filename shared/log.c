/*
 * log.c - the one place that writes diagnostics.
 *
 * Both binaries log to stderr only: under systemd that is the journal, in
 * the foreground it is the terminal.  One write(2) per line keeps lines from
 * different workers sharing the same stderr from interleaving.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_prog = "mwsup";
static int log_journal;
static int log_verbose;
static const char *log_site;

void
log_init(const char *progname)
{
	log_prog = progname;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_site(const char *site)
{
	log_site = site;
}

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

int
log_get_verbose(void)
{
	return log_verbose;
}

static const char *
log_level_word(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR:	return "error: ";
	case LOG_LVL_WARN:	return "warning: ";
	case LOG_LVL_DEBUG:	return "debug: ";
	default:		return "";
	}
}

void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[2048];
	int saved = errno, n;
	size_t len;

	if (lvl == LOG_LVL_DEBUG && !log_verbose)
		return;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", (int)lvl);
	else
		n = snprintf(line, sizeof(line), "%s[%d]: %s", log_prog,
		    (int)getpid(), log_level_word(lvl));
	if (n < 0)
		n = 0;
	if (log_site != NULL)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "site %.200s: ",
		    log_site);
	len = (size_t)n;
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len - 1 ?
		    (size_t)n : sizeof(line) - len - 2;
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
	errno = saved;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
