/*
 * response.c - framing and writing one HTTP/1.x response to the client.
 *
 * The client socket is shared with the supervisor (it keeps a dup) and is
 * non-blocking on both sides.  Every write takes what the socket takes;
 * when it is full, the rest goes to the spool (and so does everything
 * after, to keep the order), which each later write first tries to empty
 * into the socket.  Without a spool (a job slice's answer), writes wait in
 * one poll loop with a no-progress deadline instead.  The slot's bytes_out
 * is updated after each write to the socket: the supervisor answers 502
 * for a dead worker only while it is still zero.
 *
 * Compression is decided when the head goes out: a whole answer is
 * encoded at once and keeps a Content-Length; a streamed one passes
 * through the encoder chunk by chunk (its size is not known, so it is
 * chunked or close-delimited like any stream).  Either way the head gets
 * Content-Encoding, Vary gets Accept-Encoding (merged into the script's
 * own Vary, never twice) and a strong ETag becomes weak, as nginx does:
 * the bytes differ, the meaning does not, and a script that compares
 * If-None-Match with its own tag still recognises it.  Vary is sent
 * whatever the client asked, also for a HEAD (as nginx's gzip_vary) and
 * for a 304 (RFC 9110 15.4.5: what the 200 would have; nginx omits it).
 */
#include "response.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cachectl.h"
#include "config.h"
#include "ctl.h"
#include "log.h"

void
response_init(struct response *r, int fd, uint32_t req_flags, int http_minor,
    _Atomic uint64_t *bytes_out)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->req_flags = req_flags;
	r->http_minor = http_minor >= 1 ? 1 : 0;
	r->bytes_out = bytes_out;
	r->status = 200;
	r->script_length = -1;
	r->mode = RESPONSE_BUFFERING;
	r->rest.fd = -1;
}

void
response_spool_to(struct response *r, const char *dir, uint64_t mem_max)
{
	r->spool_dir = dir;
	r->spool_max = mem_max;
}

void
response_compress(struct response *r, const struct config *cfg,
    enum compress_coding coding)
{
	r->zcfg = cfg;
	r->want = coding;
}

bool
response_has_rest(const struct response *r)
{
	return !r->broken && r->rest.len > r->rest.off;
}

void
response_free(struct response *r)
{
	spool_close(&r->rest);
	r->copy_len = 0;
	r->copy_too_large = false;
	compress_stop(&r->z);
	free(r->zout.p);
	r->zout.p = NULL;
	r->zout.len = r->zout.cap = 0;
	free(r->head);
	free(r->buf);
	r->head = r->buf = NULL;
	r->head_len = r->head_cap = r->len = r->cap = 0;
}

static const char *
response_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

/* Grow-and-append on a malloc'd buffer; allocation failure is fatal: the
 * worker cannot answer sensibly without memory, and the supervisor will
 * answer 502 and start a fresh one. */
static void
response_append(char **p, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n > *cap) {
		size_t nc = *cap ? *cap : 1024;
		char *nb;

		while (nc < *len + n)
			nc *= 2;
		if ((nb = realloc(*p, nc)) == NULL)
			fatal("response buffer of %zu bytes: out of memory", nc);
		*p = nb;
		*cap = nc;
	}
	memcpy(*p + *len, s, n);
	*len += n;
}

static void
response_count(struct response *r, size_t n)
{
	r->sent += n;
	if (r->bytes_out)
		atomic_store_explicit(r->bytes_out, r->sent,
		    memory_order_relaxed);
}

/*
 * Before a write: the slot says the bytes may be on their way.  A
 * SIGKILL that arrives during sendmsg() takes effect as the call returns,
 * after the kernel has the bytes but before response_count() runs; had
 * the slot still said 0, the supervisor would append a 502 to an answer
 * the client already has.  Overstated, it closes the connection instead.
 */
