/*
 * conn.c - client connections in the supervisor.
 *
 * The supervisor reads every request head (and body, up to the limits)
 * itself, under deadlines, so a slow or hostile client never occupies a
 * worker.  Parsing is two layers: frame.c checks the raw bytes strictly
 * (line structure, folding, chunked framing, trailers) and decodes chunked
 * bodies; libhttp-parser reads the request line and header semantics of
 * what frame.c let through (frame.c says why both).  This file enforces
 * limits, routes a complete request (route.c) to an answer of its own
 * (errors, redirects, static files through static.c) or to a worker,
 * describing it to reqbuild.c, which makes the worker's message, and
 * takes a connection back from a worker for the next keep-alive request.
 *
 * Closed connections are freed through loop_free_later(), after the
 * current epoll batch, since a later event in the same batch may still
 * point at them.
 */
#include "conn.h"
#include "accesslog.h"
#include "cache.h"
#include "ctl.h"
#include "dispatch.h"
#include "errpage.h"
#include "frame.h"
#include "listen.h"
#include "log.h"
#include "pool.h"
#include "proxy.h"
#include "reqbuild.h"
#include "route.h"
#include "site.h"
#include "static.h"
#include "status.h"
#include "sup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>


#define CONN_READ_CHUNK		16384
#define CONN_IN_CAP		(2 * CONN_READ_CHUNK)
#define CONN_BODY_INLINE	(32 * 1024)	/* larger bodies go in a spool */
#define CONN_LINGER_MS		2000
#define CONN_WRITE_MS		60000		/* no write progress: give up */
#define CONN_OUT_KEEP		(32 * 1024)	/* output buffer kept between
						 * answers; a larger one (a
						 * page cache hit) is freed */

static LIST_HEAD(, conn) conn_all = LIST_HEAD_INITIALIZER(conn_all);
static int conn_n;
static http_parser_settings conn_settings;
static struct ctl_params conn_params;

static void conn_on_event(struct loop_ev *ev, uint32_t events);
static void conn_parse(struct conn *c);
static void conn_close(struct conn *c);
static void conn_destroy(void *p);
static void conn_linger(struct conn *c);
static void conn_next_request(struct conn *c);

const char *
conn_reason(int status)
{
	switch (status) {
#define XX(num, name, string) case num: return #string;
	HTTP_STATUS_MAP(XX)
#undef XX
	}
	return "Unknown";
}

int
conn_count(void)
{
	return conn_n;
}

int
conn_need_worker(void)
{
	struct conn *c;
	int n = 0;

	LIST_FOREACH(c, &conn_all, link) {
		switch (c->state) {
		case CONN_BODY:
		case CONN_QUEUED:
			n++;
			break;
		case CONN_HEAD:
			if (c->parsing || c->in_off < c->in_len ||
			    c->requests == 0)
				n++;
			break;
		default:
			break;
		}
	}
	return n;
}

void
conn_close_idle(void)
{
	struct conn *c, *next;

	for (c = LIST_FIRST(&conn_all); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->state == CONN_HEAD && !c->parsing &&
		    c->in_off >= c->in_len && c->requests > 0)
			conn_close(c);
	}
}

/* --- request storage ------------------------------------------------ */

