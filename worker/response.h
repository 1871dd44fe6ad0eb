/*
 * response.h - one HTTP/1.x response written straight to the client socket.
 *
 * PHP hands over headers once (at its first output) and then body bytes.
 * The response holds the body back in a buffer so a short page can go out
 * whole with a Content-Length (and so a fatal error can still turn into a
 * clean 500); when the buffer fills, or the script flushes, it switches to
 * streaming: chunked for HTTP/1.1, close-delimited for HTTP/1.0.  It never
 * parses requests and never decides anything about the worker's life.
 *
 * The socket gets what it takes without waiting; the rest goes to a spool
 * (memory up to limits.response_buffer, then a temp file), in order, which
 * request.c hands to the supervisor once the answer is complete: the
 * worker's time is the time to make an answer, not the time a client
 * takes to read it.
 *
 * An answer of one of compression.types goes out gzip- or br-encoded
 * when the client asks for it (response_compress()): whole when it was
 * held back whole, else streamed through the encoder; the script's own
 * Content-Encoding (zlib.output_compression, MediaWiki's own gzip) is
 * never encoded again.
 */
#ifndef MW_RESPONSE_H
#define MW_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compress.h"
#include "spool.h"

struct config;
struct ctl_done;

#define RESPONSE_BUF_MAX	(256 * 1024)	/* held back before streaming */
#define RESPONSE_CHUNK_MIN	(16 * 1024)	/* streamed writes coalesce to this */
#define RESPONSE_WRITE_TIMEOUT_MS 60000		/* no progress for this long: give up */

enum response_mode {
	RESPONSE_BUFFERING,	/* nothing on the wire yet */
	RESPONSE_STREAMING,	/* head sent, body follows as it comes */
	RESPONSE_DONE,		/* complete; later output is discarded */
};

enum response_framing {
	RESPONSE_LENGTH,	/* Content-Length */
	RESPONSE_CHUNKED,	/* Transfer-Encoding: chunked */
	RESPONSE_UNTIL_CLOSE,	/* HTTP/1.0 stream: body ends at EOF */
	RESPONSE_NO_BODY,	/* HEAD, 1xx, 204, 304 */
};

struct response {
	int		 fd;		/* client socket, non-blocking, not ours to close */
	uint32_t	 req_flags;	/* CTL_REQ_* of the request */
	int		 http_minor;	/* 0 or 1 */
	_Atomic uint64_t *bytes_out;	/* slot counter mirrored on every write, or NULL */

	int		 status;
	bool		 have_headers;	/* PHP gave us its header list */
	char		*head;		/* header lines from the script, "N: v\r\n"... */
	size_t		 head_len, head_cap;
	int64_t		 script_length;	/* Content-Length set by the script, or -1 */
	bool		 script_close;	/* script said Connection: close */
	bool		 has_date, has_server;
	bool		 close_after;	/* head announced the end of the connection */
	uint64_t	 length;	/* Content-Length announced, for LENGTH */

	enum response_mode	mode;
	enum response_framing	framing;
	char		*buf;		/* body held back */
	size_t		 len, cap;
	uint64_t	 body_total;	/* body bytes the script produced */
	uint64_t	 body_sent;	/* body bytes put on the wire (payload only) */
	uint64_t	 sent;		/* all bytes written to the client */
	struct spool	 rest;		/* bytes the socket did not take yet */
	const char	*spool_dir;	/* temp_dir; NULL: wait for the client */
	uint64_t	 spool_max;	/* rest kept in memory up to this */
	bool		 broken;	/* client write failed or timed out */
	bool		 truncated;	/* streaming ended without a proper end */

	/* content coding (response_compress) */
	const struct config *zcfg;	/* compression settings; NULL: never */
	enum compress_coding want;	/* what the client accepts best */
	bool		 type_ok;	/* Content-Type is in compression.types */
	bool		 has_type;	/* the script set a Content-Type */
	bool		 encoded;	/* the script set a Content-Encoding */
	enum compress_coding coding;	/* applied to this answer */
	struct compress	 z;		/* encoder of a streamed answer */
	struct compress_buf zout;	/* its output, before framing */

	uint64_t	 copy_max;	/* larger answers are not copied */
	uint64_t	 copy_len;	/* the copy file holds the whole answer
					 * as sent in this many bytes, for the
					 * page cache (CTL_REQ_STORE); 0: none */
	bool		 copy_too_large;	/* storable, over copy_max */
};

void	response_init(struct response *r, int fd, uint32_t req_flags,
	    int http_minor, _Atomic uint64_t *bytes_out);
void	response_free(struct response *r);
/* Compress the answer when it qualifies (type, size, status) with
 * coding, chosen from the request's Accept-Encoding (compress_choose());
 * cfg must outlive the response. */
void	response_compress(struct response *r, const struct config *cfg,
	    enum compress_coding coding);
/* What the client does not take at once goes to a spool (see above)
 * instead of being waited for; without this call, writes wait. */
void	response_spool_to(struct response *r, const char *dir,
	    uint64_t mem_max);
/* The complete answer has bytes the client has yet to take (in r->rest,
 * from r->rest.off to r->rest.len). */
bool	response_has_rest(const struct response *r);
/* The script's headers, in order; call response_headers_done() after. */
void	response_set_status(struct response *r, int status);
void	response_add_header(struct response *r, const char *line, size_t len);
void	response_headers_done(struct response *r);
/* Body bytes from the script.  Returns -1 once the client is gone. */
int	response_write(struct response *r, const char *data, size_t len);
/* Script asked for a flush: put the head and held-back body on the wire. */
void	response_flush(struct response *r);
/* Everything is there: send what is held back and end the body. */
void	response_finish(struct response *r);
/* Answer with a short HTML page for this status instead of what the
 * script produced, if nothing is on the wire yet; otherwise cut a streaming
 * response short (no proper end, connection closed).  A complete response
 * is left alone.  Returns true when the page replaced the response. */
bool	response_fail(struct response *r, int status);
/* The copy of a storable answer for the page cache: the worker's copy
 * file (a memfd kept for its life, written again for a later answer; the
 * caller sends it with d but does not close it), whose first d->copy_len
 * bytes are the head and body as sent; d says CTL_DONE_COPY.  -1 when the
 * request did not ask for one or the answer may not be stored (streamed,
 * HEAD, or not allowed by its status and headers: shared/cachectl.h), and
 * also when it is larger than copy_max: then d says CTL_DONE_TOO_LARGE. */
int	response_take_copy(struct response *r, struct ctl_done *d);
/* True when the connection can carry another request after this one. */
bool	response_keepalive(const struct response *r);

#endif
