/*
 * cache.c - the page cache: mwsup as MediaWiki's CDN.
 *
 * Design.  MediaWiki with $wgUseCdn marks what an anonymous reader may
 * share with others (Cache-Control: s-maxage=N on page views, public,
 * max-age=N on load.php) and sends an HTTP PURGE for every URL an edit,
 * move, delete or template change makes stale, to each of $wgCdnServers:
 * here, mwsup's own address.  The supervisor sees every request, so it
 * keeps those answers in memory and serves them without a worker.
 *
 * Which requests: a request routed to PHP, GET or HEAD, without
 * Authorization and without any cookie that names a session or a login
 * (a name ending in "session" in any case, "UserID" or "Token": what
 * MediaWiki calls $wgCookiePrefix."_session", ..."UserID", ..."Token",
 * whatever the prefix, CentralAuth's too).  Such a request is never
 * answered from the cache nor stored: "pass".  A request with only other
 * cookies (a preference, a "LoggedOut" stamp) is anonymous to MediaWiki,
 * so "Vary: Cookie" is treated as satisfied, as Wikimedia's Varnish does.
 *
 * How an answer gets here.  A worker writes its answer straight to the
 * client socket.  For a storable request (a GET lookup that missed) the
 * supervisor sets CTL_REQ_STORE; the worker, when the answer was made
 * whole (not streamed), has a status the cache keeps and headers that
 * allow it (shared/cachectl.h: s-maxage, or public with max-age; never
 * private, no-store, no-cache, Set-Cookie, or a Vary beyond
 * Accept-Encoding and Cookie), after sending writes head and body as
 * sent into its copy file (a memfd it keeps for its life) and attaches
 * it, with the answer's length, to the message that hands the connection
 * back (CTL_DONE_COPY).  The supervisor reads the copy straight into a
 * new entry before the worker can take another request, checks it again
 * and stores it.
 *
 * Keys.  Host (lower case) and target path with query, as an origin-form
 * request gives them or an absolute-form one names them, then the coding
 * class the request accepts (compress_choose(): identity, gzip or br, the
 * coding a worker would apply), so Vary: Accept-Encoding is honoured, and
 * the scheme (https as a trusted proxy says, proxy.c: MediaWiki writes
 * its links for it): at most six variants of a URL.  MediaWiki also
 * believes an X-Forwarded-Proto: https from anyone; when mwsup hands one
 * to PHP that it does not believe itself (no proxy.trusted), the request
 * passes, so that no http entry holds an answer made for https.  A PURGE (origin-form
 * with Host, or absolute-form as CdnCacheUpdate sends it through a proxy)
 * removes all six, and marks a miss in flight for that URL so that its
 * answer, made before the edit, is not stored after the purge.
 *
 * Entries.  A hash table with chains and an LRU list; an entry holds its
 * key, the stored header lines (without the hop-by-hop ones,
 * Content-Length, Age and X-Cache) and the body in one allocation.  The
 * bytes of all entries, with their overhead, stay within cache.size;
 * a copy larger than cache.max_entry is not stored; the least recently
 * used entries go first.  An entry expires at its storage time plus the
 * lifetime from s-maxage or max-age less the answer's Age.  A hit gets
 * Age and X-Cache: hit; a HEAD is answered from a GET's entry; an
 * If-None-Match naming the entry's ETag (weak comparison), or without
 * one an If-Modified-Since equal to its Last-Modified (nginx's "exact"),
 * gets a 304.  A Range of one byte range gets a 206 (416 past the end)
 * cut from the stored body, with static.c's parser; several ranges get
 * the whole entry (200), which RFC 9110 14.2 allows.
 *
 * Coalescing.  A GET that misses while another miss for the same key is
 * being answered (the leader) does not go to a worker: it waits, its
 * connection unwatched, in the leader's list, at most CACHE_WAITERS_MAX
 * of them (more go to workers).  When the leader's answer is complete
 * (stored, not storable, or failed) the waiters are routed again: a hit
 * each when it was stored, else a worker each.  An answer that was not
 * stored leaves a "pass" mark on its key for CACHE_PASS_TTL seconds (as
 * Varnish's hit-for-miss) so that requests for a page no cache may keep
 * are not queued behind one another; a storable answer replaces the mark.
 * The wait is bounded by the leader's: timeouts.request at most.
 *
 * The cache lives in the supervisor's memory: it survives a reload (the
 * workers change, the pages do not), and a restart starts it empty.
 */
