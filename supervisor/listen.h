/*
 * listen.h - the listening sockets: from systemd, or bound here.
 */
#ifndef MW_LISTEN_H
#define MW_LISTEN_H

#include "config.h"

/* Take systemd's sockets if it passed any, else bind cfg->listen.
 * Returns 0, or -1 after logging what failed. */
int	listen_open(const struct config *cfg);
/* Stop accepting: at the connection limit (backoff 0, resumed when a
 * connection closes) or out of descriptors (backoff 1, retried later). */
void	listen_pause(int backoff);
void	listen_resume_if_paused(void);
void	listen_tick(void);
/* Stop accepting for good (shutdown); systemd's sockets stay open. */
void	listen_stop(void);
/* Started as root and about to drop to cfg->user: fork the process that
 * removes our unix sockets once we exit, with the rights to.  0 or -1. */
int	listen_keep_unlinker(const struct config *cfg);
/* Unlink the unix sockets we created, if their paths still name them. */
void	listen_cleanup(void);
int	listen_count(void);
const char *listen_describe(int i);

#endif