static void
response_count_pending(struct response *r, const struct iovec *iov,
    int iovcnt)
{
	uint64_t pending = 0;

	if (r->bytes_out == NULL)
		return;
	for (int i = 0; i < iovcnt; i++)
		pending += iov[i].iov_len;
	atomic_store_explicit(r->bytes_out, r->sent + pending,
	    memory_order_relaxed);
}

/* The client is gone (or the socket failed): nothing more goes out. */
static int
response_gone(struct response *r, const char *what)
{
	if (errno != EPIPE && errno != ECONNRESET)
		log_warn("%s client: %s", what, strerror(errno));
	r->broken = true;
	spool_close(&r->rest);
	return -1;
}

/* Wait until the client takes more; -1 (broken) after
 * RESPONSE_WRITE_TIMEOUT_MS without progress. */
static int
response_wait(struct response *r)
{
	struct pollfd pfd = { r->fd, POLLOUT, 0 };
	int pr;

	do
		pr = poll(&pfd, 1, RESPONSE_WRITE_TIMEOUT_MS);
	while (pr < 0 && errno == EINTR);
	if (pr > 0)
		return 0;
	if (pr == 0)
		log_warn("write to client: no progress for %d s, giving up",
		    RESPONSE_WRITE_TIMEOUT_MS / 1000);
	else
		log_warn("poll on client: %s", strerror(errno));
	r->broken = true;
	spool_close(&r->rest);
	return -1;
}

/* Move what the socket takes of the spooled rest into it; with wait, all
 * of it.  Returns 0 (the rest may remain), -1 once the client is gone. */
static int
response_send_rest(struct response *r, bool wait)
{
	while (r->rest.off < r->rest.len) {
		off_t o = (off_t)r->rest.off;
		ssize_t n = sendfile(r->fd, r->rest.fd, &o,
		    (size_t)(r->rest.len - r->rest.off));

		if (n > 0) {
			r->rest.off = (uint64_t)o;
			response_count(r, (size_t)n);
			continue;
		}
		if (n == 0)
			errno = EIO;	/* the spool is shorter than written */
		else if (errno == EINTR)
			continue;
		else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait)
				return 0;
			if (response_wait(r) < 0)
				return -1;
			continue;
		}
		return response_gone(r, "write to");
	}
	if (spool_empty(&r->rest) < 0) {
		log_warn("emptying the answer's spool: %s", strerror(errno));
		spool_close(&r->rest);
	}
	return 0;
}

static int response_sendv(struct response *, struct iovec *, int);

/*
 * The socket is full: iov goes to the spool.  If the spool cannot take it
 * (temp_dir full or gone), the worker waits for the client as it would
 * without a spool, which delays this worker but gives the client all of
 * its answer.
 */
static int
response_spool(struct response *r, struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++) {
		if (spool_write(&r->rest, iov[i].iov_base, iov[i].iov_len,
		    r->spool_dir, r->spool_max) == 0)
			continue;
		log_warn("keeping %zu bytes of an answer for a slow client "
		    "(temp_dir %s): %s; the worker waits for the client "
		    "instead", iov[i].iov_len, r->spool_dir, strerror(errno));
		r->spool_dir = NULL;
		if (response_send_rest(r, true) < 0)
			return -1;
		return response_sendv(r, iov + i, iovcnt - i);
	}
	return 0;
}

/*
 * Write all of iov, or what the socket takes of it and the rest to the
 * spool.  sendmsg with MSG_NOSIGNAL because the client may have gone
 * (SIGPIPE would kill us); writev when the descriptor is not a socket (a
 * pipe in tests).  Returns -1 and marks the response broken on error or,
 * without a spool, after RESPONSE_WRITE_TIMEOUT_MS without progress.
 */
