/* supervisor/listen.c - to be written */
