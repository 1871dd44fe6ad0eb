/*
 * status.h - the `mwsup status` command.
 */
#ifndef MW_STATUS_H
#define MW_STATUS_H

/* argv[0] is "status".  Returns the exit status. */
int	status_main(int argc, char **argv);

#endif
