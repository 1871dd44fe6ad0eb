/*
 * proxy.c - the PROXY protocol header, and the client behind a trusted
 * proxy's X-Forwarded-For.
 *
 * X-Forwarded-For is read as nginx's realip module reads it with
 * real_ip_recursive on: from the right, each address a trusted proxy
 * added is skipped, and the first one no trusted proxy stands for is the
 * client (the leftmost, if all are trusted; the last good one, if an
 * entry is not an address).  A client can put anything on the left of
 * the list, never on the right of what the trusted proxies added.
 */
#include "proxy.h"
#include "config.h"
#include "conn.h"
#include "sup.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const char proxy_v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

#define PROXY_V1_MAX	107	/* bytes with the CRLF, as the spec says */

#define PP2_TYPE_SSL	0x20
#define PP2_CLIENT_SSL	0x01

/* A decimal port, 0-65535, no sign, at most 5 digits. */
static int
proxy_port(const char *s, size_t n, char *out, size_t cap)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	snprintf(out, cap, "%u", v);
	return 0;
}

/* "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n" and its kin. */
static int
proxy_parse_v1(const char *buf, size_t len, struct proxy_hdr *h,
    const char **why)
{
	const char *eol = NULL, *w[6];
	size_t wl[6], n = 0, i;
	char tmp[64];
	int fam;

	/* up to the CRLF, which ends byte 107 at the latest: no other
	 * control byte, no lone CR.  Decided byte by byte, so that a prefix
	 * of a line says "more" or fails as the whole line does. */
	for (i = 0; i < len; i++) {
		if (i + 2 > PROXY_V1_MAX) {
			*why = "PROXY v1 line longer than 107 bytes";
			return -1;
		}
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return 0;
			if (buf[i + 1] != '\n')
				goto bad_byte;
			eol = buf + i;
			break;
		}
		if ((unsigned char)buf[i] < 0x20)
			goto bad_byte;
	}
	if (eol == NULL)
		return 0;
	/* split on single spaces */
	for (const char *p = buf; p < eol && n < 6;) {
		const char *e = memchr(p, ' ', (size_t)(eol - p));

		if (e == NULL)
			e = eol;
		w[n] = p;
		wl[n++] = (size_t)(e - p);
		p = e < eol ? e + 1 : eol;
	}
	if (n < 2 || wl[0] != 5 || memcmp(w[0], "PROXY", 5) != 0)
		goto bad;
	if (wl[1] == 7 && memcmp(w[1], "UNKNOWN", 7) == 0) {
		h->local = 1;	/* the rest of the line is to be ignored */
		return (int)(eol - buf + 2);
	}
	if (wl[1] == 4 && memcmp(w[1], "TCP4", 4) == 0)
		fam = AF_INET;
	else if (wl[1] == 4 && memcmp(w[1], "TCP6", 4) == 0)
		fam = AF_INET6;
	else
		goto bad;
	if (n != 6 || w[5] + wl[5] != eol)
		goto bad;
	for (i = 2; i < 4; i++) {
		unsigned char a[16];

		if (wl[i] == 0 || wl[i] >= sizeof(tmp))
			goto bad;
		memcpy(tmp, w[i], wl[i]);
		tmp[wl[i]] = '\0';
		if (inet_pton(fam, tmp, a) != 1)
			goto bad;
		if (i == 2)
			inet_ntop(fam, a, h->addr, sizeof(h->addr));
	}
	if (proxy_port(w[4], wl[4], h->port, sizeof(h->port)) < 0 ||
	    proxy_port(w[5], wl[5], tmp, sizeof(tmp)) < 0)
		goto bad;
	return (int)(eol - buf + 2);
bad_byte:
	*why = "PROXY v1 line with a control byte";
	return -1;
bad:
	*why = "malformed PROXY v1 line";
	return -1;
}

