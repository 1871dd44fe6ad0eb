/*
 * accesslog.h - one line per response, in the combined log format.
 */
#ifndef MW_ACCESSLOG_H
#define MW_ACCESSLOG_H

#include <stdint.h>
#include <sys/types.h>

struct conn;

/* Open log.access of the config (before privileges are dropped).
 * Returns 0, or -1 after logging why. */
int	accesslog_open(void);
/* SIGUSR1 (log rotation) and reload: open the file again. */
void	accesslog_reopen(void);
/* The response to c's current request is complete. */
void	accesslog_response(struct conn *c, int status, uint64_t bytes,
	    pid_t worker);
/* Write out what is buffered (called once per loop turn). */
void	accesslog_flush(void);

#endif
