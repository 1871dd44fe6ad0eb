/*
 * frame.c - the strict half of request parsing.
 *
 * libhttp-parser 2.9 (the only HTTP/1 parser Debian 12 packages for C;
 * llhttp is not packaged, and http-parser is unmaintained upstream) is
 * built non-strict: it takes any byte for the LF after a CR and for the
 * CRLF after chunk data, reads trailers into the header list and folds
 * continuation lines.  Each of those lets a front proxy and mwsup see
 * different requests in the same bytes.  We keep http-parser for what it
 * does well (request line, method, target, version, Content-Length and
 * Connection semantics) and check the rest here, on the raw bytes, before
 * http-parser sees them: every head line is a well-formed field line
 * ending in CRLF (or LF), no line starts with whitespace, a lone CR is an
 * error.  Chunked bodies never reach http-parser at all: they are decoded
 * here, CRLF only, and their trailers are checked and thrown away, as
 * nginx does.  Each check is a state carried across calls, so how the
 * bytes were split between reads cannot change a verdict.
 */
#include "frame.h"

#include <arpa/inet.h>
#include <string.h>

#define FRAME_CHUNK_LINE_MAX	4096	/* chunk size plus extensions */

enum {
	/* a request head */
	FS_START,		/* before the request line: empty lines allowed */
	FS_START_CR,
	FS_REQLINE,
	FS_REQLINE_CR,
	/* field lines, in a head or a trailer section */
	FS_BOL,			/* at the start of a line */
	FS_NAME,
	FS_VALUE,
	FS_VALUE_CR,
	FS_END_CR,		/* CR of the blank line */
	FS_DONE,
	/* a chunked body */
	FC_SIZE0,		/* first hex digit of a chunk size */
	FC_SIZE,
	FC_EXT_WS,		/* whitespace before ';' */
	FC_EXT,			/* chunk extensions, ignored */
	FC_SIZE_CR,
	FC_DATA,
	FC_DATA_CR,
	FC_DATA_LF,
};

/* RFC 9110 token characters, the only ones allowed in a field name. */
static int
frame_is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* field-content: VCHAR, obs-text, SP and HTAB; no other control byte. */
static int
frame_is_field_char(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

int
frame_hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * One byte of a field section (head or trailers).  Returns 0 to go on,
 * 1 at the end of the section, -1 if the byte is not acceptable.  A line
 * starting with SP or HTAB (obsolete folding) is refused, wherever it is.
 */
static int
frame_field_byte(struct frame *f, unsigned char ch)
{
	switch (f->state) {
	case FS_BOL:
		if (ch == '\r') {
			f->state = FS_END_CR;
			return 0;
		}
		if (ch == '\n' && !f->chunked) {
			f->state = FS_DONE;
			return 1;
		}
		if (!frame_is_tchar(ch))
			return -1;	/* fold, empty name, bad name byte */
		f->state = FS_NAME;
		return 0;
	case FS_NAME:
		if (ch == ':')
			f->state = FS_VALUE;
		else if (!frame_is_tchar(ch))
			return -1;	/* includes a line with no colon */
		return 0;
	case FS_VALUE:
		if (ch == '\r')
			f->state = FS_VALUE_CR;
		else if (ch == '\n' && !f->chunked)
			f->state = FS_BOL;
		else if (!frame_is_field_char(ch))
			return -1;
		return 0;
	case FS_VALUE_CR:
		if (ch != '\n')
			return -1;
		f->state = FS_BOL;
		return 0;
	case FS_END_CR:
		if (ch != '\n')
			return -1;
		f->state = FS_DONE;
		return 1;
	}
	return -1;
}

void
frame_head_init(struct frame *f)
{
	memset(f, 0, sizeof(*f));
	f->state = FS_START;
}

enum frame_result
frame_head(struct frame *f, const char *p, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		int r;

		switch (f->state) {
		case FS_START:
			if (ch == '\r')
				f->state = FS_START_CR;
			else if (ch != '\n')
				f->state = FS_REQLINE;
			continue;
		case FS_START_CR:
			if (ch != '\n')
				goto bad;
			f->state = FS_START;
			continue;
		case FS_REQLINE:
			/* The request line's grammar is http-parser's; only
			 * its end and control bytes are judged here. */
			if (ch == '\r')
				f->state = FS_REQLINE_CR;
			else if (ch == '\n')
				f->state = FS_BOL;
			else if (ch < 0x20 || ch == 0x7f)
				goto bad;
			continue;
		case FS_REQLINE_CR:
			if (ch != '\n')
				goto bad;
			f->state = FS_BOL;
			continue;
		case FS_DONE:
			*used = i;
			return FRAME_DONE;
		}
		if ((r = frame_field_byte(f, ch)) < 0)
			goto bad;
		if (r == 1) {
			*used = i + 1;
			return FRAME_DONE;
		}
	}
	*used = n;
	return f->state == FS_DONE ? FRAME_DONE : FRAME_MORE;
bad:
	*used = i;
	return FRAME_BAD;
}

