/* supervisor/pool.c - to be written */
