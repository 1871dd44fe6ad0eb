/*
 * slowlog.h - the PHP stack of a request still running past log.slow.
 */
#ifndef MW_SLOWLOG_H
#define MW_SLOWLOG_H

struct slot;

/* After PHP has started: hook the VM interrupt and start the thread that
 * waits for the supervisor's asks in this worker's slot.  On failure it
 * says so and the worker serves on without stacks. */
void	slowlog_start(struct slot *slot);

#endif