static int
response_sendv(struct response *r, struct iovec *iov, int iovcnt)
{
	bool use_write = false;

	if (r->broken)
		return -1;
	if (r->rest.off < r->rest.len) {
		if (response_send_rest(r, r->spool_dir == NULL) < 0)
			return -1;
		if (r->rest.off < r->rest.len)
			return response_spool(r, iov, iovcnt);
	}
	while (iovcnt > 0) {
		struct msghdr mh;
		ssize_t n;

		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		response_count_pending(r, iov, iovcnt);
		if (!use_write) {
			memset(&mh, 0, sizeof(mh));
			mh.msg_iov = iov;
			mh.msg_iovlen = (size_t)iovcnt;
			n = sendmsg(r->fd, &mh, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				use_write = true;
				continue;
			}
		} else
			n = writev(r->fd, iov, iovcnt);
		if (n < 0) {
			response_count(r, 0);	/* nothing went */
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return response_gone(r, "write to");
			if (r->spool_dir != NULL)
				return response_spool(r, iov, iovcnt);
			if (response_wait(r) < 0)
				return -1;
			continue;
		}
		response_count(r, (size_t)n);
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

void
response_set_status(struct response *r, int status)
{
	r->status = status >= 100 && status <= 999 ? status : 200;
}

void
response_add_header(struct response *r, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len), *v, *end = line + len;
	size_t nlen;

	/* PHP refuses CR/LF in header(); a header without a name is
	 * meaningless on the wire.  Both are dropped, with a trace. */
	if (colon == NULL || colon == line || memchr(line, '\r', len) ||
	    memchr(line, '\n', len)) {
		log_warn("script header \"%.*s\": malformed, not sent",
		    (int)(len > 80 ? 80 : len), line);
		return;
	}
	nlen = (size_t)(colon - line);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
#define IS(name) (nlen == sizeof(name) - 1 && \
	    strncasecmp(line, name, sizeof(name) - 1) == 0)
	if (IS("Content-Length")) {
		char digits[24];
		size_t dl = (size_t)(end - v);
		char *ep;
		unsigned long long n;

		while (dl > 0 && (v[dl - 1] == ' ' || v[dl - 1] == '\t'))
			dl--;
		if (dl == 0 || dl >= sizeof(digits) ||
		    strspn(v, "0123456789") < dl) {
			log_warn("script header Content-Length \"%.*s\": "
			    "not a number, ignored", (int)(dl > 40 ? 40 : dl),
			    v);
			return;
		}
		memcpy(digits, v, dl);
		digits[dl] = '\0';
		errno = 0;
		n = strtoull(digits, &ep, 10);
		if (errno || n > INT64_MAX) {
			log_warn("script header Content-Length %s: out of "
			    "range, ignored", digits);
			return;
		}
		r->script_length = (int64_t)n;
		return;		/* emitted by response_head, exactly once */
	}
	if (IS("Transfer-Encoding")) {
		log_warn("script header Transfer-Encoding: ignored, the "
		    "worker frames the response itself");
		return;
	}
	if (IS("Connection")) {
		/* Connection management is ours; only honour a close. */
		const char *p;

		for (p = v; p + 5 <= end; p++)
			if (strncasecmp(p, "close", 5) == 0)
				r->script_close = true;
		return;
	}
	if (IS("Date"))
		r->has_date = true;
	else if (IS("Server"))
		r->has_server = true;
	else if (IS("Content-Encoding"))
		r->encoded = true;
	else if (IS("Content-Type")) {
		r->has_type = true;
		r->type_ok = r->zcfg != NULL &&
		    compress_type_ok(r->zcfg, v, (size_t)(end - v));
	}
#undef IS
	response_append(&r->head, &r->head_len, &r->head_cap, line, len);
	response_append(&r->head, &r->head_len, &r->head_cap, "\r\n", 2);
}

void
response_headers_done(struct response *r)
{
	r->have_headers = true;
}

static bool
response_status_has_body(int status)
{
	return !(status < 200 || status == 204 || status == 304);
}

