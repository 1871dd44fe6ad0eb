/*
 * frame.h - strict HTTP/1.1 request framing, checked on the raw bytes:
 * the line structure of a request head, chunked bodies (with their
 * trailers, which are read and dropped) and a host[:port] authority.
 * Pure functions over byte ranges, carried across reads by a small
 * state, so a verdict never depends on how the bytes were split.
 */
#ifndef MW_FRAME_H
#define MW_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum frame_result {
	FRAME_MORE,		/* all given bytes accepted, not done */
	FRAME_DONE,		/* the head / body ended; *used bytes are its */
	FRAME_BAD,		/* malformed (400); *used bytes precede it */
	FRAME_TOO_LARGE,	/* chunked body over its limit (413) */
	FRAME_FIELDS_TOO_LARGE,	/* trailer section over its limit (431) */
	FRAME_STOPPED,		/* the data callback refused */
};

struct frame {
	int		state;
	int		chunked;	/* body: lines end in CRLF only */
	uint64_t	left;		/* chunk data still to come */
	uint64_t	body;		/* chunk data so far */
	uint64_t	body_max;
	size_t		line;		/* bytes of the current chunk-size line */
	size_t		fields;		/* bytes of trailer fields so far */
	size_t		fields_max;
};

/* Start checking a request head. */
void	frame_head_init(struct frame *f);
/* Check up to n bytes of the head; *used is how many belong to it and
 * are acceptable (with FRAME_DONE, up to the blank line's LF). */
enum frame_result frame_head(struct frame *f, const char *p, size_t n,
	    size_t *used);

/* Start decoding a chunked body of at most body_max bytes whose trailer
 * section may take fields_max bytes. */
void	frame_chunked_init(struct frame *f, uint64_t body_max,
	    size_t fields_max);
/* Decode up to n bytes; chunk data goes to on_data (non-zero: stop with
 * FRAME_STOPPED).  *used: bytes consumed, the last one included. */
enum frame_result frame_chunked(struct frame *f, const char *p, size_t n,
	    size_t *used, int (*on_data)(void *arg, const char *, size_t),
	    void *arg);

/* If p[0..n) is host[:port] (RFC 3986 reg-name, IPv4 or [IPv6], then an
 * optional decimal port), the host's length; otherwise 0. */
size_t	frame_host(const char *p, size_t n);

/* The value of a hexadecimal digit, or -1 (chunk sizes, %XX escapes). */
int	frame_hexval(unsigned char ch);

#endif
