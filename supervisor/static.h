/*
 * static.h - files the supervisor serves itself, without a worker.
 */
#ifndef MW_STATIC_H
#define MW_STATIC_H

struct conn;
struct route;

/* Answer c's request with the file r names (routed and checked by
 * route.c), or with 404/405/403 (503 out of descriptors). */
void		static_serve(struct conn *c, const struct route *r);
const char	*static_content_type(const char *path);

#endif