static bool
response_is_head(const struct response *r)
{
	return (r->req_flags & CTL_REQ_HEAD) != 0;
}

/* RFC 9110 IMF-fixdate, by hand: strftime would follow the locale the
 * script may have set. */
static size_t
response_date(char *out, size_t cap)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	n = snprintf(out, cap, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/*
 * A whole response (up to RESPONSE_BUF_MAX and its head) should go to the
 * kernel in one write, so that the client gets all of it even if the
 * worker dies right after (killed for its time, or crashing in
 * MediaWiki's post-send work; the supervisor holds the connection open).
 * A new connection's send buffer starts at 16 KB (tcp_wmem); on loopback
 * the kernel usually moves the bytes on at once, but on a loaded machine
 * or a real network a larger response would be written in pieces as the
 * client reads.  So the buffer is grown to hold it, and at least
 * RESPONSE_BUF_MAX (a keep-alive connection keeps the size, and the
 * kernel no longer tunes it).  Only grows; the kernel doubles the value
 * asked and caps it at net.core.wmem_max.  Responses of up to
 * RESPONSE_CHUNK_MIN are left as they are.
 */
static void
response_room(int fd, size_t len)
{
	int have = 0, want;
	socklen_t sl = sizeof(have);

	if (len <= RESPONSE_CHUNK_MIN)
		return;
	if (len < RESPONSE_BUF_MAX)
		len = RESPONSE_BUF_MAX;
	want = (int)(len < (size_t)INT_MAX / 2 ? len : (size_t)INT_MAX / 2);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &sl) == 0 &&
	    have / 2 < want)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
}

/* Does the line (a "Name: value\r\n" of r->head) have this name? */
static bool
response_line_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* Does a Vary value already name Accept-Encoding (or "*")? */
static bool
response_vary_has(const char *v, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t t;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (t = i; t < len && v[t] != ',' && v[t] != ' ' &&
		    v[t] != '\t'; t++)
			;
		if ((t - i == 1 && v[i] == '*') || (t - i == 15 &&
		    strncasecmp(v + i, "Accept-Encoding", 15) == 0))
			return true;
		i = t;
	}
	return false;
}

/*
 * The script's header lines into h, for an answer whose representation
 * depends on Accept-Encoding (vary): the first Vary line gets
 * Accept-Encoding unless one already names it, or a Vary line is added;
 * with a coding applied, a strong ETag is weakened and Content-Encoding
 * added.
 */
static void
response_copy_head(struct response *r, char **h, size_t *hlen, size_t *hcap,
    bool vary)
{
	const char *p = r->head, *end = r->head + r->head_len;
	bool need_vary = vary, weaken = r->coding != COMPRESS_IDENTITY;
	char line[64];
	size_t n;

	for (p = r->head; p < end; ) {	/* each line ends in CRLF */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)(nl - p) - 1;

		if (response_line_is(p, len, "Vary") &&
		    response_vary_has(p + 5, len - 5))
			need_vary = false;
		p = nl + 1;
	}
	for (p = r->head; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)(nl - p) - 1;	/* without CRLF */
		const char *v = p + 5;	/* the value of "Vary:" or "ETag:" */

		if (need_vary && response_line_is(p, len, "Vary")) {
			while (v < p + len && (*v == ' ' || *v == '\t'))
				v++;
			response_append(h, hlen, hcap, p, len);
			if (v < p + len)
				response_append(h, hlen, hcap, ", ", 2);
			response_append(h, hlen, hcap, "Accept-Encoding\r\n",
			    17);
			need_vary = false;
		} else if (weaken && response_line_is(p, len, "ETag")) {
			while (v < p + len && (*v == ' ' || *v == '\t'))
				v++;
			if (*v == '"') {
				response_append(h, hlen, hcap, "ETag: W/", 8);
				response_append(h, hlen, hcap, v,
				    (size_t)(nl + 1 - v));
			} else
				response_append(h, hlen, hcap, p,
				    (size_t)(nl + 1 - p));
		} else
			response_append(h, hlen, hcap, p, (size_t)(nl + 1 - p));
		p = nl + 1;
	}
	if (need_vary)
		response_append(h, hlen, hcap, "Vary: Accept-Encoding\r\n",
		    23);
	if (r->coding != COMPRESS_IDENTITY) {
		n = (size_t)snprintf(line, sizeof(line),
		    "Content-Encoding: %s\r\n", compress_name(r->coding));
		response_append(h, hlen, hcap, line, n);
	}
}

