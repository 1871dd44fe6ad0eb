/* supervisor/static.c - to be written */
