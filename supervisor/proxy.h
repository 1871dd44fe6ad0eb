/*
 * proxy.h - who the client is when mwsup sits behind a proxy.
 *
 * Two ways a proxy says it.  The PROXY protocol (HAProxy's, versions 1
 * and 2) puts a header before the first request of a connection: a listen
 * address with proxy_protocol: true requires it, and whatever connects
 * there is believed (so only the proxy must be able to).  An HTTP proxy
 * adds the client to X-Forwarded-For (proxy.header) and its scheme to
 * X-Forwarded-Proto (proxy.proto_header): believed per request, and only
 * from proxy.trusted peers.
 */
#ifndef MW_PROXY_H
#define MW_PROXY_H

#include <stddef.h>

struct config;
struct conn;

/* What a PROXY protocol header said. */
struct proxy_hdr {
	int	 local;		/* LOCAL, UNKNOWN, unix: keep the peer */
	char	 addr[64];	/* the client, as inet_ntop writes it */
	char	 port[8];
	int	 ssl;		/* v2: the client came over TLS */
};

/* The largest header taken (v2 with its TLVs). */
#define PROXY_HDR_MAX	1024

/*
 * Parse a PROXY header at the start of buf (len bytes so far): its length
 * with *h filled, 0 if it may still be one and more bytes are needed, or
 * -1 with *why saying what is wrong.  A pure function (fuzzed).
 */
int	proxy_parse(const char *buf, size_t len, struct proxy_hdr *h,
	    const char **why);
/*
 * Who c's current request is from: c->client_addr, client_port,
 * client_unix and https, from the connection's peer and, when that peer
 * is trusted, the request's forwarding headers.
 */
void	proxy_resolve(struct conn *c);
/* The request's header fields not to hand to PHP, NULL-ended (valid
 * until the next call), or NULL for none: the proto headers, but for a
 * trusted peer, once proxy.trusted is set (MediaWiki believes them from
 * anyone). */
const char *const *proxy_untrusted_headers(const struct conn *c);

#endif
