/* supervisor/conn.c - to be written */
