/*
 * status.h - the `mwsup status` command and the HTTP status endpoint.
 */
#ifndef MW_STATUS_H
#define MW_STATUS_H

#include <stdio.h>
#include <sys/types.h>

struct conn;
struct slot_table;

enum status_format { STATUS_TEXT, STATUS_JSON, STATUS_PROMETHEUS };

/* argv[0] is "status".  Returns the exit status. */
int	status_main(int argc, char **argv);
/* Write the status of the supervisor pid from its table. */
void	status_render(FILE *out, pid_t pid, const struct slot_table *t,
	    enum status_format fmt);
/* If c asks for status.health (200 "ready", 503 "starting", "draining" or
 * "no worker can start", to anyone), status.path (JSON) or
 * status.path/metrics (Prometheus), answer it (or 403 to a client not in
 * status.allow) and return 1. */
int	status_http(struct conn *c);

/* Is c's client in list (status.allow or cache.purge_allow; an empty
 * one: loopback only)? */
struct config_cidrs;
int	status_peer_allowed(const struct conn *c,
	    const struct config_cidrs *list);

#endif