/* The binary form: signature, version and command, family, length. */
static int
proxy_parse_v2(const unsigned char *buf, size_t len, struct proxy_hdr *h,
    const char **why)
{
	size_t total, alen, off;
	int cmd, fam;

	if (len < 16)
		return 0;
	if ((buf[12] >> 4) != 2) {
		*why = "PROXY v2 header of another version";
		return -1;
	}
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	total = 16 + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PROXY_HDR_MAX) {
		*why = "PROXY v2 header longer than we take";
		return -1;
	}
	if (len < total)
		return 0;
	if (cmd == 0) {			/* LOCAL: the proxy's own check */
		h->local = 1;
		return (int)total;
	}
	if (cmd != 1) {
		*why = "PROXY v2 header with an unknown command";
		return -1;
	}
	switch (fam) {
	case 0x11:			/* TCP over IPv4 */
		alen = 12;
		break;
	case 0x21:			/* TCP over IPv6 */
		alen = 36;
		break;
	case 0x00:			/* unspecified */
	case 0x31:			/* unix stream */
		h->local = 1;
		alen = fam ? 216 : 0;
		break;
	default:
		*why = "PROXY v2 header for a protocol other than TCP";
		return -1;
	}
	if (16 + alen > total) {
		*why = "PROXY v2 header too short for its addresses";
		return -1;
	}
	if (fam == 0x11) {
		inet_ntop(AF_INET, buf + 16, h->addr, sizeof(h->addr));
		snprintf(h->port, sizeof(h->port), "%u",
		    (unsigned)(buf[24] << 8 | buf[25]));
	} else if (fam == 0x21) {
		inet_ntop(AF_INET6, buf + 16, h->addr, sizeof(h->addr));
		snprintf(h->port, sizeof(h->port), "%u",
		    (unsigned)(buf[48] << 8 | buf[49]));
	}
	/* TLVs: only PP2_TYPE_SSL is read; each must fit */
	for (off = 16 + alen; off < total;) {
		size_t tl;

		if (total - off < 3) {
			*why = "PROXY v2 header with a cut TLV";
			return -1;
		}
		tl = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (total - off - 3 < tl) {
			*why = "PROXY v2 header with a cut TLV";
			return -1;
		}
		if (buf[off] == PP2_TYPE_SSL && tl >= 1 &&
		    (buf[off + 3] & PP2_CLIENT_SSL))
			h->ssl = 1;
		off += 3 + tl;
	}
	return (int)total;
}

int
proxy_parse(const char *buf, size_t len, struct proxy_hdr *h,
    const char **why)
{
	size_t n = len < sizeof(proxy_v2_sig) ? len : sizeof(proxy_v2_sig);

	memset(h, 0, sizeof(*h));
	*why = NULL;
	if (len == 0)
		return 0;
	if (buf[0] == 'P') {
		size_t m = len < 6 ? len : 6;

		if (memcmp(buf, "PROXY ", m) != 0)
			goto none;
		return len < 6 ? 0 : proxy_parse_v1(buf, len, h, why);
	}
	if (memcmp(buf, proxy_v2_sig, n) != 0)
		goto none;
	return proxy_parse_v2((const unsigned char *)buf, len, h, why);
none:
	*why = "no PROXY protocol header";
	return -1;
}

/* ---- the client behind trusted proxies ---- */

/* Is the address (family fam, bytes a) one of cfg's trusted? */
static int
proxy_trusted(const struct config *cfg, int fam, const uint8_t *a)
{
	return config_cidr_match(&cfg->proxy_trusted, fam, a);
}

/* An address as text to its family and bytes (v4-mapped v6 as v4). */
static int
proxy_addr(const char *s, size_t n, int *fam, uint8_t *a, char *text,
    size_t cap)
{
	char tmp[64];

	/* "[v6]" and "v4:port" as some proxies write them */
	if (n >= 2 && s[0] == '[') {
		const char *e = memchr(s, ']', n);

		if (e == NULL)
			return -1;
		n = (size_t)(e - s - 1);
		s++;
	} else if (memchr(s, '.', n) && memchr(s, ':', n) &&
	    memchr(s, ':', n) == memrchr(s, ':', n))
		n = (size_t)((const char *)memchr(s, ':', n) - s);
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1)
		*fam = AF_INET;
	else if (inet_pton(AF_INET6, tmp, a) == 1) {
		*fam = AF_INET6;
		if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
			memmove(a, a + 12, 4);
			*fam = AF_INET;
		}
	} else
		return -1;
	inet_ntop(*fam, a, text, (socklen_t)cap);
	return 0;
}