/*
 * Whether the answer is one compression applies to, and with which coding
 * (r->coding); returns whether its representation depends on
 * Accept-Encoding (the head says Vary).  A whole answer (final) is encoded
 * here; a streamed one gets its encoder.  An encoder that cannot start
 * (no memory) leaves the answer as it is.
 */
static bool
response_choose_coding(struct response *r, bool final)
{
	int64_t size = final ? (int64_t)r->body_total : r->script_length;
	struct compress_buf out = { NULL, 0, 0 };

	r->coding = COMPRESS_IDENTITY;
	/* RFC 9110 15.4.5: a 304 names what the 200 would vary on; its
	 * size is unknown, and so is its type when none is given */
	if (r->status == 304)
		return r->zcfg != NULL && !r->encoded &&
		    (r->type_ok || !r->has_type) &&
		    (r->zcfg->gzip_level != 0 || r->zcfg->brotli_level != 0);
	if (r->zcfg == NULL || !r->type_ok || r->encoded ||
	    !response_status_has_body(r->status) || r->status == 206 ||
	    (r->zcfg->gzip_level == 0 && r->zcfg->brotli_level == 0) ||
	    (size >= 0 && (uint64_t)size < r->zcfg->compress_min))
		return false;
	if (r->want == COMPRESS_IDENTITY)
		return true;
	if (response_is_head(r)) {
		r->coding = r->want;	/* the head the GET would have */
		return true;
	}
	if (final) {
		if (compress_all(r->want, compress_level(r->zcfg, r->want),
		    r->buf, r->len, &out) == -1) {
			log_warn("%s-encoding an answer of %zu bytes: out of "
			    "memory, sent as it is", compress_name(r->want),
			    r->len);
			free(out.p);
			return true;
		}
		free(r->buf);
		r->buf = out.p;
		r->len = out.len;
		r->cap = out.cap;
	} else if (compress_start(&r->z, r->want, compress_level(r->zcfg,
	    r->want), 0) == -1) {
		log_warn("%s encoder: out of memory, answer sent as it is",
		    compress_name(r->want));
		compress_stop(&r->z);
		return true;
	}
	r->coding = r->want;
	r->script_length = -1;	/* the encoded length is ours to tell */
	return true;
}

/* The worker's copy file: one memfd for its life, written from offset 0
 * for each copy, so that no answer pays for making and freeing one. */
static int response_copy_file = -1;

/*
 * A whole answer the page cache asked for (CTL_REQ_STORE): when its status
 * and headers let a shared cache keep it, head and body as they went on
 * the wire into the copy file for the supervisor (response_take_copy()).
 * A copy that cannot be made (no memory) is simply not made.
 */
static void
response_copy(struct response *r, const struct iovec *iov)
{
	size_t total = iov[0].iov_len + iov[1].iov_len;

	if (!cachectl_status_ok(r->status) || r->body_sent != r->length ||
	    cachectl_ttl(r->head, r->head_len) < 0)
		return;
	if (total > r->copy_max) {
		r->copy_too_large = true;
		return;
	}
	if (response_copy_file < 0 &&
	    (response_copy_file = memfd_create("mwsup-cache",
	    MFD_CLOEXEC)) < 0) {
		log_warn("page cache copy: memfd: %s", strerror(errno));
		return;
	}
	if (spool_pwrite_all(response_copy_file, iov[0].iov_base,
	    iov[0].iov_len, 0) < 0 ||
	    spool_pwrite_all(response_copy_file, iov[1].iov_base,
	    iov[1].iov_len, iov[0].iov_len) < 0) {
		log_warn("page cache copy: write: %s", strerror(errno));
		return;
	}
	r->copy_len = total;
}

