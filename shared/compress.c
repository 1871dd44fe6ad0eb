/*
 * compress.c - Accept-Encoding negotiation and the gzip and brotli
 * encoders.
 *
 * Negotiation follows RFC 9110 12.5.3: each member is a coding with an
 * optional q-value from 0 to 1 (three decimals); a coding not named is
 * acceptable only through "*"; identity is acceptable unless named with
 * q=0 (or "*;q=0" without it).  br wins a tie with gzip, being smaller at
 * the same cost.  Encoders write into a caller's growing buffer, so the
 * same code serves a whole answer and a streamed one.
 */
#include "compress.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define COMPRESS_GZIP_WINDOW	(15 + 16)	/* 32 KB window, gzip header */
#define COMPRESS_GZIP_MEMLEVEL	8
#define COMPRESS_BR_WINDOW	18	/* 256 KB, what brotli's CLI picks for
					 * small files; bounds memory per stream */

const char *
compress_name(enum compress_coding c)
{
	switch (c) {
	case COMPRESS_GZIP:	return "gzip";
	case COMPRESS_BR:	return "br";
	case COMPRESS_IDENTITY:	break;
	}
	return NULL;
}

/* A q-value ("0", "0.5", "1.000") as thousandths, or -1. */
static int
compress_qvalue(const char *s, size_t len)
{
	int q, scale = 100;
	size_t i;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if (len == 1)
		return q;
	if (s[1] != '.' || len > 5)
		return -1;
	for (i = 2; i < len; i++, scale /= 10) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/*
 * One member of the list, from *p up to the next comma: its coding (name,
 * nlen) and q-value.  Returns 1 with a member, 0 when the member is
 * malformed (skipped), -1 at the end.
 */
static int
compress_member(const char **p, const char **name, size_t *nlen, int *q)
{
	const char *s = *p, *end;

	s += strspn(s, " \t,");
	if (*s == '\0')
		return -1;
	end = s + strcspn(s, ",");
	*p = end;
	*name = s;
	*nlen = strcspn(s, " \t;,");
	*q = 1000;
	if (*nlen == 0)
		return 0;
	s += *nlen;
	while (s < end) {
		const char *v;
		size_t vlen;

		s += strspn(s, " \t");
		if (s == end)
			break;
		if (*s++ != ';')
			return 0;
		s += strspn(s, " \t");
		if (end - s < 2 || (s[0] != 'q' && s[0] != 'Q') || s[1] != '=')
			return 0;	/* a parameter other than q: not ours */
		v = s + 2;
		vlen = strcspn(v, " \t;,");
		if (v + vlen > end || (*q = compress_qvalue(v, vlen)) < 0)
			return 0;
		s = v + vlen;
	}
	return 1;
}

enum compress_coding
compress_choose(const struct config *cfg, const char *accept)
{
	int q_gzip = -1, q_br = -1, q_id = -1, q_star = -1, q, best;
	const char *p = accept, *name;
	size_t nlen;
	int r;

	if (accept == NULL || (cfg->gzip_level == 0 && cfg->brotli_level == 0))
		return COMPRESS_IDENTITY;
	while ((r = compress_member(&p, &name, &nlen, &q)) >= 0) {
		if (r == 0)
			continue;
#define IS(s) (nlen == sizeof(s) - 1 && strncasecmp(name, s, nlen) == 0)
		if (IS("gzip") || IS("x-gzip"))
			q_gzip = q > q_gzip ? q : q_gzip;
		else if (IS("br"))
			q_br = q;
		else if (IS("identity"))
			q_id = q;
		else if (IS("*"))
			q_star = q;
#undef IS
	}
	if (q_gzip < 0)
		q_gzip = q_star < 0 ? 0 : q_star;
	if (q_br < 0)
		q_br = q_star < 0 ? 0 : q_star;
	/* identity not named: as "*" says, else acceptable with the least
	 * preference, so that "gzip;q=0.5" still means gzip */
	if (q_id < 0)
		q_id = q_star >= 0 ? q_star : 1;
	if (cfg->gzip_level == 0)
		q_gzip = 0;
	if (cfg->brotli_level == 0)
		q_br = 0;
	best = q_br >= q_gzip ? q_br : q_gzip;
	if (best == 0 || q_id > best)
		return COMPRESS_IDENTITY;
	return q_br >= q_gzip ? COMPRESS_BR : COMPRESS_GZIP;
}

bool
compress_type_ok(const struct config *cfg, const char *type, size_t len)
{
	size_t n = 0, slash;

	while (n < len && type[n] != ';' && type[n] != ' ' && type[n] != '\t')
		n++;
	if (n == 0)
		return false;
	for (slash = 0; slash < n && type[slash] != '/'; slash++)
		;
	for (int i = 0; i < cfg->ncompress_types; i++) {
		const char *t = cfg->compress_types[i];
		size_t tl = strlen(t);

		if (tl == n && strncasecmp(t, type, n) == 0)
			return true;
		/* a wildcard like text/ * (written without the space): every subtype */
		if (tl >= 2 && strcmp(t + tl - 2, "/*") == 0 && slash < n &&
		    tl - 2 == slash && strncasecmp(t, type, slash) == 0)
			return true;
	}
	return false;
}

static void *
compress_zalloc(void *opaque, unsigned items, unsigned size)
{
	(void)opaque;
	return calloc(items, size);
}

static void
compress_zfree(void *opaque, void *p)
{
	(void)opaque;
	free(p);
}

int
compress_level(const struct config *cfg, enum compress_coding coding)
{
	return coding == COMPRESS_GZIP ? cfg->gzip_level :
	    coding == COMPRESS_BR ? cfg->brotli_level : 0;
}

int
compress_start(struct compress *z, enum compress_coding coding, int level,
    size_t size_hint)
{
	memset(z, 0, sizeof(*z));
	z->coding = coding;
	if (coding == COMPRESS_GZIP) {
		z->z.zalloc = compress_zalloc;
		z->z.zfree = compress_zfree;
		if (deflateInit2(&z->z, level, Z_DEFLATED,
		    COMPRESS_GZIP_WINDOW, COMPRESS_GZIP_MEMLEVEL,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
	} else if (coding == COMPRESS_BR) {
		if ((z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL)) ==
		    NULL)
			return -1;
		BrotliEncoderSetParameter(z->br, BROTLI_PARAM_QUALITY,
		    (uint32_t)level);
		BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN,
		    COMPRESS_BR_WINDOW);
		if (size_hint > 0)
			BrotliEncoderSetParameter(z->br, BROTLI_PARAM_SIZE_HINT,
			    size_hint > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)size_hint);
	} else
		return -1;
	z->active = true;
	return 0;
}

