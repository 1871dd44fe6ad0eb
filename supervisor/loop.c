/* supervisor/loop.c - to be written */