int
response_take_copy(struct response *r, struct ctl_done *d)
{
	if (r->copy_too_large)
		d->flags |= CTL_DONE_TOO_LARGE;
	r->copy_too_large = false;
	if ((d->copy_len = r->copy_len) == 0)
		return -1;
	r->copy_len = 0;
	d->flags |= CTL_DONE_COPY;
	return response_copy_file;
}

/*
 * Choose the framing and put the status line and headers on the wire,
 * followed by the held-back body when final (the whole response is known).
 */
static void
response_start(struct response *r, bool final)
{
	char line[256], *h = NULL;
	size_t hlen = 0, hcap = 0, n;
	bool keep, vary, copy;
	struct iovec iov[2], whole[2] = { { 0 } };
	int iovcnt = 1;

	vary = response_choose_coding(r, final);
	if (!response_status_has_body(r->status) || response_is_head(r))
		r->framing = RESPONSE_NO_BODY;
	else if (final || r->script_length >= 0)
		r->framing = RESPONSE_LENGTH;
	else if ((r->req_flags & CTL_REQ_CHUNKED_OK) && r->http_minor == 1)
		r->framing = RESPONSE_CHUNKED;
	else
		r->framing = RESPONSE_UNTIL_CLOSE;

	keep = (r->req_flags & CTL_REQ_KEEPALIVE) && !r->script_close &&
	    r->framing != RESPONSE_UNTIL_CLOSE;
	r->close_after = !keep;

	n = (size_t)snprintf(line, sizeof(line), "HTTP/1.%d %d %s\r\n",
	    r->http_minor, r->status, response_reason(r->status));
	response_append(&h, &hlen, &hcap, line, n);
	if (vary)
		response_copy_head(r, &h, &hlen, &hcap, vary);
	else if (r->head_len)
		response_append(&h, &hlen, &hcap, r->head, r->head_len);
	if (!r->has_date && (n = response_date(line, sizeof(line))) > 0)
		response_append(&h, &hlen, &hcap, line, n);
	if (!r->has_server)
		response_append(&h, &hlen, &hcap, "Server: mwsup\r\n", 15);
	if (r->req_flags & CTL_REQ_STORE)
		response_append(&h, &hlen, &hcap, "X-Cache: miss\r\n", 15);
	else if (r->req_flags & CTL_REQ_PASS)
		response_append(&h, &hlen, &hcap, "X-Cache: pass\r\n", 15);

	switch (r->framing) {
	case RESPONSE_LENGTH:
		r->length = r->script_length >= 0 ?
		    (uint64_t)r->script_length : r->len;
		break;
	case RESPONSE_NO_BODY:
		/* HEAD tells the length the GET would have had; 1xx, 204
		 * and 304 carry none. */
		r->length = 0;
		if (!response_status_has_body(r->status) ||
		    r->coding != COMPRESS_IDENTITY)
			break;	/* an encoded length is not known */
		if (r->script_length >= 0)
			r->length = (uint64_t)r->script_length;
		else if (final)
			r->length = r->body_total;
		else
			break;
		n = (size_t)snprintf(line, sizeof(line),
		    "Content-Length: %" PRIu64 "\r\n", r->length);
		response_append(&h, &hlen, &hcap, line, n);
		r->length = 0;
		break;
	case RESPONSE_CHUNKED:
		response_append(&h, &hlen, &hcap,
		    "Transfer-Encoding: chunked\r\n", 28);
		break;
	case RESPONSE_UNTIL_CLOSE:
		break;
	}
	if (r->framing == RESPONSE_LENGTH) {
		n = (size_t)snprintf(line, sizeof(line),
		    "Content-Length: %" PRIu64 "\r\n", r->length);
		response_append(&h, &hlen, &hcap, line, n);
	}
	if (!keep)
		response_append(&h, &hlen, &hcap, "Connection: close\r\n", 19);
	else if (r->http_minor == 0)
		response_append(&h, &hlen, &hcap,
		    "Connection: keep-alive\r\n", 24);
	response_append(&h, &hlen, &hcap, "\r\n", 2);

	iov[0].iov_base = h;
	iov[0].iov_len = hlen;
	if (final && r->framing == RESPONSE_LENGTH && r->len > 0) {
		size_t body = r->len < r->length ? r->len : (size_t)r->length;

		iov[1].iov_base = r->buf;
		iov[1].iov_len = body;
		iovcnt = 2;
		r->body_sent += body;
		r->len = 0;
	}
	/* the page cache's copy after the client has its answer (sending
	 * moves through iov, so the copy works from its own) */
	copy = final && iovcnt == 2 && (r->req_flags & CTL_REQ_STORE);
	if (copy)
		memcpy(whole, iov, sizeof(whole));
	r->mode = RESPONSE_STREAMING;
	if (final)
		response_room(r->fd, iov[0].iov_len +
		    (iovcnt > 1 ? iov[1].iov_len : 0));
	(void)response_sendv(r, iov, iovcnt);
	if (copy)
		response_copy(r, whole);
	free(h);
}

