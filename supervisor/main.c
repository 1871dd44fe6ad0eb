/* supervisor/main.c - to be written */