/* Room for at least want more bytes at the end of out. */
static int
compress_room(struct compress_buf *out, size_t want)
{
	size_t nc;
	char *np;

	if (out->cap - out->len >= want)
		return 0;
	nc = out->cap ? out->cap : 4096;
	while (nc - out->len < want)
		nc *= 2;
	if ((np = realloc(out->p, nc)) == NULL)
		return -1;
	out->p = np;
	out->cap = nc;
	return 0;
}

static int
compress_feed_gzip(struct compress *z, const void *in, size_t len,
    enum compress_op op, struct compress_buf *out)
{
	int flush = op == COMPRESS_END ? Z_FINISH :
	    op == COMPRESS_FLUSH ? Z_SYNC_FLUSH : Z_NO_FLUSH;
	int rc;

	z->z.next_in = (Bytef *)(uintptr_t)in;
	z->z.avail_in = (uInt)len;
	for (;;) {
		size_t room;

		if (compress_room(out, len / 4 + 64) == -1)
			return -1;
		room = out->cap - out->len;
		if (room > UINT32_MAX)
			room = UINT32_MAX;
		z->z.next_out = (Bytef *)out->p + out->len;
		z->z.avail_out = (uInt)room;
		rc = deflate(&z->z, flush);
		out->len += room - z->z.avail_out;
		if (rc == Z_STREAM_END)
			return 0;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -1;
		/* done when all input is taken and deflate had room to
		 * spare (nothing more to say for this flush) */
		if (z->z.avail_in == 0 && z->z.avail_out > 0 &&
		    flush != Z_FINISH)
			return 0;
	}
}

static int
compress_feed_br(struct compress *z, const void *in, size_t len,
    enum compress_op op, struct compress_buf *out)
{
	BrotliEncoderOperation bop = op == COMPRESS_END ?
	    BROTLI_OPERATION_FINISH : op == COMPRESS_FLUSH ?
	    BROTLI_OPERATION_FLUSH : BROTLI_OPERATION_PROCESS;
	const uint8_t *next_in = in;
	size_t avail_in = len;

	for (;;) {
		uint8_t *next_out;
		size_t avail_out, room;

		if (compress_room(out, len / 4 + 64) == -1)
			return -1;
		room = avail_out = out->cap - out->len;
		next_out = (uint8_t *)out->p + out->len;
		if (!BrotliEncoderCompressStream(z->br, bop, &avail_in,
		    &next_in, &avail_out, &next_out, NULL))
			return -1;
		out->len += room - avail_out;
		if (avail_in == 0 && !BrotliEncoderHasMoreOutput(z->br) &&
		    (op != COMPRESS_END || BrotliEncoderIsFinished(z->br)))
			return 0;
	}
}

int
compress_feed(struct compress *z, const void *in, size_t len,
    enum compress_op op, struct compress_buf *out)
{
	if (!z->active)
		return -1;
	if (z->coding == COMPRESS_GZIP)
		return compress_feed_gzip(z, in, len, op, out);
	return compress_feed_br(z, in, len, op, out);
}

void
compress_stop(struct compress *z)
{
	if (!z->active)
		return;
	if (z->coding == COMPRESS_GZIP)
		(void)deflateEnd(&z->z);
	else
		BrotliEncoderDestroyInstance(z->br);
	z->br = NULL;
	z->active = false;
}

int
compress_all(enum compress_coding coding, int level, const void *in,
    size_t len, struct compress_buf *out)
{
	struct compress z;
	int rc;

	if (compress_start(&z, coding, level, len) == -1)
		return -1;
	rc = compress_feed(&z, in, len, COMPRESS_END, out);
	compress_stop(&z);
	return rc;
}