/*
 * Send the held-back bytes of a streaming response in its framing, through
 * the encoder when the answer is encoded (op: what the encoder is to do
 * with them; COMPRESS_END writes its trailer).
 */
static void
response_drain(struct response *r, enum compress_op op)
{
	struct iovec iov[3];
	char size[24];
	const char *data = r->buf;
	size_t n = r->len;

	if (r->broken) {
		r->len = 0;
		return;
	}
	if (r->coding != COMPRESS_IDENTITY && r->framing != RESPONSE_NO_BODY) {
		r->zout.len = 0;
		if ((n > 0 || op != COMPRESS_MORE) &&
		    compress_feed(&r->z, r->buf, n, op, &r->zout) == -1) {
			log_warn("%s-encoding a streamed answer: out of "
			    "memory, cut short", compress_name(r->coding));
			r->truncated = true;
			r->broken = true;
			r->len = 0;
			return;
		}
		r->len = 0;
		data = r->zout.p;
		n = r->zout.len;
	}
	if (n == 0) {
		r->len = 0;
		return;
	}
	switch (r->framing) {
	case RESPONSE_CHUNKED:
		iov[0].iov_base = size;
		iov[0].iov_len = (size_t)snprintf(size, sizeof(size), "%zx\r\n",
		    n);
		iov[1].iov_base = (char *)data;
		iov[1].iov_len = n;
		iov[2].iov_base = "\r\n";
		iov[2].iov_len = 2;
		(void)response_sendv(r, iov, 3);
		break;
	case RESPONSE_LENGTH:
		/* Never more than announced: extra bytes would be read as the
		 * next response on a kept-alive connection. */
		if (r->body_sent + n > r->length) {
			log_warn("script wrote more than its Content-Length "
			    "%" PRIu64 ", rest dropped", r->length);
			n = (size_t)(r->length - r->body_sent);
		}
		/* FALLTHROUGH */
	case RESPONSE_UNTIL_CLOSE:
		iov[0].iov_base = (char *)data;
		iov[0].iov_len = n;
		(void)response_sendv(r, iov, 1);
		break;
	case RESPONSE_NO_BODY:
		n = 0;
		break;
	}
	r->body_sent += n;
	r->len = 0;
}