void
frame_chunked_init(struct frame *f, uint64_t body_max, size_t fields_max)
{
	memset(f, 0, sizeof(*f));
	f->state = FC_SIZE0;
	f->chunked = 1;
	f->body_max = body_max;
	f->fields_max = fields_max;
}

enum frame_result
frame_chunked(struct frame *f, const char *p, size_t n, size_t *used,
    int (*on_data)(void *arg, const char *, size_t), void *arg)
{
	size_t i = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)p[i];
		int hv, r;

		if (f->state == FC_DATA) {
			size_t k = n - i;

			if (k > f->left)
				k = (size_t)f->left;
			if (on_data(arg, p + i, k) != 0) {
				*used = i;
				return FRAME_STOPPED;
			}
			f->left -= k;
			i += k;
			if (f->left == 0)
				f->state = FC_DATA_CR;
			continue;
		}
		if (f->state >= FC_SIZE0 && f->state <= FC_EXT &&
		    ++f->line > FRAME_CHUNK_LINE_MAX)
			goto bad;
		switch (f->state) {
		case FC_SIZE0:
			if ((hv = frame_hexval(ch)) < 0)
				goto bad;
			f->left = (uint64_t)hv;
			f->state = FC_SIZE;
			break;
		case FC_SIZE:
			if ((hv = frame_hexval(ch)) >= 0) {
				/* checked per digit, so it cannot overflow */
				f->left = f->left * 16 + (uint64_t)hv;
				if (f->left > f->body_max - f->body) {
					*used = i;
					return FRAME_TOO_LARGE;
				}
			} else if (ch == '\r')
				f->state = FC_SIZE_CR;
			else if (ch == ' ' || ch == '\t')
				f->state = FC_EXT_WS;
			else if (ch == ';')
				f->state = FC_EXT;
			else
				goto bad;
			break;
		case FC_EXT_WS:
			if (ch == ';')
				f->state = FC_EXT;
			else if (ch != ' ' && ch != '\t')
				goto bad;
			break;
		case FC_EXT:
			if (ch == '\r')
				f->state = FC_SIZE_CR;
			else if (!frame_is_field_char(ch))
				goto bad;
			break;
		case FC_SIZE_CR:
			if (ch != '\n')
				goto bad;
			f->line = 0;
			f->body += f->left;
			f->state = f->left ? FC_DATA : FS_BOL;
			break;
		case FC_DATA_CR:
			if (ch != '\r')
				goto bad;
			f->state = FC_DATA_LF;
			break;
		case FC_DATA_LF:
			if (ch != '\n')
				goto bad;
			f->state = FC_SIZE0;
			break;
		case FS_DONE:
			*used = i;
			return FRAME_DONE;
		default:
			/* the trailer section: checked, counted, dropped */
			if (++f->fields > f->fields_max) {
				*used = i;
				return FRAME_FIELDS_TOO_LARGE;
			}
			if ((r = frame_field_byte(f, ch)) < 0)
				goto bad;
			if (r == 1) {
				*used = i + 1;
				return FRAME_DONE;
			}
			break;
		}
		i++;
	}
	*used = n;
	return f->state == FS_DONE ? FRAME_DONE : FRAME_MORE;
bad:
	*used = i;
	return FRAME_BAD;
}

/* RFC 3986 reg-name bytes: unreserved and sub-delims (pct-encoded apart). */
static int
frame_is_regname_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch && strchr("-._~!$&'()*+,;=", ch));
}

size_t
frame_host(const char *p, size_t n)
{
	size_t i = 0, host, digits;
	unsigned port = 0;

	if (n > 0 && p[0] == '[') {
		char buf[INET6_ADDRSTRLEN];
		struct in6_addr a;
		const char *close = memchr(p, ']', n);
		size_t len;

		if (close == NULL)
			return 0;
		len = (size_t)(close - p) - 1;
		if (len == 0 || len >= sizeof(buf))
			return 0;
		memcpy(buf, p + 1, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, &a) != 1)
			return 0;	/* also refuses IPvFuture and zone ids */
		i = len + 2;
	} else {
		/* IPv4address is a reg-name too, syntactically */
		while (i < n && p[i] != ':') {
			if (p[i] == '%') {
				if (i + 2 >= n ||
				    frame_hexval((unsigned char)p[i + 1]) < 0 ||
				    frame_hexval((unsigned char)p[i + 2]) < 0)
					return 0;
				i += 3;
				continue;
			}
			if (!frame_is_regname_char((unsigned char)p[i]))
				return 0;
			i++;
		}
		/* Empty labels ("..", "a..b", "."), as nginx: a host named
		 * ".." could walk up a path built from SERVER_NAME. */
		if (i == 0 || memmem(p, i, "..", 2) || (i == 1 && p[0] == '.'))
			return 0;
	}
	host = i;
	if (i == n)
		return host;
	if (p[i++] != ':')
		return 0;
	for (digits = 0; i < n; i++, digits++) {
		if (p[i] < '0' || p[i] > '9' || digits == 5)
			return 0;
		port = port * 10 + (unsigned)(p[i] - '0');
	}
	if (digits == 0 || port > 65535)
		return 0;
	return host;
}