/* All the fields named name, in order, as one list (", "-joined). */
static size_t
proxy_joined(struct conn *c, const char *name, char *buf, size_t cap)
{
	size_t len = 0, nl = strlen(name);

	for (int i = 0; i < c->nhdrs; i++) {
		const struct conn_hdr *h = &c->hdrs[i];

		if (h->name_len != nl ||
		    strncasecmp(c->hbuf + h->name, name, nl) != 0)
			continue;
		if (len > 0 && len + 1 < cap)
			buf[len++] = ',';
		if (len + h->value_len >= cap)
			return (size_t)-1;	/* too long: not believed */
		memcpy(buf + len, c->hbuf + h->value, h->value_len);
		len += h->value_len;
	}
	buf[len] = '\0';
	return len;
}

void
proxy_resolve(struct conn *c)
{
	const struct config *cfg = sup.cfg;
	static char list[8192];
	uint8_t a[16];
	int fam;
	size_t n;

	snprintf(c->client_addr, sizeof(c->client_addr), "%s", c->peer_addr);
	snprintf(c->client_port, sizeof(c->client_port), "%s", c->peer_port);
	c->client_unix = c->peer_unix;
	c->https = c->peer_ssl;
	c->peer_trusted = 0;
	if (cfg->proxy_trusted.n == 0)
		return;
	if (c->peer_unix) {
		if (!proxy_trusted(cfg, AF_UNIX, NULL))
			return;
	} else if (proxy_addr(c->peer_addr, strlen(c->peer_addr), &fam, a,
	    c->client_addr, sizeof(c->client_addr)) < 0 ||
	    !proxy_trusted(cfg, fam, a))
		return;
	c->peer_trusted = 1;
	/* the scheme: the value the nearest proxy wrote (the last one) */
	if (cfg->proxy_proto_header && (n = proxy_joined(c,
	    cfg->proxy_proto_header, list, sizeof(list))) != (size_t)-1 &&
	    n > 0) {
		const char *v = list + n, *e = list + n;

		while (v > list && v[-1] != ',')
			v--;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		c->https = (e - v == 5 && strncasecmp(v, "https", 5) == 0) ||
		    (c->https && e == v);
	}
	if ((n = proxy_joined(c, cfg->proxy_header, list, sizeof(list))) ==
	    (size_t)-1 || n == 0)
		return;
	/* from the right: each trusted proxy's entry leads further left */
	for (char *end = list + n;;) {
		char *s = end, text[64];

		while (s > list && s[-1] != ',')
			s--;
		{
			char *b = s, *e = end;

			while (b < e && (*b == ' ' || *b == '\t'))
				b++;
			while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (b == e) {		/* an empty entry: skip */
				if (s == list)
					break;
				end = s - 1;
				continue;
			}
			if (proxy_addr(b, (size_t)(e - b), &fam, a, text,
			    sizeof(text)) < 0)
				break;	/* not an address: the last good */
		}
		snprintf(c->client_addr, sizeof(c->client_addr), "%s", text);
		snprintf(c->client_port, sizeof(c->client_port), "0");
		c->client_unix = 0;
		if (s == list || !proxy_trusted(cfg, fam, a))
			break;
		end = s - 1;
	}
}

const char *const *
proxy_untrusted_headers(const struct conn *c)
{
	static const char *names[3];
	const struct config *cfg = sup.cfg;
	int n = 0;

	if (cfg->proxy_trusted.n == 0 || c->peer_trusted)
		return NULL;
	names[n++] = "X-Forwarded-Proto";
	if (cfg->proxy_proto_header)
		names[n++] = cfg->proxy_proto_header;
	names[n] = NULL;
	return names;
}
