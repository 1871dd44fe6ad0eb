/*
 * static.h - files the supervisor serves itself, without a worker.
 */
#ifndef MW_STATIC_H
#define MW_STATIC_H

#include <stdint.h>

struct config;
struct conn;
struct route;

/* Answer c's request with the file r names (routed and checked by
 * route.c), or with 404/405/403 (503 out of descriptors); 1 instead when
 * the file is a missing thumbnail (r->thumb) for thumb_handler.php. */
int		static_serve(struct conn *c, const struct route *r);
/* Media types: mw.yaml's static.types over /etc/mime.types; at start and
 * at each reload, before the previous config is freed.  -1: no memory. */
int		static_types_load(const struct config *cfg);
void		static_types_free(void);
const char	*static_content_type(const char *path);
/* A multipart/byteranges answer (c->parts) once what is queued is sent:
 * queue the next part's head and bytes, or the closing boundary and
 * free c->parts; 1 when something was queued, 0 when nothing is left. */
int		static_parts_next(struct conn *c);
void		static_parts_free(struct conn *c);
/* The longest Range header answered with a part; a longer one gets the
 * whole body (a file's or a cache entry's). */
#define STATIC_RANGE_HEADER_MAX	2048

/* A Range value s (NUL-terminated) over a size-byte body: 0 with
 * [*first, *last] for a 206, 416 when it lies past the end, -1 to send
 * the whole body (not a byte range, malformed, or several ranges
 * satisfiable: a 200 answers them all, RFC 9110 14.2).  The page cache
 * answers one range from a stored entry with it; static files answer a
 * list with multipart/byteranges. */
int		static_range(const char *s, int64_t size, int64_t *first,
		    int64_t *last);

#endif