int
response_write(struct response *r, const char *data, size_t len)
{
	if (r->broken)
		return -1;
	if (r->mode == RESPONSE_DONE || len == 0)
		return 0;
	r->body_total += len;
	if (response_is_head(r) || !response_status_has_body(r->status))
		return 0;	/* counted for HEAD's Content-Length only */
	if (r->mode == RESPONSE_BUFFERING) {
		if (r->len + len <= RESPONSE_BUF_MAX) {
			response_append(&r->buf, &r->len, &r->cap, data, len);
			return 0;
		}
		response_start(r, false);
		response_drain(r, COMPRESS_MORE);
	}
	if (len >= RESPONSE_CHUNK_MIN && r->len == 0) {
		/* Large piece: send it without copying. */
		const char *saved = r->buf;
		size_t saved_cap = r->cap;

		r->buf = (char *)data;
		r->len = len;
		response_drain(r, COMPRESS_MORE);
		r->buf = (char *)saved;
		r->cap = saved_cap;
	} else {
		response_append(&r->buf, &r->len, &r->cap, data, len);
		if (r->len >= RESPONSE_CHUNK_MIN)
			response_drain(r, COMPRESS_MORE);
	}
	return r->broken ? -1 : 0;
}

void
response_flush(struct response *r)
{
	if (r->mode == RESPONSE_DONE || r->broken || !r->have_headers)
		return;
	if (response_is_head(r) || !response_status_has_body(r->status))
		return;		/* nothing to stream; the head goes at the end */
	if (r->mode == RESPONSE_BUFFERING)
		response_start(r, false);
	response_drain(r, COMPRESS_FLUSH);
}

void
response_finish(struct response *r)
{
	if (r->mode == RESPONSE_DONE)
		return;
	if (!r->have_headers) {
		/* PHP never got as far as sending headers (startup failed). */
		(void)response_fail(r, 500);
		return;
	}
	if (r->mode == RESPONSE_BUFFERING)
		response_start(r, true);
	else {
		response_drain(r, COMPRESS_END);
		if (r->framing == RESPONSE_CHUNKED) {
			struct iovec iov = { "0\r\n\r\n", 5 };

			(void)response_sendv(r, &iov, 1);
		}
	}
	if (r->framing == RESPONSE_LENGTH && r->body_sent < r->length) {
		log_warn("script wrote %" PRIu64 " bytes, less than its "
		    "Content-Length %" PRIu64 ": connection will be closed",
		    r->body_sent, r->length);
		r->truncated = true;
	}
	r->mode = RESPONSE_DONE;
}

bool
response_fail(struct response *r, int status)
{
	char page[512];
	int n;

	if (r->mode == RESPONSE_DONE)
		return false;	/* already complete, e.g. fastcgi_finish_request() */
	if (r->sent > 0 || r->mode != RESPONSE_BUFFERING) {
		/* Part of the response is out: the only honest signal left is
		 * an incomplete body (no last chunk) and a closed connection. */
		r->mode = RESPONSE_DONE;
		r->truncated = true;
		return false;
	}
	r->head_len = 0;
	r->len = 0;
	r->body_total = 0;
	r->script_length = -1;
	r->script_close = false;
	r->has_date = r->has_server = false;
	r->type_ok = r->encoded = false;
	response_set_status(r, status);
	response_add_header(r, "Content-Type: text/html; charset=UTF-8", 38);
	response_add_header(r, "Cache-Control: no-store", 23);
	r->have_headers = true;
	n = snprintf(page, sizeof(page),
	    "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
	    "<body><h1>%s</h1></body></html>\n", r->status,
	    response_reason(r->status), response_reason(r->status));
	if (n > 0 && (size_t)n < sizeof(page))
		(void)response_write(r, page, (size_t)n);
	response_finish(r);
	return true;
}

bool
response_keepalive(const struct response *r)
{
	return r->mode == RESPONSE_DONE && !r->close_after && !r->broken &&
	    !r->truncated;
}
