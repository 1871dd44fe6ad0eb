/*
 * compress.h - content codings of answers: which one a client asks for,
 * and gzip (zlib) or brotli (libbrotlienc) to make it.
 *
 * Both processes use it: the worker compresses PHP's answers as they come,
 * the supervisor static files once into its cache.  What to compress (the
 * media types, the minimum size) is mw.yaml's compression section; this
 * module only answers the questions and runs the encoders.
 */
#ifndef MW_COMPRESS_H
#define MW_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include <zlib.h>
#include <brotli/encode.h>

struct config;

enum compress_coding {
	COMPRESS_IDENTITY = 0,
	COMPRESS_GZIP,
	COMPRESS_BR,
};

enum compress_op {
	COMPRESS_MORE,		/* more input follows; output what is ready */
	COMPRESS_FLUSH,		/* all input so far decodable at the client */
	COMPRESS_END,		/* the last input: the stream's trailer */
};

/* A growing output buffer (malloc'd; the caller frees p). */
struct compress_buf {
	char	*p;
	size_t	 len, cap;
};

struct compress {
	enum compress_coding	 coding;
	z_stream		 z;
	BrotliEncoderState	*br;
	bool			 active;
};

/* "gzip", "br", or NULL for identity. */
const char	*compress_name(enum compress_coding c);
/*
 * The coding to send for an Accept-Encoding value (NULL: header absent)
 * among those the config offers: the acceptable one with the highest
 * q-value, br before gzip on a tie; identity when none is acceptable,
 * when identity has a higher q, or when the header is absent.  "*" stands
 * for every coding not named; "x-gzip" is gzip.  Malformed members are
 * skipped.
 */
enum compress_coding compress_choose(const struct config *cfg,
	    const char *accept);
/* Is an answer of this Content-Type value ("text/html; charset=UTF-8")
 * one of compression.types (exact, or a "type/ *" wildcard, written
 * without the space)? */
bool	compress_type_ok(const struct config *cfg, const char *type,
	    size_t len);
/* The level mw.yaml sets for coding (0: not offered). */
int	compress_level(const struct config *cfg, enum compress_coding coding);
/* Start an encoder for coding at level (gzip 1-9, brotli 1-11);
 * size_hint is the input's size when known (0 otherwise).  -1 when out
 * of memory. */
int	compress_start(struct compress *z, enum compress_coding coding,
	    int level, size_t size_hint);
/* Encode len bytes of in, appending the output to out.  -1 when out of
 * memory or the encoder failed (the stream is then unusable). */
int	compress_feed(struct compress *z, const void *in, size_t len,
	    enum compress_op op, struct compress_buf *out);
void	compress_stop(struct compress *z);
/* One whole buffer: compress_start + feed(END) + stop. */
int	compress_all(enum compress_coding coding, int level, const void *in,
	    size_t len, struct compress_buf *out);

#endif