#include "cache.h"
#include "cachectl.h"
#include "compress.h"
#include "conn.h"
#include "ctl.h"
#include "log.h"
#include "proxy.h"
#include "static.h"
#include "status.h"
#include "spool.h"
#include "sup.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

_Static_assert(COMPRESS_IDENTITY == 0 && COMPRESS_GZIP == 1 &&
    COMPRESS_BR == 2, "a key's variant digit is the coding, plus 3 for https");

#define CACHE_BUCKETS	16384	/* a power of two */
#define CACHE_WAITERS_MAX 256	/* requests waiting for one miss */
#define CACHE_PASS_TTL	120	/* seconds a "not stored" mark lasts */

struct cache_entry {
	TAILQ_ENTRY(cache_entry) lru;	/* most recently used first */
	struct cache_entry *next;	/* in its bucket */
	uint64_t	 hash;
	char		*key;		/* all in mem, freed with it */
	size_t		 key_len;
	int		 status;	/* 0: a pass mark, nothing to serve */
	const char	*head;		/* header lines, each with CRLF */
	size_t		 head_len;
	const char	*body;
	size_t		 body_len;
	const char	*etag, *lastmod;	/* values in head, or NULL */
	size_t		 etag_len, lastmod_len;
	time_t		 stored;	/* wall clock seconds */
	time_t		 expires;
	long		 age0;		/* Age the answer came with */
	size_t		 bytes;		/* counted against cache.size */
	char		 mem[];
};

static struct cache_entry **cache_table;
static TAILQ_HEAD(cache_lru_head, cache_entry) cache_lru = TAILQ_HEAD_INITIALIZER(cache_lru);
static LIST_HEAD(, conn) cache_inflight = LIST_HEAD_INITIALIZER(cache_inflight);
static size_t cache_bytes, cache_entries;

static uint64_t
cache_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
cache_publish(void)
{
	SUP_SET(cache_entries, cache_entries);
	SUP_SET(cache_bytes, cache_bytes);
	SUP_SET(cache_size, sup.cfg->cache_enabled ? sup.cfg->cache_size : 0);
}

