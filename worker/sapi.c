/* worker/sapi.c - to be written */
