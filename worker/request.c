/* worker/request.c - to be written */
