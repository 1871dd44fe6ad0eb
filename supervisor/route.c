/* supervisor/route.c - to be written */
