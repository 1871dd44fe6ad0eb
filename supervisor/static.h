/*
 * static.h - files the supervisor serves itself, without a worker.
 */
#ifndef MW_STATIC_H
#define MW_STATIC_H

struct conn;

/* Answer c's request with the file at path (already routed and checked
 * by route.c), or with 404/405/403. */
void		static_serve(struct conn *c, const char *path);
const char	*static_content_type(const char *path);

#endif