/* Append n bytes to a growing buffer (capacity doubles, from first). */
static int
conn_buf_append(char **buf, size_t *len, size_t *cap, size_t first,
    const void *p, size_t n)
{
	if (*len + n > *cap) {
		size_t ncap = *cap ? *cap : first;
		char *nb;

		while (ncap < *len + n)
			ncap *= 2;
		if ((nb = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

static int
conn_hbuf_append(struct conn *c, const char *p, size_t n)
{
	if (c->hlen + n > sup.cfg->head_max) {
		c->error_status = c->head_done ? 431 :
		    (c->nhdrs == 0 && !c->in_value ? 414 : 431);
		return -1;
	}
	if (conn_buf_append(&c->hbuf, &c->hlen, &c->hcap, 1024, p, n) < 0) {
		c->error_status = 503;
		return -1;
	}
	return 0;
}

static void
conn_reset_request(struct conn *c)
{
	c->hlen = 0;
	c->url_len = 0;
	c->nhdrs = 0;
	c->in_value = 0;
	c->head_done = c->msg_done = 0;
	c->chunked = 0;
	c->host_len = c->host_name_len = 0;
	c->absolute_form = 0;
	c->keepalive = 0;
	c->expect_continue = 0;
	c->error_status = 0;
	c->body_len = 0;
	spool_close(&c->body_spool);
	if (c->body_cap > CONN_BODY_INLINE) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	c->parsing = 0;
	c->status = 0;
	c->close_after = 0;
	c->out_prior = 0;
	c->out_worker = 0;
	c->file_start = 0;
	free(c->msg);
	c->msg = NULL;
	c->msg_len = 0;
	cache_forget(c);
	c->cache_flags = 0;
	c->cache_result = NULL;
}

const char *
conn_header(struct conn *c, const char *name, size_t *lenp)
{
	size_t nl = strlen(name);
	int i;

	for (i = 0; i < c->nhdrs; i++) {
		struct conn_hdr *h = &c->hdrs[i];

		if (h->name_len == nl &&
		    strncasecmp(c->hbuf + h->name, name, nl) == 0) {
			if (lenp)
				*lenp = h->value_len;
			return c->hbuf + h->value;
		}
	}
	return NULL;
}

/* --- parser callbacks ----------------------------------------------- */

static int
conn_on_url(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;

	if (conn_hbuf_append(c, at, n) < 0)
		return -1;
	c->url_len += (uint32_t)n;
	return 0;
}

/* Field names and values reach these callbacks only after frame_head()
 * found their lines well-formed (token names, no control bytes, no
 * folding), so they only store. */
static int
conn_on_header_field(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;
	struct conn_hdr *h;

	if (c->nhdrs == 0 || c->in_value) {
		if (c->nhdrs >= sup.cfg->headers_max) {
			c->error_status = 431;
			return -1;
		}
		if (c->nhdrs == c->hdrs_cap) {
			int cap = c->hdrs_cap ? c->hdrs_cap * 2 : 16;
			struct conn_hdr *nh;

			nh = realloc(c->hdrs, (size_t)cap * sizeof(*nh));
			if (nh == NULL) {
				c->error_status = 503;
				return -1;
			}
			c->hdrs = nh;
			c->hdrs_cap = cap;
		}
		h = &c->hdrs[c->nhdrs++];
		h->name = (uint32_t)c->hlen;
		h->name_len = 0;
		h->value = 0;
		h->value_len = 0;
		c->in_value = 0;
	}
	h = &c->hdrs[c->nhdrs - 1];
	if (conn_hbuf_append(c, at, n) < 0)
		return -1;
	h->name_len += (uint32_t)n;
	return 0;
}

static int
conn_on_header_value(http_parser *p, const char *at, size_t n)
{
	struct conn *c = p->data;
	struct conn_hdr *h = &c->hdrs[c->nhdrs - 1];

	if (!c->in_value) {
		c->in_value = 1;
		h->value = (uint32_t)c->hlen;
	}
	if (conn_hbuf_append(c, at, n) < 0)
		return -1;
	h->value_len += (uint32_t)n;
	return 0;
}

/* How many fields are named name; *vp, *lenp: the first one's value. */
static int
conn_header_count(struct conn *c, const char *name, const char **vp,
    size_t *lenp)
{
	size_t nl = strlen(name);
	int i, n = 0;

	for (i = 0; i < c->nhdrs; i++) {
		struct conn_hdr *h = &c->hdrs[i];

		if (h->name_len != nl ||
		    strncasecmp(c->hbuf + h->name, name, nl) != 0)
			continue;
		if (n++ == 0) {
			*vp = c->hbuf + h->value;
			*lenp = h->value_len;
		}
	}
	return n;
}

/*
 * The request's host: an absolute-form target's authority, which RFC 9112
 * 3.2.2 puts before the Host field, else the Host field.  Either must be a
 * valid host[:port], and Host may appear once only: a second one, joined
 * to the first, could name another host to PHP than to a front proxy.
 */
static int
conn_check_host(struct conn *c, http_parser *p)
{
	const char *v = NULL, *url = c->hbuf;
	size_t vl = 0, skip = 0, hn;
	int n = conn_header_count(c, "Host", &v, &vl);

	if (n > 1 || (n == 0 && p->http_minor >= 1))
		return -1;
	if (n == 1) {
		if ((hn = frame_host(v, vl)) == 0)
			return -1;
		c->host_off = (uint32_t)(v - c->hbuf);
		c->host_len = (uint32_t)vl;
		c->host_name_len = (uint32_t)hn;
	}
	if (c->url_len > 7 && strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (c->url_len > 8 && strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	if (skip) {
		const char *a = url + skip, *end = a;

		while (end < url + c->url_len && *end != '/' && *end != '?' &&
		    *end != '#')
			end++;
		if ((hn = frame_host(a, (size_t)(end - a))) == 0)
			return -1;
		c->host_off = (uint32_t)skip;
		c->host_len = (uint32_t)(end - a);
		c->host_name_len = (uint32_t)hn;
		c->absolute_form = 1;
	}
	return 0;
}

static int
conn_on_headers_complete(http_parser *p)
{
	struct conn *c = p->data;
	const char *v = NULL;
	size_t vl = 0;
	int i, te;

	c->head_done = 1;
	/* Trailing whitespace is not part of a field value (RFC 9112 5). */
	for (i = 0; i < c->nhdrs; i++) {
		struct conn_hdr *h = &c->hdrs[i];

		while (h->value_len > 0 && (c->hbuf[h->value + h->value_len - 1]
		    == ' ' || c->hbuf[h->value + h->value_len - 1] == '\t'))
			h->value_len--;
	}
	if (p->method == HTTP_CONNECT) {
		c->error_status = 405;
		return -1;
	}
	if (p->http_major != 1) {
		c->error_status = 505;
		return -1;
	}
	/* Transfer-Encoding: "chunked", once, in HTTP/1.1, without
	 * Content-Length; anything else may be framed differently by a
	 * proxy in front (RFC 9112 6.1, which nginx follows for HTTP/1.0). */
	te = conn_header_count(c, "Transfer-Encoding", &v, &vl);
	if (te > 0 && (p->http_minor == 0 || te > 1 || vl != 7 ||
	    strncasecmp(v, "chunked", 7) != 0 ||
	    conn_header(c, "Content-Length", NULL) != NULL)) {
		c->error_status = 400;
		return -1;
	}
	if ((te > 0) != ((p->flags & F_CHUNKED) != 0)) {
		c->error_status = 400;
		return -1;
	}
	c->chunked = te > 0;
	if (conn_check_host(c, p) < 0) {
		c->error_status = 400;
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > sup.cfg->body_max) {
		c->error_status = 413;
		return -1;
	}
	if ((v = conn_header(c, "Expect", &vl)) != NULL) {
		if (vl != 12 || strncasecmp(v, "100-continue", 12) != 0) {
			c->error_status = 417;
			return -1;
		}
		c->expect_continue = p->http_minor >= 1;
	}
	c->state = CONN_BODY;
	c->deadline = loop_now_ms() + (uint64_t)sup.cfg->body_timeout_ms;
	if (c->expect_continue && (c->chunked ||
	    ((p->flags & F_CONTENTLENGTH) && p->content_length > 0))) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		/* Best effort: a full socket buffer only delays the client. */
		(void)!send(c->ev.fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL);
	}
	if (c->chunked) {
		/* frame.c reads the body; to http-parser it has none */
		frame_chunked_init(&c->frame, sup.cfg->body_max,
		    sup.cfg->head_max);
		return 1;
	}
	return 0;
}

/*
 * The body read so far moves from the connection's buffer to its spool,
 * which the worker gets as a descriptor: a memfd up to limits.body_buffer,
 * an unlinked file of temp_dir beyond, so the bodies clients are sending
 * (or never finish) cost at most connections x body_buffer of memory.
 * more is what the announced Content-Length says is still to come (0 when
 * unknown, as for a chunked body): a body known to pass the bound starts
 * on disk instead of being copied there half-way.
 */
static int
conn_body_spill(struct conn *c, uint64_t more)
{
	if (spool_begin(&c->body_spool, sup.cfg->temp_dir,
	    c->body_len + more > sup.cfg->body_buffer) < 0)
		return -1;
	if (spool_write(&c->body_spool, c->body, c->body_len,
	    sup.cfg->temp_dir, sup.cfg->body_buffer) < 0) {
		spool_close(&c->body_spool);
		return -1;
	}
	return 0;
}

static void
conn_body_failed(struct conn *c, const char *what)
{
	log_err("%s:%s: request body of %zu bytes: %s (temp_dir %s): %s",
	    c->peer_addr, c->peer_port, c->body_len, what, sup.cfg->temp_dir,
	    strerror(errno));
	c->error_status = 503;
}

/* Body bytes, from http-parser (Content-Length) or frame.c (chunked). */
static int
conn_body_add(void *arg, const char *at, size_t n)
{
	struct conn *c = arg;
	const http_parser *p = &c->parser;

	if (c->body_len + n > sup.cfg->body_max) {
		c->error_status = 413;
		return -1;
	}
	if (c->body_spool.fd < 0 && c->body_len + n > CONN_BODY_INLINE) {
		/* The parser counts content_length down as it hands the
		 * body over; it is a hint here, nothing depends on it. */
		uint64_t more = (p->flags & F_CONTENTLENGTH) &&
		    !(p->flags & F_CHUNKED) ? n + p->content_length : n;

		if (conn_body_spill(c, more) < 0) {
			conn_body_failed(c, "spooling");
			return -1;
		}
	}
	if (c->body_spool.fd < 0) {
		if (conn_buf_append(&c->body, &c->body_len, &c->body_cap, 4096,
		    at, n) < 0) {
			c->error_status = 503;
			return -1;
		}
		return 0;
	}
	if (spool_write(&c->body_spool, at, n, sup.cfg->temp_dir,
	    sup.cfg->body_buffer) < 0) {
		conn_body_failed(c, "write");
		return -1;
	}
	c->body_len += n;
	return 0;
}

static int
conn_on_body(http_parser *p, const char *at, size_t n)
{
	return conn_body_add(p->data, at, n);
}

static int
conn_on_message_complete(http_parser *p)
{
	struct conn *c = p->data;

	/* A chunked message is complete when frame.c has read its body. */
	c->msg_done = !c->chunked;
	c->keepalive = http_should_keep_alive(p);
	/* Stop here: bytes after this message belong to the next request. */
	http_parser_pause(p, 1);
	return 0;
}

void
conn_init_parser_settings(void)
{
	http_parser_settings_init(&conn_settings);
	conn_settings.on_url = conn_on_url;
	conn_settings.on_header_field = conn_on_header_field;
	conn_settings.on_header_value = conn_on_header_value;
	conn_settings.on_headers_complete = conn_on_headers_complete;
	conn_settings.on_body = conn_on_body;
	conn_settings.on_message_complete = conn_on_message_complete;
	/* Our own limit (limits.head) is checked on the stored bytes; the
	 * parser's counts whitespace too, so give it a little more room. */
	http_parser_set_max_header_size((uint32_t)sup.cfg->head_max + 4096);
}

/* --- output --------------------------------------------------------- */

int
conn_out_append(struct conn *c, const void *p, size_t n)
{
	return conn_buf_append(&c->out, &c->out_len, &c->out_cap, 1024, p, n);
}

int
conn_out_printf(struct conn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return conn_out_append(c, buf, (size_t)n);
}

/* Returns 1 when everything is written, 0 when blocked, -1 on error. */
static int
conn_flush(struct conn *c)
{
again:
	while (c->out_off < c->out_len) {
		/* MSG_MORE: headers and the file's first bytes share a
		 * segment instead of waiting for the client's ACK. */
		ssize_t w = send(c->ev.fd, c->out + c->out_off,
		    c->out_len - c->out_off, MSG_NOSIGNAL |
		    ((c->file_fd >= 0 && c->file_off < c->file_end) ||
		    c->parts ? MSG_MORE : 0));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->out_off += (size_t)w;
		c->deadline = loop_now_ms() + CONN_WRITE_MS;
	}
	while (c->file_fd >= 0 && c->file_off < c->file_end) {
		ssize_t w = sendfile(c->ev.fd, c->file_fd, &c->file_off,
		    (size_t)(c->file_end - c->file_off));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (w == 0)
			return -1;	/* file shrank under us */
		c->deadline = loop_now_ms() + CONN_WRITE_MS;
	}
	if (c->parts && static_parts_next(c))
		goto again;	/* the next part of a multipart answer */
	return 1;
}

static uint64_t
conn_usec_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
conn_request_usec(const struct conn *c)
{
	return c->req_start_us ? conn_usec_now() - c->req_start_us : 0;
}

/* Bytes of the current response the client was given, by a worker and
 * by us. */
static uint64_t
conn_out_sent(const struct conn *c)
{
	return c->out_prior + (uint64_t)c->out_off + (c->file_fd >= 0 ?
	    (uint64_t)(c->file_off - c->file_start) : 0);
}

static void
conn_write_done(struct conn *c)
{
	if (c->status) {
		accesslog_response(c, c->status, conn_out_sent(c),
		    c->out_worker);
		sup_observe_latency(conn_request_usec(c));
	}
	c->out_len = c->out_off = 0;
	if (c->out_cap > CONN_OUT_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	static_parts_free(c);
	if (c->close_after || !c->keepalive || sup.draining)
		conn_linger(c);
	else
		conn_next_request(c);
}

void
conn_start_write(struct conn *c)
{
	int r;

	c->state = CONN_WRITE;
	c->deadline = loop_now_ms() + CONN_WRITE_MS;
	r = conn_flush(c);
	if (r < 0) {
		conn_close(c);
		return;
	}
	if (r == 1) {
		conn_write_done(c);
		return;
	}
	if (loop_watch(&c->ev, EPOLLOUT) < 0)
		conn_close(c);
}

static const char *
conn_http_date(void)
{
	static char buf[64];
	static time_t last;
	time_t now = time(NULL);

	if (now != last) {
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

static void
conn_send_status(struct conn *c, int status, int keep)
{
	size_t blen;
	const char *body = errpage_body(status, &blen);

	if (!keep)
		c->close_after = 1;
	c->status = status;
	sup_count_response(status, 0);
	c->out_len = c->out_off = 0;
	conn_out_printf(c, "HTTP/1.1 %d %s\r\nServer: mwsup\r\nDate: %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n%s%s\r\n",
	    status, conn_reason(status), conn_http_date(), blen,
	    status == 503 ? "Retry-After: 1\r\n" : "",
	    c->close_after || !c->keepalive || sup.draining ?
	    "Connection: close\r\n" : "");
	if (c->parser.method != HTTP_HEAD || !c->msg_done)
		conn_out_append(c, body, blen);
	if (status >= 500)
		log_warn("%s:%s: answered %d", conn_client_text(c),
		    c->client_port, status);
	conn_start_write(c);
}

/* 301 to location (a path, checked by route.c), with a line to follow. */
static void
conn_redirect(struct conn *c, const char *location)
{
	char body[128];
	int blen;

	blen = snprintf(body, sizeof(body),
	    "<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title>"
	    "</head><body><h1>301 Moved Permanently</h1></body></html>\n");
	c->status = 301;
	sup_count_response(301, 0);
	c->out_len = c->out_off = 0;
	conn_out_printf(c, "HTTP/1.1 301 Moved Permanently\r\nServer: mwsup\r\n"
	    "Date: %s\r\nLocation: %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %d\r\n%s\r\n", conn_http_date(), location, blen,
	    !c->keepalive ? "Connection: close\r\n" : "");
	if (c->parser.method != HTTP_HEAD)
		conn_out_append(c, body, (size_t)blen);
	conn_start_write(c);
}

void
conn_error(struct conn *c, int status)
{
	conn_send_status(c, status, 0);
}

void
conn_error_keep(struct conn *c, int status)
{
	conn_send_status(c, status, 1);
}

/* --- the worker side ------------------------------------------------ */

/*
 * The request as reqbuild.c describes it: the parsed head, the route,
 * the connection's addresses.  Points into c and r.
 */
static void
conn_describe(struct conn *c, const struct route *r, struct reqbuild *rb,
    struct reqbuild_field *fields)
{
	int i;

	for (i = 0; i < c->nhdrs; i++) {
		fields[i].name = c->hbuf + c->hdrs[i].name;
		fields[i].name_len = c->hdrs[i].name_len;
		fields[i].value = c->hbuf + c->hdrs[i].value;
		fields[i].value_len = c->hdrs[i].value_len;
	}
	memset(rb, 0, sizeof(*rb));
	rb->id = c->req_id;
	rb->http_minor = c->parser.http_minor;
	if (c->parser.method == HTTP_HEAD)
		rb->flags |= CTL_REQ_HEAD;
	if (c->keepalive && !sup.draining)
		rb->flags |= CTL_REQ_KEEPALIVE;
	if (c->parser.http_minor >= 1)
		rb->flags |= CTL_REQ_CHUNKED_OK;
	rb->flags |= c->cache_flags;
	rb->method = http_method_str(c->parser.method);
	rb->target = c->hbuf;
	rb->target_len = c->url_len;
	rb->script_filename = r->script_filename;
	rb->script_name = r->script_name;
	rb->path_info = r->has_path_info ? r->path_info : NULL;
	rb->document_root = sup.cfg->mw_root;
	if (sup.cfg->server_name) {
		rb->server_name = sup.cfg->server_name;
		rb->server_name_len = strlen(rb->server_name);
	} else if (c->host_len > 0) {
		rb->server_name = c->hbuf + c->host_off;
		rb->server_name_len = c->host_name_len;
	} else {
		rb->server_name = c->local_addr;
		rb->server_name_len = strlen(c->local_addr);
	}
	rb->server_addr = c->local_addr;
	rb->server_port = c->local_port;
	rb->remote_addr = c->client_addr;
	rb->remote_port = c->client_port;
	rb->https = c->https;
	rb->content_length = c->body_len > 0 ||
	    conn_header(c, "Content-Length", NULL) || c->chunked;
	rb->fields = fields;
	rb->nfields = c->nhdrs;
	rb->drop = proxy_untrusted_headers(c);
	rb->host = c->hbuf + c->host_off;
	rb->host_len = c->host_len;
	rb->host_from_target = c->absolute_form;
	rb->body = c->body;
	rb->body_len = c->body_len;
}

/* The message for a worker (reqbuild.c); a body too large for it goes
 * to the spool first. */
static int
conn_build_request(struct conn *c, const struct route *r, char **msgp,
    size_t *lenp)
{
	struct reqbuild rb;
	struct reqbuild_field *fields;
	int rc = -1;

	if ((fields = calloc((size_t)c->nhdrs + 1, sizeof(*fields))) == NULL)
		return -1;
	conn_describe(c, r, &rb, fields);
	if (reqbuild_params(&rb, &conn_params) < 0)
		goto out;
	if (!reqbuild_fits(&conn_params, 0)) {
		c->error_status = 431;
		goto out;
	}
	if (c->body_spool.fd < 0 && !reqbuild_fits(&conn_params, c->body_len) &&
	    conn_body_spill(c, 0) < 0) {
		conn_body_failed(c, "spooling");
		goto out;
	}
	rb.body_in_fd = c->body_spool.fd >= 0;
	rc = reqbuild_message(&rb, &conn_params, msgp, lenp);
out:
	free(fields);
	return rc;
}

static struct route conn_route;

int
conn_site(const struct conn *c)
{
	return site_choose(sup.cfg, c->hbuf + c->host_off,
	    c->host_len > 0 ? c->host_name_len : 0);
}

void
conn_request_ready(struct conn *c)
{
	c->deadline = 0;
	c->req_id = ++sup.next_request_id;
	proxy_resolve(c);
	if (status_http(c) || cache_purge_request(c))
		return;
	c->site = conn_site(c);
	route_request(sup.cfg, c->site, c->hbuf, c->url_len, &conn_route);
	switch (conn_route.kind) {
	case ROUTE_ERROR:
		if (conn_route.status == 404 || conn_route.status == 403)
			conn_error_keep(c, conn_route.status);
		else
			conn_error(c, conn_route.status);
		return;
	case ROUTE_REDIRECT:
		conn_redirect(c, conn_route.location);
		return;
	case ROUTE_STATIC:
		if (static_serve(c, &conn_route) == 0)
			return;
		route_thumb_handler(sup.cfg, &conn_route);
		if (conn_route.kind == ROUTE_ERROR) {
			conn_error(c, conn_route.status);
			return;
		}
		break;
	case ROUTE_PHP:
		if (cache_lookup(c))
			return;
		break;
	}
	if (conn_build_request(c, &conn_route, &c->msg, &c->msg_len) < 0) {
		if (!c->error_status)
			log_err("request for a worker: %s", strerror(errno));
		conn_error(c, c->error_status ? c->error_status : 503);
		return;
	}
	loop_watch(&c->ev, 0);
	c->state = CONN_QUEUED;
	dispatch_submit(c);
}

void
conn_worker_done(struct conn *c, int keepalive, int status, uint64_t bytes,
    pid_t worker, int rest_fd, uint64_t rest_off, uint64_t rest_len)
{
	c->worker = NULL;
	cache_forget(c);	/* requests waiting for this answer go on */
	c->keepalive = keepalive;
	if (rest_fd >= 0 && rest_len > 0) {
		/* The client has not taken all of it: the rest goes from the
		 * worker's spool under our write deadline, and the access log
		 * line waits for its end (conn_write_done, conn_close). */
		c->status = status;
		c->close_after = !keepalive;
		c->out_prior = bytes;
		c->out_worker = worker;
		c->out_len = c->out_off = 0;
		c->file_fd = rest_fd;
		c->file_start = c->file_off = (off_t)rest_off;
		c->file_end = (off_t)(rest_off + rest_len);
		conn_start_write(c);
		return;
	}
	if (rest_fd >= 0)
		close(rest_fd);
	accesslog_response(c, status, bytes, worker);
	sup_observe_latency(conn_request_usec(c));
	if (keepalive && !sup.draining)
		conn_next_request(c);
	else
		conn_linger(c);
}

void
conn_worker_failed(struct conn *c, int status, int nothing_sent)
{
	c->worker = NULL;
	cache_forget(c);
	if (nothing_sent)
		conn_error(c, status);
	else
		conn_close(c);
}

/* --- reading ---------------------------------------------------------- */

static void
conn_next_request(struct conn *c)
{
	c->requests++;
	conn_reset_request(c);
	c->state = CONN_HEAD;
	c->deadline = loop_now_ms() + (uint64_t)sup.cfg->keepalive_timeout_ms;
	if (c->in_off < c->in_len) {
		conn_parse(c);		/* pipelined bytes already here */
		if (c->state != CONN_HEAD && c->state != CONN_BODY)
			return;
	}
	if (c->state == CONN_HEAD || c->state == CONN_BODY)
		if (loop_watch(&c->ev, EPOLLIN | EPOLLRDHUP) < 0)
			conn_close(c);
}

static int
conn_frame_status(enum frame_result r)
{
	switch (r) {
	case FRAME_TOO_LARGE:
		return 413;
	case FRAME_FIELDS_TOO_LARGE:
		return 431;
	default:
		return 400;
	}
}

/* Give n bytes to http-parser; 0, or -1 once an error was answered. */
static int
conn_parser_feed(struct conn *c, const char *p, size_t n, size_t *used)
{
	enum http_errno err;

	*used = http_parser_execute(&c->parser, &conn_settings, p, n);
	err = HTTP_PARSER_ERRNO(&c->parser);
	if (c->error_status) {
		conn_error(c, c->error_status);
		return -1;
	}
	if (err == HPE_PAUSED) {
		http_parser_pause(&c->parser, 0);
	} else if (err != HPE_OK) {
		conn_error(c, err == HPE_HEADER_OVERFLOW ? 431 : 400);
		return -1;
	}
	return 0;
}

/*
 * The PROXY header a proxy_protocol listener requires before the first
 * request: 1 once taken (the peer is now the client it names), 0 for
 * more bytes, -1 when c was closed for a bad one.
 */
static int
conn_proxy_header(struct conn *c)
{
	struct proxy_hdr h;
	const char *why;
	int n = proxy_parse(c->in + c->in_off, c->in_len - c->in_off, &h,
	    &why);

	if (n == 0)
		return 0;
	if (n < 0) {
		log_warn("%s:%s: %s on a proxy_protocol listener; closed",
		    conn_client_text(c), c->peer_port, why);
		conn_close(c);
		return -1;
	}
	c->in_off += (size_t)n;
	c->proxy_wait = 0;
	if (!h.local) {
		memcpy(c->peer_addr, h.addr, sizeof(c->peer_addr));
		memcpy(c->peer_port, h.port, sizeof(c->peer_port));
		c->peer_unix = 0;
	}
	c->peer_ssl = h.ssl;
	memcpy(c->client_addr, c->peer_addr, sizeof(c->client_addr));
	memcpy(c->client_port, c->peer_port, sizeof(c->client_port));
	c->client_unix = c->peer_unix;
	return 1;
}

const char *
conn_client_text(const struct conn *c)
{
	return c->client_unix ? "unix:" : c->client_addr;
}

static void
conn_parse(struct conn *c)
{
	while ((c->state == CONN_HEAD || c->state == CONN_BODY) &&
	    c->in_off < c->in_len) {
		const char *p;
		size_t avail, give, n;
		enum frame_result fr = FRAME_MORE;

		if (c->proxy_wait) {
			int rc = conn_proxy_header(c);

			if (rc < 0)
				return;
			if (rc == 0)
				break;
			continue;
		}

		if (!c->parsing) {
			conn_reset_request(c);
			http_parser_init(&c->parser, HTTP_REQUEST);
			c->parser.data = c;
			frame_head_init(&c->frame);
			c->parsing = 1;
			c->req_start = loop_now_ms();
			c->req_start_us = conn_usec_now();
			c->deadline = c->req_start +
			    (uint64_t)sup.cfg->header_timeout_ms;
		}
		p = c->in + c->in_off;
		avail = c->in_len - c->in_off;
		if (c->chunked) {
			fr = frame_chunked(&c->frame, p, avail, &n,
			    conn_body_add, c);
			c->in_off += n;
			if (c->error_status) {
				conn_error(c, c->error_status);
				return;
			}
			if (fr != FRAME_MORE && fr != FRAME_DONE) {
				conn_error(c, conn_frame_status(fr));
				return;
			}
			c->msg_done = fr == FRAME_DONE;
		} else {
			/* Head bytes reach http-parser only once frame.c has
			 * passed them; body bytes (Content-Length) directly. */
			give = avail;
			if (!c->head_done)
				fr = frame_head(&c->frame, p, avail, &give);
			if (conn_parser_feed(c, p, give, &n) < 0)
				return;
			c->in_off += n;
			/* A bad byte, or a head whose end the two parsers do
			 * not agree on. */
			if (fr == FRAME_BAD || (fr == FRAME_DONE && !c->head_done)) {
				conn_error(c, 400);
				return;
			}
		}
		if (c->msg_done) {
			c->parsing = 0;
			conn_request_ready(c);
			break;
		}
		if (n == 0)
			break;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

static void
conn_read(struct conn *c)
{
	for (;;) {
		ssize_t r;

		/* The parser consumes all it is given until a request is
		 * complete, and we stop reading then: the buffer never holds
		 * more than one read beyond the current request. */
		if (c->in_off > 0) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		if (c->in == NULL) {
			if ((c->in = malloc(CONN_IN_CAP)) == NULL) {
				conn_close(c);
				return;
			}
			c->in_cap = CONN_IN_CAP;
		}
		if (c->in_len == c->in_cap) {
			conn_error(c, 431);
			return;
		}
		r = recv(c->ev.fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_close(c);
			return;
		}
		if (r == 0) {
			/* EOF before a whole request: nobody waits for an
			 * answer.  A proxy's health check may connect and
			 * close; half a PROXY header is worth a line. */
			if (c->proxy_wait && c->in_len > c->in_off)
				log_warn("%s:%s: connection closed in its PROXY "
				    "header", conn_client_text(c),
				    c->peer_port);
			conn_close(c);
			return;
		}
		c->in_len += (size_t)r;
		conn_parse(c);
		if (c->state != CONN_HEAD && c->state != CONN_BODY)
			return;
		if ((size_t)r < CONN_READ_CHUNK)
			break;
	}
}

static void
conn_on_event(struct loop_ev *ev, uint32_t events)
{
	struct conn *c = ev->data;

	switch (c->state) {
	case CONN_HEAD:
	case CONN_BODY:
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_read(c);
		break;
	case CONN_WRITE:
		if (events & (EPOLLERR | EPOLLHUP)) {
			conn_close(c);
			break;
		}
		switch (conn_flush(c)) {
		case -1:
			conn_close(c);
			break;
		case 1:
			conn_write_done(c);
			break;
		}
		break;
	case CONN_LINGER: {
		char buf[4096];
		ssize_t r;

		while ((r = recv(c->ev.fd, buf, sizeof(buf), 0)) > 0)
			;
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		break;
	}
	default:
		break;
	}
}

/* After the last response: stop sending, let the client's unread bytes
 * drain so the kernel does not answer them with a reset that could destroy
 * the response in flight, then close. */
static void
conn_linger(struct conn *c)
{
	c->state = CONN_LINGER;
	c->deadline = loop_now_ms() + CONN_LINGER_MS;
	if (shutdown(c->ev.fd, SHUT_WR) < 0 ||
	    loop_watch(&c->ev, EPOLLIN | EPOLLRDHUP) < 0)
		conn_close(c);
}

static void
conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	if (c->in_queue)
		dispatch_cancel(c);
	/* A response cut short (client gone, no progress for CONN_WRITE_MS)
	 * is logged with the bytes it got. */
	if (c->state == CONN_WRITE && c->status)
		accesslog_response(c, c->status, conn_out_sent(c),
		    c->out_worker);
	cache_forget(c);
	loop_watch(&c->ev, 0);
	close(c->ev.fd);
	c->ev.fd = -1;
	c->state = CONN_CLOSED;
	LIST_REMOVE(c, link);
	loop_free_later(&c->ev, conn_destroy);
	conn_n--;
	SUP_SET(connections, (uint64_t)conn_n);
	listen_resume_if_paused();
}

static void
conn_destroy(void *p)
{
	struct conn *c = p;

	cache_forget(c);
	spool_close(&c->body_spool);
	if (c->file_fd >= 0)
		close(c->file_fd);
	static_parts_free(c);
	free(c->in);
	free(c->hbuf);
	free(c->hdrs);
	free(c->body);
	free(c->out);
	free(c->msg);
	free(c);
}

void
conn_tick(void)
{
	struct conn *c, *next;
	uint64_t now = loop_now_ms();

	for (c = LIST_FIRST(&conn_all); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->deadline == 0 || now < c->deadline)
			continue;
		switch (c->state) {
		case CONN_HEAD:
			if (c->proxy_wait)
				log_warn("%s:%s: no PROXY header within "
				    "timeouts.header on a proxy_protocol "
				    "listener; closed", conn_client_text(c),
				    c->peer_port);
			if (c->parsing && c->hlen + c->in_len > 0)
				conn_error(c, 408);
			else
				conn_close(c);
			break;
		case CONN_BODY:
			conn_error(c, 408);
			break;
		default:
			conn_close(c);
			break;
		}
	}
}

static void
conn_addr_text(const struct sockaddr_storage *ss, char *addr, size_t acap,
    char *port, size_t pcap)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)acap);
		snprintf(port, pcap, "%u", ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)acap);
		/* v4-mapped: show the IPv4 form, as MediaWiki expects */
		if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.'))
			memmove(addr, addr + 7, strlen(addr + 7) + 1);
		snprintf(port, pcap, "%u", ntohs(s6->sin6_port));
	} else {
		/* unix socket: MediaWiki needs a valid IP, and none it could
		 * take for a trusted or local host (127.0.0.1 is both in
		 * many settings): "this network", which no client has */
		snprintf(addr, acap, "0.0.0.0");
		snprintf(port, pcap, "0");
	}
}

int
conn_adopt(int fd, int is_unix, int proxy_protocol,
    const struct sockaddr_storage *peer)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_err("accept: out of memory");
		close(fd);
		return -1;
	}
	c->body_spool.fd = c->file_fd = -1;
	c->is_unix = c->peer_unix = is_unix;
	c->proxy_wait = proxy_protocol;
	if (!is_unix) {
		/* Responses are written whole, in as few writes as possible;
		 * Nagle would only hold back their last segment (and, with
		 * the client's delayed ACK, a keep-alive request by 40 ms). */
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		memset(&local, 0, sizeof(local));
	conn_addr_text(peer, c->peer_addr, sizeof(c->peer_addr),
	    c->peer_port, sizeof(c->peer_port));
	conn_addr_text(&local, c->local_addr, sizeof(c->local_addr),
	    c->local_port, sizeof(c->local_port));
	if (is_unix)
		snprintf(c->local_port, sizeof(c->local_port), "80");
	memcpy(c->client_addr, c->peer_addr, sizeof(c->client_addr));
	memcpy(c->client_port, c->peer_port, sizeof(c->client_port));
	c->client_unix = c->peer_unix;
	loop_ev_init(&c->ev, fd, conn_on_event, c);
	c->state = CONN_HEAD;
	c->deadline = loop_now_ms() + (uint64_t)sup.cfg->header_timeout_ms;
	LIST_INSERT_HEAD(&conn_all, c, link);
	conn_n++;
	SUP_SET(connections, (uint64_t)conn_n);
	if (loop_watch(&c->ev, EPOLLIN | EPOLLRDHUP) < 0) {
		log_err("epoll: %s", strerror(errno));
		conn_close(c);
		return -1;
	}
	return 0;
}

/*
 * Out of descriptors (or memory), accept() fails while the client waits
 * in the backlog; polling the socket again at once would spin.  Accepting
 * pauses briefly instead (listen.c), as nginx does, and clients are held,
 * then served.  Said once, not at every retry.
 */
static int conn_accept_starved;

void
conn_accept(int lfd, int is_unix, int proxy_protocol)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd;

		if (conn_n >= sup.cfg->connections_max) {
			listen_pause(0);
			return;
		}
		memset(&peer, 0, sizeof(peer));
		fd = accept4(lfd, (struct sockaddr *)&peer, &plen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				if (!conn_accept_starved)
					log_warn("accept: %s; pausing accepts",
					    strerror(errno));
				conn_accept_starved = 1;
				listen_pause(1);
			} else if (errno != EAGAIN)
				log_err("accept: %s", strerror(errno));
			return;
		}
		if (conn_accept_starved) {
			log_notice("accept: descriptors free again");
			conn_accept_starved = 0;
		}
		conn_adopt(fd, is_unix, proxy_protocol, &peer);
	}
}
