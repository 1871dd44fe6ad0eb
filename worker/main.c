/* worker/main.c - to be written */