static void
cache_remove(struct cache_entry *e)
{
	struct cache_entry **pp = &cache_table[e->hash & (CACHE_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	TAILQ_REMOVE(&cache_lru, e, lru);
	cache_bytes -= e->bytes;
	cache_entries--;
	free(e);
}

/* Evict least recently used entries until want more bytes fit. */
static void
cache_make_room(size_t want)
{
	struct cache_entry *e;

	while (cache_bytes + want > sup.cfg->cache_size &&
	    (e = TAILQ_LAST(&cache_lru, cache_lru_head)) != NULL) {
		cache_remove(e);
		SUP_COUNT(cache_evictions, 1);
	}
}

/* Add e (not in the table), most recently used, after making room. */
static void
cache_insert(struct cache_entry *e)
{
	cache_make_room(e->bytes);
	e->next = cache_table[e->hash & (CACHE_BUCKETS - 1)];
	cache_table[e->hash & (CACHE_BUCKETS - 1)] = e;
	TAILQ_INSERT_HEAD(&cache_lru, e, lru);
	cache_bytes += e->bytes;
	cache_entries++;
}

void
cache_clear(void)
{
	struct cache_entry *e;

	while ((e = TAILQ_FIRST(&cache_lru)) != NULL)
		cache_remove(e);
	free(cache_table);
	cache_table = NULL;
	if (sup.cfg)
		cache_publish();
}

void
cache_configure(void)
{
	if (!sup.cfg->cache_enabled) {
		cache_clear();
		return;
	}
	if (cache_table == NULL &&
	    (cache_table = calloc(CACHE_BUCKETS, sizeof(*cache_table))) == NULL)
		log_err("page cache: out of memory; every request passes");
	cache_make_room(0);
	cache_publish();
}

/* --- keys ------------------------------------------------------------ */

/*
 * The key of c's target: lower-case host, path and query, '\n', then the
 * variant as a digit: the coding class, plus 3 for https (none when
 * variant < 0: the part a PURGE names).  malloc'd; NULL without a host or
 * memory.
 */
static char *
cache_key(struct conn *c, int variant, size_t *lenp)
{
	const char *url = c->hbuf, *host, *path;
	size_t hl, pl, n;
	char *k;

	if (c->host_len == 0)
		return NULL;
	host = c->hbuf + c->host_off;
	hl = c->host_len;
	path = url;
	pl = c->url_len;
	if (c->absolute_form) {
		path = url + c->host_off + c->host_len;
		pl = c->url_len - (c->host_off + c->host_len);
	}
	if ((k = malloc(hl + pl + 4)) == NULL)
		return NULL;
	for (n = 0; n < hl; n++)
		k[n] = (char)tolower((unsigned char)host[n]);
	if (pl == 0)
		k[n++] = '/';
	memcpy(k + n, path, pl);
	n += pl;
	k[n++] = '\n';
	if (variant >= 0)
		k[n++] = (char)('0' + variant);
	k[n] = '\0';
	*lenp = n;
	return k;
}

static struct cache_entry *
cache_find(const char *key, size_t len)
{
	uint64_t h = cache_hash(key, len);
	struct cache_entry *e;

	if (cache_table == NULL)
		return NULL;
	for (e = cache_table[h & (CACHE_BUCKETS - 1)]; e; e = e->next)
		if (e->hash == h && e->key_len == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

/* --- which requests -------------------------------------------------- */

/* Does a cookie name say a session or a login? */
static int
cache_cookie_is_session(const char *n, size_t len)
{
	return (len >= 7 && strncasecmp(n + len - 7, "session", 7) == 0) ||
	    (len >= 6 && memcmp(n + len - 6, "UserID", 6) == 0) ||
	    (len >= 5 && memcmp(n + len - 5, "Token", 5) == 0);
}

/* Does a value name https anywhere (in any case)? */
static int
cache_has_https(const char *v, size_t len)
{
	for (; len >= 5; v++, len--)
		if (strncasecmp(v, "https", 5) == 0)
			return 1;
	return 0;
}

/* Does any Cookie field of c carry a session or login cookie? */
static int
cache_has_session(struct conn *c)
{
	for (int i = 0; i < c->nhdrs; i++) {
		const struct conn_hdr *h = &c->hdrs[i];
		const char *v = c->hbuf + h->value, *end = v + h->value_len;

		if (h->name_len != 6 ||
		    strncasecmp(c->hbuf + h->name, "Cookie", 6) != 0)
			continue;
		while (v < end) {
			const char *n, *eq;

			while (v < end && (*v == ' ' || *v == ';'))
				v++;
			for (n = v; v < end && *v != ';'; v++)
				;
			if ((eq = memchr(n, '=', (size_t)(v - n))) == NULL)
				eq = v;
			while (eq > n && eq[-1] == ' ')
				eq--;
			if (cache_cookie_is_session(n, (size_t)(eq - n)))
				return 1;
		}
	}
	return 0;
}

/*
 * Would MediaWiki take a request mwsup holds for http for https?  It
 * believes an X-Forwarded-Proto of "https" from anyone, and mwsup hands
 * that header to PHP unless proxy.trusted is set and the peer is not in
 * it (proxy_untrusted_headers): such an answer (links, redirects) must go in
 * no http entry.  A request mwsup holds for https is https to PHP too.
 */
static int
cache_scheme_differs(struct conn *c)
{
	const char *const *dropped = proxy_untrusted_headers(c);

	if (c->https)
		return 0;
	for (int i = 0; dropped && dropped[i]; i++)
		if (strcasecmp(dropped[i], "X-Forwarded-Proto") == 0)
			return 0;	/* PHP never sees it */
	for (int i = 0; i < c->nhdrs; i++) {
		const struct conn_hdr *h = &c->hdrs[i];

		if (h->name_len == 17 && strncasecmp(c->hbuf + h->name,
		    "X-Forwarded-Proto", 17) == 0 &&
		    cache_has_https(c->hbuf + h->value, h->value_len))
			return 1;
	}
	return 0;
}

static int
cache_coding(struct conn *c)
{
	size_t len;
	const char *v = conn_header(c, "Accept-Encoding", &len);
	char buf[512];

	if (v == NULL)
		return (int)compress_choose(sup.cfg, NULL);
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return (int)compress_choose(sup.cfg, buf);
}

/* --- answering from an entry ----------------------------------------- */

/* Does an If-None-Match value name tag (weak comparison)? */
static int
cache_etag_match(const char *v, size_t vl, const char *tag, size_t tl)
{
	const char *end = v + vl;

	if (tl > 2 && tag[0] == 'W' && tag[1] == '/')
		tag += 2, tl -= 2;
	while (v < end) {
		const char *t;

		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		if (v < end && *v == '*')
			return 1;
		if (end - v > 2 && v[0] == 'W' && v[1] == '/')
			v += 2;
		if (v >= end || *v != '"')
			return 0;
		t = memchr(v + 1, '"', (size_t)(end - v - 1));
		if (t == NULL)
			return 0;
		if ((size_t)(t + 1 - v) == tl && memcmp(v, tag, tl) == 0)
			return 1;
		v = t + 1;
	}
	return 0;
}

static int
cache_not_modified(struct conn *c, const struct cache_entry *e)
{
	const char *v;
	size_t vl;

	if ((v = conn_header(c, "If-None-Match", &vl)) != NULL)
		return e->etag && cache_etag_match(v, vl, e->etag, e->etag_len);
	if ((v = conn_header(c, "If-Modified-Since", &vl)) != NULL)
		return e->lastmod && vl == e->lastmod_len &&
		    memcmp(v, e->lastmod, vl) == 0;
	return 0;
}

/*
 * The part of e's body c's Range asks for: 0 with [*first, *last] (206),
 * 416, or -1 for the whole body.  As for a file (static.c): one byte
 * range, of a 200 only, and with If-Range only when it names the entry
 * (a strong ETag, or the exact Last-Modified).  The range is of the body
 * as stored, in the coding the key chose, as Varnish does.
 */
static int
cache_range(struct conn *c, const struct cache_entry *e, int64_t *first,
    int64_t *last)
{
	const char *range, *v;
	char buf[STATIC_RANGE_HEADER_MAX];
	size_t rl, vl;

	if (e->status != 200 ||
	    (range = conn_header(c, "Range", &rl)) == NULL ||
	    rl >= sizeof(buf))
		return -1;
	if ((v = conn_header(c, "If-Range", &vl)) != NULL &&
	    !(v[0] == '"' ? e->etag && vl == e->etag_len &&
	    memcmp(v, e->etag, vl) == 0 : e->lastmod &&
	    vl == e->lastmod_len && memcmp(v, e->lastmod, vl) == 0))
		return -1;
	memcpy(buf, range, rl);
	buf[rl] = '\0';
	return static_range(buf, (int64_t)e->body_len, first, last);
}

static void
cache_serve(struct conn *c, struct cache_entry *e, time_t now)
{
	int head = c->parser.method == HTTP_HEAD, ranged = -1;
	int status = cache_not_modified(c, e) ? 304 : e->status;
	int64_t first = 0, last = (int64_t)e->body_len - 1;

	if (status != 304 && (ranged = cache_range(c, e, &first, &last)) >= 0)
		status = ranged == 0 ? 206 : 416;
	c->out_len = c->out_off = 0;
	c->status = status;
	c->cache_result = "hit";
	sup_count_response(status, 0);
	SUP_COUNT(cache_hits, 1);
	conn_out_printf(c, "HTTP/1.1 %d %s\r\n", status, conn_reason(status));
	if (status == 416)
		conn_out_printf(c, "Content-Range: bytes */%zu\r\n"
		    "Content-Length: 0\r\n", e->body_len);
	else
		conn_out_append(c, e->head, e->head_len);
	conn_out_printf(c, "Age: %ld\r\nX-Cache: hit\r\n",
	    (long)(now - e->stored) + e->age0);
	if (status == 206)
		conn_out_printf(c, "Content-Range: bytes %lld-%lld/%zu\r\n",
		    (long long)first, (long long)last, e->body_len);
	if (status != 304 && status != 416)
		conn_out_printf(c, "Content-Length: %lld\r\n",
		    (long long)(last - first + 1));
	if (!c->keepalive || sup.stopping)
		conn_out_append(c, "Connection: close\r\n", 19);
	else if (c->parser.http_minor == 0)
		conn_out_append(c, "Connection: keep-alive\r\n", 24);
	conn_out_append(c, "\r\n", 2);
	if (status != 304 && status != 416 && !head)
		conn_out_append(c, e->body + first, (size_t)(last - first + 1));
	conn_start_write(c);
}

/* Wait for a miss of the same key in flight, if there is one that can
 * take another waiter.  Returns 1 when c now waits. */
static int
cache_wait(struct conn *c, const char *key, size_t len)
{
	struct conn *f;

	LIST_FOREACH(f, &cache_inflight, cache_link)
		if (!f->cache_purged && f->cache_key_len == len &&
		    memcmp(f->cache_key, key, len) == 0)
			break;
	if (f == NULL || f->cache_nwaiters >= CACHE_WAITERS_MAX)
		return 0;
	c->cache_leader = f;
	LIST_INSERT_HEAD(&f->cache_waiters, c, cache_wlink);
	f->cache_nwaiters++;
	SUP_COUNT(cache_coalesced, 1);
	loop_watch(&c->ev, 0);
	c->state = CONN_QUEUED;
	return 1;
}

/* A "not stored" mark on key (see the top of the file). */
static void
cache_mark_pass(const char *key, size_t len)
{
	struct cache_entry *e;

	if (cache_table == NULL || cache_find(key, len) != NULL ||
	    (e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return;
	e->key = e->mem;
	memcpy(e->key, key, len);
	e->key_len = len;
	e->hash = cache_hash(key, len);
	e->stored = time(NULL);
	e->expires = e->stored + CACHE_PASS_TTL;
	e->bytes = sizeof(*e) + len;
	cache_insert(e);
	cache_publish();
}

/* The leader's answer is complete: its waiters go on, each routed again
 * (a hit when the answer was stored). */
static void
cache_release(struct conn *leader, const char *key, size_t len)
{
	struct cache_entry *e = cache_find(key, len);
	struct conn *w;

	if (e == NULL && !leader->cache_purged)
		cache_mark_pass(key, len);
	while ((w = LIST_FIRST(&leader->cache_waiters)) != NULL) {
		LIST_REMOVE(w, cache_wlink);
		w->cache_leader = NULL;
		leader->cache_nwaiters--;
		conn_request_ready(w);
	}
}

int
cache_lookup(struct conn *c)
{
	struct cache_entry *e;
	char *key;
	size_t len;
	time_t now;

	c->cache_flags = 0;
	c->cache_result = NULL;
	if (!sup.cfg->cache_enabled || cache_table == NULL)
		return 0;
	c->cache_flags = CTL_REQ_PASS;
	c->cache_result = "pass";
	if (c->parser.method != HTTP_GET && c->parser.method != HTTP_HEAD) {
		SUP_COUNT(cache_pass_method, 1);
		return 0;
	}
	if (conn_header(c, "Authorization", NULL) != NULL) {
		SUP_COUNT(cache_pass_auth, 1);
		return 0;
	}
	if (cache_has_session(c)) {
		SUP_COUNT(cache_pass_cookie, 1);
		return 0;
	}
	if (cache_scheme_differs(c)) {
		SUP_COUNT(cache_pass_scheme, 1);
		return 0;
	}
	if ((key = cache_key(c, cache_coding(c) + (c->https ? 3 : 0), &len)) ==
	    NULL) {
		SUP_COUNT(cache_pass_method, 1);
		return 0;
	}
	now = time(NULL);
	if ((e = cache_find(key, len)) != NULL && e->expires <= now) {
		cache_remove(e);
		cache_publish();
		e = NULL;
	}
	if (e != NULL && e->status != 0) {
		free(key);
		TAILQ_REMOVE(&cache_lru, e, lru);
		TAILQ_INSERT_HEAD(&cache_lru, e, lru);
		cache_serve(c, e, now);
		return 1;
	}
	if (e == NULL && c->parser.method == HTTP_GET &&
	    cache_wait(c, key, len)) {
		free(key);
		return 1;
	}
	if (c->parser.method == HTTP_HEAD) {
		free(key);	/* answered without a body: nothing to keep */
		SUP_COUNT(cache_pass_method, 1);
		return 0;
	}
	SUP_COUNT(cache_misses, 1);
	c->cache_result = "miss";
	c->cache_flags = CTL_REQ_STORE;
	c->cache_key = key;
	c->cache_key_len = len;
	c->cache_purged = 0;
	LIST_INSERT_HEAD(&cache_inflight, c, cache_link);
	return 0;
}

void
cache_forget(struct conn *c)
{
	char *key = c->cache_key;

	if (c->cache_leader != NULL) {	/* a waiter that goes away */
		LIST_REMOVE(c, cache_wlink);
		c->cache_leader->cache_nwaiters--;
		c->cache_leader = NULL;
	}
	if (key == NULL)
		return;
	LIST_REMOVE(c, cache_link);
	c->cache_key = NULL;
	if (!LIST_EMPTY(&c->cache_waiters))
		cache_release(c, key, c->cache_key_len);
	c->cache_key_len = 0;
	free(key);
}

/* --- storing --------------------------------------------------------- */

/* Is the line (without CRLF) a header the entry must not keep? */
static int
cache_drop_line(const char *p, size_t len)
{
	static const char *const names[] = { "Connection", "Keep-Alive",
	    "Content-Length", "Transfer-Encoding", "Age", "X-Cache", NULL };

	for (int i = 0; names[i]; i++) {
		size_t n = strlen(names[i]);

		if (len > n && p[n] == ':' && strncasecmp(p, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* The value of header name among the entry's lines, or NULL. */
static const char *
cache_value(const char *head, size_t hlen, const char *name, size_t *vl)
{
	const char *p = head, *end = head + hlen;
	size_t n = strlen(name);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl - 1, *v;	/* lines end in CRLF */

		if ((size_t)(le - p) > n && p[n] == ':' &&
		    strncasecmp(p, name, n) == 0) {
			for (v = p + n + 1; v < le && (*v == ' ' || *v == '\t');
			    v++)
				;
			*vl = (size_t)(le - v);
			return v;
		}
		p = nl + 1;
	}
	return NULL;
}

/*
 * Make an entry of the worker's copy of the answer, the first size bytes
 * of fd (status line, header lines, blank line, body as sent with a
 * Content-Length), read straight into the entry: the header lines it
 * keeps move down over the status line and the ones it drops, and the
 * body stays where it was read.  NULL when it is larger than max,
 * malformed or breaks the rules.
 */
static struct cache_entry *
cache_entry_read(const char *key, size_t key_len, int status, int fd,
    uint64_t size, size_t max)
{
	const char *hend, *first, *p, *v;
	struct cache_entry *e;
	size_t hlen, blen, vl;
	long ttl, age = 0;
	char *buf, *h;

	if (size == 0 || size > max || sizeof(*e) + key_len + size > max)
		return NULL;
	if ((e = malloc(sizeof(*e) + key_len + size)) == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->key = e->mem;
	memcpy(e->key, key, key_len);
	e->key_len = key_len;
	buf = h = e->mem + key_len;
	if (spool_pread_all(fd, buf, size, 0) < 0 ||
	    (hend = memmem(buf, size, "\r\n\r\n", 4)) == NULL ||
	    (first = memchr(buf, '\n', size)) == NULL || first > hend)
		goto bad;
	first++;
	hlen = (size_t)(hend + 2 - first);
	blen = size - (size_t)(hend + 4 - buf);
	if ((v = cache_value(first, hlen, "Content-Length", &vl)) == NULL ||
	    strtoull(v, NULL, 10) != blen ||
	    cache_value(first, hlen, "Transfer-Encoding", &vl) != NULL ||
	    (ttl = cachectl_ttl(first, hlen)) < 0)
		goto bad;
	if ((v = cache_value(first, hlen, "Age", &vl)) != NULL)
		age = strtol(v, NULL, 10);
	for (p = first; p < first + hlen; ) {
		const char *nl = memchr(p, '\n', (size_t)(first + hlen - p));
		size_t ll = (size_t)(nl + 1 - p);

		if (!cache_drop_line(p, ll - 2)) {
			memmove(h + e->head_len, p, ll);
			e->head_len += ll;
		}
		p = nl + 1;
	}
	e->head = h;
	e->body = hend + 4;
	e->body_len = blen;
	e->etag = cache_value(e->head, e->head_len, "ETag", &e->etag_len);
	e->lastmod = cache_value(e->head, e->head_len, "Last-Modified",
	    &e->lastmod_len);
	e->status = status;
	e->hash = cache_hash(key, key_len);
	e->stored = time(NULL);
	e->expires = e->stored + ttl;
	e->age0 = age > 0 ? age : 0;
	e->bytes = sizeof(*e) + key_len + size;
	return e;
bad:
	free(e);
	return NULL;
}

void
cache_store(struct conn *c, int fd, uint64_t len, int status)
{
	struct cache_entry *e, *old;

	if (c->cache_key == NULL || c->cache_purged ||
	    !sup.cfg->cache_enabled || cache_table == NULL ||
	    !cachectl_status_ok(status) ||
	    (e = cache_entry_read(c->cache_key, c->cache_key_len, status, fd,
	    len, sup.cfg->cache_max_entry)) == NULL) {
		SUP_COUNT(cache_not_stored, 1);
		goto out;
	}
	if ((old = cache_find(e->key, e->key_len)) != NULL)
		cache_remove(old);
	cache_insert(e);
	SUP_COUNT(cache_stored, 1);
	cache_publish();
out:
	close(fd);
	cache_forget(c);
}

/* --- PURGE ----------------------------------------------------------- */

static void
cache_purge_answer(struct conn *c, int status)
{
	c->status = status;
	sup_count_response(status, 0);
	c->out_len = c->out_off = 0;
	conn_out_printf(c, "HTTP/1.1 %d %s\r\nServer: mwsup\r\n"
	    "Content-Length: 0\r\nCache-Control: no-store\r\n%s\r\n",
	    status, conn_reason(status),
	    c->keepalive ? "" : "Connection: close\r\n");
	conn_start_write(c);
}

int
cache_purge_request(struct conn *c)
{
	const struct config *cfg = sup.cfg;
	struct cache_entry *e;
	struct conn *f;
	char *key;
	size_t len;
	int n = 0;

	if (c->parser.method != HTTP_PURGE)
		return 0;
	if (!cfg->cache_enabled) {
		conn_error_keep(c, 405);
		return 1;
	}
	if (!status_peer_allowed(c, &cfg->cache_purge_allow)) {
		log_warn("%s: PURGE refused to %s", cfg->path,
		    c->client_unix ? "a unix socket client" : c->client_addr);
		conn_error_keep(c, 403);
		return 1;
	}
	if ((key = cache_key(c, -1, &len)) == NULL) {
		conn_error_keep(c, 400);
		return 1;
	}
	SUP_COUNT(cache_purges, 1);
	for (int variant = 0; variant < 6; variant++) {	/* codings x schemes */
		key[len] = (char)('0' + variant);
		if ((e = cache_find(key, len + 1)) != NULL) {
			cache_remove(e);
			n++;
		}
	}
	LIST_FOREACH(f, &cache_inflight, cache_link)
		if (f->cache_key_len == len + 1 &&
		    memcmp(f->cache_key, key, len) == 0)
			f->cache_purged = 1;
	free(key);
	SUP_COUNT(cache_purged, (uint64_t)n);
	cache_publish();
	cache_purge_answer(c, 200);
	return 1;
}
