/* supervisor/dispatch.c - to be written */
