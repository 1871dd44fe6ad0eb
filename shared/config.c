/* shared/config.c - to be written */
