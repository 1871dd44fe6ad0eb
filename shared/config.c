/*
 * config.c - mw.yaml into struct config.
 *
 * The whole document is first read into a tree whose nodes keep their
 * line:column (yamltree.c); the tree is then checked against the tables of
 * keys below, section by section, so that every schema error points at the
 * exact key or value.  Each check is one statement (config_fail), each
 * mapping is walked by config_each_pair.  The first error stops the parse.
 */
#include "config.h"
#include "config_schema.h"
#include "log.h"
#include "yamltree.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * A config is a few kB and a few hundred nodes.  Bounds far above that
 * keep a wrong file (a log, a dump, /dev/zero) from costing seconds and
 * hundreds of MB before the first error, also on SIGHUP inside the
 * running supervisor, whose event loop waits for the parse.
 */
#define CONFIG_MAX_FILE		(1u << 20)	/* bytes; mw.yaml(5) says so */
/* Longest value text quoted back in an error message. */
#define CONFIG_QUOTE_MAX	60

struct config_walk {
	struct config		*cfg;
	const char		*name;		/* file name for messages */
	const char		*section;	/* "pool", or NULL at top level */
	char			 path[400];	/* "pool.workers", for messages */
	int			 ndefault_ini;	/* leading ini[] entries that are defaults */
};

static int config_fail(struct config_walk *, const struct yamltree_node *,
    const char *, ...) __attribute__((format(printf, 3, 4)));
/* What a mapping's walker does with one key and its value. */
typedef int config_pair_fn(struct config_walk *, const struct yamltree_node *,
    const struct yamltree_node *, const void *);
static int config_each_pair(struct config_walk *, const struct yamltree_node *,
    const char *, config_pair_fn *, const void *);
static config_pair_fn config_key_pair;

/*
 * A schema error at node n, so that each check is one statement, as in
 * "if (bad) return config_fail(w, val, "%s: ...", w->path);".
 */
static int
config_fail(struct config_walk *w, const struct yamltree_node *n,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yamltree_verror(w->name, n->line, n->col, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- small helpers for the schema walk ---- */

static int
config_is_null(const struct yamltree_node *n)
{
	if (n->kind != YAMLTREE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->text, "~") == 0 ||
	    strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
	    strcmp(n->text, "NULL") == 0;
}

/* An empty value ("key:" and nothing) has no useful position of its own:
 * libyaml puts it after the colon.  Point at the key instead. */
static const struct yamltree_node *
config_at(const struct yamltree_node *key, const struct yamltree_node *val)
{
	if (val->kind == YAMLTREE_SCALAR && val->plain && val->len == 0)
		return key;
	return val;
}

/* Quote text for a message: bounded, control bytes escaped. */
static const char *
config_quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, o = 0;
	unsigned char c;

	buf[o++] = '"';
	for (i = 0; i < len && o + 8 < size; i++) {
		if (i == CONFIG_QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* ", got ..." describing a value that did not fit, for messages. */
static const char *
config_got(const struct yamltree_node *v, char *buf, size_t size)
{
	char q[CONFIG_QUOTE_MAX * 4 + 16];

	switch (v->kind) {
	case YAMLTREE_MAP:
		return ", got a mapping";
	case YAMLTREE_SEQ:
		return ", got a sequence";
	default:
		if (v->plain && v->len == 0)
			return "";
		snprintf(buf, size, ", got %s",
		    config_quote(v->text, v->len, q, sizeof(q)));
		return buf;
	}
}

const char *
config_size_text(uint64_t v, char *buf, size_t size)
{
	if (v != 0 && v % TB == 0)
		snprintf(buf, size, "%lluT", (unsigned long long)(v / TB));
	else if (v != 0 && v % GB == 0)
		snprintf(buf, size, "%lluG", (unsigned long long)(v / GB));
	else if (v != 0 && v % MB == 0)
		snprintf(buf, size, "%lluM", (unsigned long long)(v / MB));
	else if (v != 0 && v % KB == 0)
		snprintf(buf, size, "%lluk", (unsigned long long)(v / KB));
	else
		snprintf(buf, size, "%llu", (unsigned long long)v);
	return buf;
}

/* Decimal digits only: no sign, no spaces, no 0x, no 1_000. */
static int
config_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Bytes, or with a k/K, M/m, G/g or T/t suffix in powers of 1024. */
static int
config_parse_size(const char *s, size_t len, uint64_t *out)
{
	uint64_t v, mult = 1;

	if (len > 1) {
		switch (s[len - 1]) {
		case 'k': case 'K': mult = KB; break;
		case 'm': case 'M': mult = MB; break;
		case 'g': case 'G': mult = GB; break;
		case 't': case 'T': mult = TB; break;
		}
		if (mult != 1)
			len--;
	}
	if (config_parse_u64(s, len, &v) == -1 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* Seconds, "10" or "0.5", to milliseconds; digits past the third
 * decimal are dropped. */
static int
config_parse_ms(const char *s, size_t len, uint64_t *out)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen = dot ? (size_t)(dot - s) : len, i;
	uint64_t secs, ms = 0, scale = 100;

	if (config_parse_u64(s, ilen, &secs) == -1 || secs > 1000000)
		return -1;
	if (dot) {
		if (ilen + 1 == len)
			return -1;
		for (i = ilen + 1; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			ms += (uint64_t)(s[i] - '0') * scale;
			scale /= 10;
		}
	}
	*out = secs * 1000 + ms;
	return 0;
}

/* A scalar string without NUL bytes, or an error naming w->path. */
static int
config_string(struct config_walk *w, const struct yamltree_node *key,
    const struct yamltree_node *val, const char *what)
{
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	if (val->kind != YAMLTREE_SCALAR || val->len == 0)
		return config_fail(w, at, "%s: expected %s%s",
		    w->path, what, config_got(val, got, sizeof(got)));
	if (memchr(val->text, '\0', val->len))
		return config_fail(w, at,
		    "%s: contains a NUL byte", w->path);
	return 0;
}

/*
 * A copy of s in *out, with a trailing '/' added if dir is set and s lacks
 * one.  Running out of memory is said here, naming the setting (what and
 * name run together: "php." and the ini name), so callers only return -1.
 */
static int
config_copy(struct config_walk *w, char **out, const char *s, int dir,
    const char *what, const char *name)
{
	size_t len = strlen(s);

	if ((*out = malloc(len + 2)) == NULL) {
		log_err("%s: %s%s: out of memory", w->name, what, name);
		return -1;
	}
	memcpy(*out, s, len + 1);
	if (dir && (len == 0 || s[len - 1] != '/')) {
		(*out)[len] = '/';
		(*out)[len + 1] = '\0';
	}
	return 0;
}

/* A string setting back to none (null in mw.yaml). */
static int
config_unset(char **slot)
{
	free(*slot);
	*slot = NULL;
	return 0;
}

/* Replace the string in *slot with a copy of s. */
static int
config_store(struct config_walk *w, char **slot, const char *s)
{
	char *copy;

	if (config_copy(w, &copy, s, 0, w->path, "") == -1)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

/* A URL prefix must be one a normalised request path can match. */
static const char *
config_prefix_problem(const char *s)
{
	const char *p;

	if (s[0] != '/')
		return "must start with \"/\"";
	for (p = s; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' ||
		    *p == '#')
			return "must not contain spaces, control characters, "
			    "\"?\" or \"#\"";
	}
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../") ||
	    (p - s >= 2 && strcmp(p - 2, "/.") == 0) ||
	    (p - s >= 3 && strcmp(p - 3, "/..") == 0))
		return "must not contain \"//\", \".\" or \"..\" segments";
	return NULL;
}

/* ---- value setters, one per kind of key ---- */

int
config_set_number(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32], lo[32], hi[32];
	void *field = (char *)w->cfg + k->off;
	uint64_t v;
	int bad;

	switch (k->num) {
	case CONFIG_NUM_INT:
	case CONFIG_NUM_U64:
		bad = val->kind != YAMLTREE_SCALAR ||
		    config_parse_u64(val->text, val->len, &v) == -1 ||
		    v < k->min || v > k->max;
		if (bad)
			return config_fail(w, at,
			    "%s: expected an integer from %llu to %llu%s",
			    w->path, (unsigned long long)k->min,
			    (unsigned long long)k->max,
			    config_got(val, got, sizeof(got)));
		if (k->num == CONFIG_NUM_INT)
			*(int *)field = (int)v;
		else
			*(uint64_t *)field = v;
		return 0;
	case CONFIG_NUM_SIZE:
	case CONFIG_NUM_RSS:
		bad = val->kind != YAMLTREE_SCALAR ||
		    config_parse_size(val->text, val->len, &v) == -1 ||
		    v > k->max || (v < k->min &&
		    !(k->num == CONFIG_NUM_RSS && v == 0));
		if (bad)
			return config_fail(w, at,
			    "%s: expected %sa size from %s to %s%s", w->path,
			    k->num == CONFIG_NUM_RSS ? "0 or " : "",
			    config_size_text(k->min, lo, sizeof(lo)),
			    config_size_text(k->max, hi, sizeof(hi)),
			    config_got(val, got, sizeof(got)));
		if (k->num == CONFIG_NUM_SIZE)
			*(size_t *)field = (size_t)v;
		else
			*(uint64_t *)field = (v + KB - 1) / KB;
		return 0;
	case CONFIG_NUM_MS:
		bad = val->kind != YAMLTREE_SCALAR ||
		    config_parse_ms(val->text, val->len, &v) == -1 ||
		    v < k->min || v > k->max;
		if (bad)
			return config_fail(w, at,
			    "%s: expected seconds from %s to %llu%s",
			    w->path, k->min == 0 ? "0" : "0.001",
			    (unsigned long long)k->max / 1000,
			    config_got(val, got, sizeof(got)));
		*(int *)field = (int)v;
		return 0;
	}
	return -1;
}

int
config_set_abspath(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	if (config_string(w, key, val, "an absolute path") == -1)
		return -1;
	if (val->text[0] != '/')
		return config_fail(w, val,
		    "%s: expected an absolute path%s", w->path,
		    config_got(val, got, sizeof(got)));
	return config_store(w, slot, val->text);
}

/* Same, but null ("worker:" or "worker: ~") leaves the default. */
int
config_set_abspath_opt(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);

	if (config_is_null(val))
		return config_unset(slot);
	return config_set_abspath(w, k, key, val);
}

/* log.access: "off" (or null), "stderr", or an absolute file path. */
int
config_set_log_target(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	if (config_is_null(val) ||
	    (val->kind == YAMLTREE_SCALAR && strcmp(val->text, "off") == 0))
		return config_unset(slot);
	if (config_string(w, key, val, "\"off\", \"stderr\" or an absolute path") == -1)
		return -1;
	if (strcmp(val->text, "stderr") != 0 && val->text[0] != '/')
		return config_fail(w, val,
		    "%s: expected \"off\", \"stderr\" or an absolute path%s",
		    w->path, config_got(val, got, sizeof(got)));
	return config_store(w, slot, val->text);
}

/* user, group, server_name: a plain word; null means unset. */
int
config_set_name_opt(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	const unsigned char *p;

	if (config_is_null(val))
		return config_unset(slot);
	if (config_string(w, key, val, "a name") == -1)
		return -1;
	for (p = (const unsigned char *)val->text; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '/' || *p == ':')
			return config_fail(w, val,
			    "%s: %s contains a space, \"/\", \":\" or a "
			    "control character", w->path,
			    config_quote(val->text, val->len, q, sizeof(q)));
	}
	return config_store(w, slot, val->text);
}

/* mediawiki.short_urls: a URL prefix, normalised to end in '/'. */
int
config_set_prefix_opt(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	const char *problem;
	char *p;

	if (config_is_null(val))
		return config_unset(slot);
	if (config_string(w, key, val, "a URL path like /wiki/") == -1)
		return -1;
	problem = config_prefix_problem(val->text);
	if (problem == NULL && strcmp(val->text, "/") == 0)
		problem = "would send every request to index.php; "
		    "use a prefix like /wiki/";
	if (problem)
		return config_fail(w, val, "%s: %s %s",
		    w->path, config_quote(val->text, val->len, q, sizeof(q)),
		    problem);
	if (config_copy(w, &p, val->text, 1, w->path, "") == -1)
		return -1;
	free(*slot);
	*slot = p;
	return 0;
}

/* One exact URL path (no prefix), like /healthz; null: off. */
int
config_set_urlpath_opt(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	const char *problem;

	if (config_is_null(val))
		return config_unset(slot);
	if (config_string(w, key, val, "a URL path like /healthz") == -1)
		return -1;
	problem = config_prefix_problem(val->text);
	if (problem == NULL && val->text[val->len - 1] == '/')
		problem = "must not end with \"/\"";
	if (problem)
		return config_fail(w, val, "%s: %s %s",
		    w->path, config_quote(val->text, val->len, q, sizeof(q)),
		    problem);
	return config_store(w, slot, val->text);
}

int
config_set_dispatch(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	(void)k;
	if (val->kind == YAMLTREE_SCALAR && val->len == 5 &&
	    strcmp(val->text, "queue") == 0) {
		w->cfg->dispatch = DISPATCH_QUEUE;
		return 0;
	}
	if (val->kind == YAMLTREE_SCALAR && val->len == 12 &&
	    strcmp(val->text, "longest-busy") == 0) {
		w->cfg->dispatch = DISPATCH_LONGEST_BUSY;
		return 0;
	}
	return config_fail(w, at,
	    "%s: expected \"queue\" or \"longest-busy\"%s", w->path,
	    config_got(val, got, sizeof(got)));
}

/* mediawiki.symlinks, static.symlinks: refuse, inside, owner or follow. */
int
config_set_symlinks(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	static const char *const names[] = {
		[SYMLINKS_REFUSE] = "refuse", [SYMLINKS_INSIDE] = "inside",
		[SYMLINKS_OWNER] = "owner", [SYMLINKS_FOLLOW] = "follow",
	};
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	enum symlink_policy *slot =
	    (enum symlink_policy *)(void *)((char *)w->cfg + k->off);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (val->kind == YAMLTREE_SCALAR &&
		    strcmp(val->text, names[i]) == 0) {
			*slot = (enum symlink_policy)i;
			return 0;
		}
	}
	return config_fail(w, at,
	    "%s: expected \"refuse\", \"inside\", \"owner\" or \"follow\"%s",
	    w->path, config_got(val, got, sizeof(got)));
}

/* unix_socket.mode: permission bits in octal, like chmod's "0660". */
int
config_set_mode(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	int *slot = (int *)(void *)((char *)w->cfg + k->off), v = 0;
	size_t i;

	if (val->kind != YAMLTREE_SCALAR || val->len < 3 || val->len > 4)
		goto bad;
	for (i = 0; i < val->len; i++) {
		if (val->text[i] < '0' || val->text[i] > '7')
			goto bad;
		v = v * 8 + (val->text[i] - '0');
	}
	if (v > 0777)
		goto bad;
	*slot = v;
	return 0;
bad:
	return config_fail(w, at,
	    "%s: expected permission bits in octal, like 0660%s", w->path,
	    config_got(val, got, sizeof(got)));
}

/* A YAML 1.2 core boolean, plain (true, True, TRUE, false, False,
 * FALSE): 1 or 0, or -1 when v is none. */
static int
config_bool_of(const struct yamltree_node *v)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };

	if (v->kind != YAMLTREE_SCALAR || !v->plain)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (strcmp(v->text, yes[i]) == 0)
			return 1;
		if (strcmp(v->text, no[i]) == 0)
			return 0;
	}
	return -1;
}

int
config_set_bool(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	bool *slot = (bool *)((char *)w->cfg + k->off);
	int b = config_bool_of(val);

	if (b >= 0) {
		*slot = b == 1;
		return 0;
	}
	return config_fail(w, config_at(key, val),
	    "%s: expected true or false%s", w->path,
	    config_got(val, got, sizeof(got)));
}

static int
config_host_is_name(const char *h, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		if (h[i] == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
			return 0;
		if (h[i] == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && h[len - 1] != '-';
}

/* NULL if a is a listen address we can bind, else what is wrong. */
static const char *
config_address_problem(const char *a)
{
	struct in6_addr a6;
	struct in_addr a4;
	char host[256];
	const char *port, *end, *colon;
	size_t hlen, i;
	uint64_t v;
	int numeric;

	if (strncmp(a, "unix:", 5) == 0) {
		if (a[5] != '/')
			return "socket path must be absolute";
		if (strlen(a + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return "socket path longer than 107 bytes";
		return NULL;
	}
	if (a[0] == '[') {
		if ((end = strchr(a, ']')) == NULL)
			return "missing \"]\" after the IPv6 address";
		hlen = (size_t)(end - a - 1);
		if (hlen >= sizeof(host))
			return "not a valid IPv6 address";
		memcpy(host, a + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return "not a valid IPv6 address";
		if (end[1] != ':')
			return "expected \":port\" after \"]\"";
		port = end + 2;
	} else {
		if ((colon = strrchr(a, ':')) == NULL)
			return "expected host:port, [ipv6]:port or unix:/path";
		hlen = (size_t)(colon - a);
		if (memchr(a, ':', hlen))
			return "an IPv6 address needs brackets: [addr]:port";
		if (hlen == 0)
			return "missing host (0.0.0.0 or [::] for any address)";
		if (hlen >= sizeof(host))
			return "host name too long";
		memcpy(host, a, hlen);
		host[hlen] = '\0';
		numeric = 1;
		for (i = 0; i < hlen; i++)
			if (host[i] != '.' && (host[i] < '0' || host[i] > '9'))
				numeric = 0;
		if (numeric) {
			if (inet_pton(AF_INET, host, &a4) != 1)
				return "not a valid IPv4 address";
		} else if (!config_host_is_name(host, hlen)) {
			return "not a valid host name";
		}
		port = colon + 1;
	}
	if (strlen(port) > 5 || config_parse_u64(port, strlen(port), &v) == -1 ||
	    v < 1 || v > 65535)
		return "port must be a number from 1 to 65535";
	return NULL;
}

/* An entry of listen written as a mapping: what its keys said. */
struct config_listen_map {
	const struct yamltree_node *addr;	/* NULL until "address" */
	size_t			 i;		/* the entry's index */
};

/* One key of such an entry: address or proxy_protocol. */
static int
config_listen_pair(struct config_walk *w, const struct yamltree_node *k,
    const struct yamltree_node *v, const void *arg)
{
	struct config_listen_map *m = (struct config_listen_map *)(uintptr_t)arg;
	char got[CONFIG_QUOTE_MAX * 4 + 32], q[CONFIG_QUOTE_MAX * 4 + 16];
	int b;

	if (strcmp(k->text, "address") == 0) {
		m->addr = v;
		return 0;
	}
	if (strcmp(k->text, "proxy_protocol") != 0)
		return config_fail(w, k,
		    "listen: unknown key %s (address, proxy_protocol)",
		    config_quote(k->text, k->len, q, sizeof(q)));
	if ((b = config_bool_of(v)) < 0)
		return config_fail(w, config_at(k, v),
		    "listen: proxy_protocol: expected true or false%s",
		    config_got(v, got, sizeof(got)));
	w->cfg->listen_proxy[m->i] = b == 1;
	return 0;
}

/* One entry of listen: "address", or {address: ..., proxy_protocol: bool}. */
static int
config_listen_entry(struct config_walk *w, const struct yamltree_node *e,
    size_t i, const struct yamltree_node **addrp)
{
	struct config_listen_map m = { e, i };
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	const char *problem;

	w->cfg->listen_proxy[i] = false;
	if (e->kind == YAMLTREE_MAP) {
		m.addr = NULL;
		if (config_each_pair(w, e, "listen", config_listen_pair,
		    &m) == -1)
			return -1;
		if (m.addr == NULL)
			return config_fail(w, e,
			    "listen: an entry written as a mapping needs "
			    "\"address\"");
	}
	if (config_string(w, m.addr, m.addr, "an address") == -1)
		return -1;
	if ((problem = config_address_problem(m.addr->text)) != NULL)
		return config_fail(w, m.addr, "listen %s: %s",
		    config_quote(m.addr->text, m.addr->len, q, sizeof(q)),
		    problem);
	*addrp = m.addr;
	return 0;
}

int
config_set_listen(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	const struct yamltree_node *at = config_at(key, val), *a = NULL;
	const struct yamltree_node *seen[CONFIG_MAX_LISTEN];
	struct config *cfg = w->cfg;
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	size_t i, j;

	(void)k;
	if (val->kind != YAMLTREE_SEQ)
		return config_fail(w, at,
		    "listen: expected a sequence of addresses%s",
		    config_got(val, got, sizeof(got)));
	if (val->nkids == 0)
		return config_fail(w, val,
		    "listen: expected at least one address");
	for (i = 0; i < (size_t)cfg->nlisten; i++) {
		free(cfg->listen[i]);
		cfg->listen[i] = NULL;
	}
	cfg->nlisten = 0;
	for (i = 0; i < val->nkids; i++) {
		if (i == CONFIG_MAX_LISTEN)
			return config_fail(w, &val->kids[i],
			    "listen: more than %d addresses", CONFIG_MAX_LISTEN);
		if (config_listen_entry(w, &val->kids[i], i, &a) == -1)
			return -1;
		for (j = 0; j < i; j++) {
			if (strcmp(seen[j]->text, a->text) == 0)
				return config_fail(w, a,
				    "listen \"%s\": listed twice (first at "
				    "%lu:%lu)", a->text, seen[j]->line,
				    seen[j]->col);
		}
		seen[i] = a;
		if (config_store(w, &cfg->listen[i], a->text) == -1)
			return -1;
		cfg->nlisten++;
	}
	return 0;
}

/* Keys must be scalars and appear once; i indexes the key/value pair. */
static int
config_check_key(struct config_walk *w, const struct yamltree_node *map,
    size_t i, const char *where)
{
	const struct yamltree_node *key = &map->kids[2 * i], *prev;
	char got[CONFIG_QUOTE_MAX * 4 + 32], q[CONFIG_QUOTE_MAX * 4 + 16];
	size_t j;

	if (key->kind != YAMLTREE_SCALAR || key->len == 0)
		return config_fail(w, key,
		    "%s%sexpected a key name%s", where ? where : "",
		    where ? ": " : "", config_got(key, got, sizeof(got)));
	for (j = 0; j < i; j++) {
		prev = &map->kids[2 * j];
		if (prev->len == key->len &&
		    memcmp(prev->text, key->text, key->len) == 0)
			return config_fail(w, key,
			    "%s%sduplicate key %s (first at %lu:%lu)",
			    where ? where : "", where ? ": " : "",
			    config_quote(key->text, key->len, q, sizeof(q)),
			    prev->line, prev->col);
	}
	return 0;
}

/* The entry of the table keys named by key, or NULL. */
static const struct config_key *
config_find_key(const struct config_key *keys, const struct yamltree_node *key)
{
	for (; keys->name; keys++)
		if (strlen(keys->name) == key->len &&
		    memcmp(keys->name, key->text, key->len) == 0)
			return keys;
	return NULL;
}

/*
 * Every mapping is walked here: each key must be a scalar and appear once
 * (messages name the mapping as where; NULL at the top level) before fn
 * sees it with its value.  The first error stops the walk.
 */
static int
config_each_pair(struct config_walk *w, const struct yamltree_node *map,
    const char *where, config_pair_fn *fn, const void *arg)
{
	for (size_t i = 0; i < map->nkids / 2; i++)
		if (config_check_key(w, map, i, where) == -1 ||
		    fn(w, &map->kids[2 * i], &map->kids[2 * i + 1], arg) == -1)
			return -1;
	return 0;
}

/*
 * A section written as a mapping (what it maps, for the message when it is
 * not one); null keeps the defaults.
 */
static int
config_section(struct config_walk *w, const struct yamltree_node *key,
    const struct yamltree_node *val, const char *what, const char *where,
    config_pair_fn *fn, const void *arg)
{
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	if (config_is_null(val))
		return 0;
	if (val->kind != YAMLTREE_MAP)
		return config_fail(w, config_at(key, val), "%s: expected %s%s",
		    w->path, what, config_got(val, got, sizeof(got)));
	return config_each_pair(w, val, where, fn, arg);
}

static int
config_ini_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		    *s == '-'))
			return 0;
	return 1;
}

/* One php.ini setting, merged over the defaults. */
static int
config_php_pair(struct config_walk *w, const struct yamltree_node *name,
    const struct yamltree_node *v, const void *unused)
{
	struct config *cfg = w->cfg;
	char q[CONFIG_QUOTE_MAX * 4 + 16], got[CONFIG_QUOTE_MAX * 4 + 32];
	const char *text;
	char *copy;
	int j, b;

	(void)unused;
	if (memchr(name->text, '\0', name->len) ||
	    !config_ini_name_ok(name->text))
		return config_fail(w, name,
		    "php: bad setting name %s", config_quote(name->text,
		    name->len, q, sizeof(q)));
	if (v->kind != YAMLTREE_SCALAR)
		return config_fail(w, v,
		    "php.%s: expected a value%s", name->text,
		    config_got(v, got, sizeof(got)));
	/* what the worker's php.ini text cannot carry */
	if (memchr(v->text, '\0', v->len) || strpbrk(v->text, "\"\r\n"))
		return config_fail(w, v,
		    "php.%s: a value cannot hold a double quote, a "
		    "newline or a NUL byte", name->text);
	text = v->text;
	if (config_is_null(v))
		text = "";
	else if ((b = config_bool_of(v)) >= 0)
		text = b ? "1" : "0";
	if (config_copy(w, &copy, text, 0, "php.", name->text) == -1)
		return -1;
	/* a default of the same name is overridden, not repeated */
	for (j = 0; j < w->ndefault_ini; j++)
		if (strcmp(cfg->ini[j].name, name->text) == 0)
			break;
	if (j < w->ndefault_ini) {
		free(cfg->ini[j].value);
		cfg->ini[j].value = copy;
		return 0;
	}
	if (cfg->nini == CONFIG_MAX_INI) {
		free(copy);
		return config_fail(w, name,
		    "php: more than %d settings", CONFIG_MAX_INI);
	}
	cfg->ini[cfg->nini].value = copy;
	if (config_copy(w, &cfg->ini[cfg->nini].name, name->text, 0,
	    "php.", name->text) == -1) {
		free(copy);
		cfg->ini[cfg->nini].value = NULL;
		return -1;
	}
	cfg->nini++;
	return 0;
}

/* php: name -> scalar. */
int
config_set_php(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	(void)k;
	return config_section(w, key, val, "a mapping of php.ini settings",
	    "php", config_php_pair, NULL);
}

/*
 * mediawiki.cache_control, static.cache_control: a Cache-Control value
 * sent as it is written; "" or null sends none.  Printable ASCII only, so it
 * cannot end the header line or start another.
 */
int
config_set_cache_control(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	if (config_is_null(val) ||
	    (val->kind == YAMLTREE_SCALAR && val->len == 0))
		return config_unset(slot);
	if (val->kind != YAMLTREE_SCALAR)
		return config_fail(w, at,
		    "%s: expected a Cache-Control value (\"\" for none)%s",
		    w->path, config_got(val, got, sizeof(got)));
	if (val->len > 256)
		return config_fail(w, at,
		    "%s: longer than 256 characters", w->path);
	for (size_t i = 0; i < val->len; i++) {
		unsigned char ch = (unsigned char)val->text[i];

		if (ch < 0x20 || ch > 0x7e)
			return config_fail(w, at,
			    "%s: %s contains a control or non-ASCII character",
			    w->path, config_quote(val->text, val->len, got,
			    sizeof(got)));
	}
	return config_store(w, slot, val->text);
}

/* A media type as RFC 9110 writes one: type "/" subtype [; parameters],
 * tokens of visible ASCII; NULL or what is wrong with s. */
static const char *
config_media_type_problem(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);

	if (len > 200)
		return "is longer than 200 characters";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return "contains a control or non-ASCII character";
	if (slash == NULL || slash == s || slash + 1 == s + len ||
	    strcspn(s, " ;/") != (size_t)(slash - s) ||
	    slash[1] == ' ' || slash[1] == ';')
		return "is not a media type like \"image/png\"";
	return NULL;
}

/* One static.types entry: extension -> media type. */
static int
config_type_pair(struct config_walk *w, const struct yamltree_node *ext,
    const struct yamltree_node *type, const void *unused)
{
	struct config *cfg = w->cfg;
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	struct config_type *t;
	const char *problem;

	(void)unused;
	config_quote(ext->text, ext->len, q, sizeof(q));
	if (ext->len > 32 || strspn(ext->text, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-") != ext->len)
		return config_fail(w, ext,
		    "static.types %s: an extension is up to 32 letters, "
		    "digits, \"_\", \"+\" or \"-\", without the dot", q);
	if (type->kind != YAMLTREE_SCALAR || type->len == 0 ||
	    (problem = config_media_type_problem(type->text,
	    type->len)) != NULL) {
		char got[CONFIG_QUOTE_MAX * 4 + 32];
		const struct yamltree_node *at = config_at(ext, type);

		return config_fail(w, at,
		    "static.types %s: expected a media type like "
		    "\"image/png\"%s", q,
		    config_got(type, got, sizeof(got)));
	}
	if (cfg->ntypes == CONFIG_MAX_TYPES)
		return config_fail(w, ext,
		    "static.types: more than %d extensions",
		    CONFIG_MAX_TYPES);
	t = &cfg->types[cfg->ntypes];
	if (config_copy(w, &t->ext, ext->text, 0, "static.types",
	    "") == -1 || config_copy(w, &t->type, type->text, 0,
	    "static.types", "") == -1) {
		free(t->ext);
		t->ext = NULL;
		return -1;
	}
	for (char *c = t->ext; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	cfg->ntypes++;
	return 0;
}

/* static.types: extension -> media type, over /etc/mime.types. */
int
config_set_static_types(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	(void)k;
	return config_section(w, key, val,
	    "a mapping of file name extension to media type", "static.types",
	    config_type_pair, NULL);
}

/* The keys of static that are settings, not URL prefixes. */
const struct config_key config_static_keys[] = {
	{ "symlinks", config_set_symlinks,
	    offsetof(struct config, static_symlinks), 0, 0, 0, NULL },
	{ "cache_control", config_set_cache_control,
	    offsetof(struct config, static_cache_control), 0, 0, 0, NULL },
	{ "types", config_set_static_types, 0, 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

/*
 * A URL prefix -> directory entry (pre is the key, a text starting with
 * '/'), added to statics (n of them); where names the mapping in messages.
 */
static int
config_static_entry(struct config_walk *w, const struct yamltree_node *pre,
    const struct yamltree_node *dir, struct config_static *statics, int *n,
    const char *where)
{
	struct config_static *st;
	char q[CONFIG_QUOTE_MAX * 4 + 16], got[CONFIG_QUOTE_MAX * 4 + 32];
	const char *problem;
	char *prefix;
	int j;

	config_quote(pre->text, pre->len, q, sizeof(q));
	if (memchr(pre->text, '\0', pre->len))
		problem = "contains a NUL byte";
	else if (strcmp(pre->text, "/") == 0)
		problem = "is the MediaWiki root, which is always served";
	else
		problem = config_prefix_problem(pre->text);
	if (problem)
		return config_fail(w, pre,
		    "%s %s: prefix %s", where, q, problem);
	if (dir->kind != YAMLTREE_SCALAR || dir->len == 0 ||
	    dir->text[0] != '/' || memchr(dir->text, '\0', dir->len)) {
		dir = config_at(pre, dir);
		return config_fail(w, dir,
		    "%s %s: expected an absolute directory path%s",
		    where, q, config_got(pre + 1, got, sizeof(got)));
	}
	if (*n == CONFIG_MAX_STATIC)
		return config_fail(w, pre,
		    "%s: more than %d prefixes", where, CONFIG_MAX_STATIC);
	if (config_copy(w, &prefix, pre->text, 1, where, "") == -1)
		return -1;
	/* "/images" and "/images/" are the same prefix */
	for (j = 0; j < *n; j++) {
		if (strcmp(statics[j].prefix, prefix) == 0) {
			config_fail(w, pre,
			    "%s %s: same prefix as %s at %lu:%lu",
			    where, q, statics[j].prefix,
			    statics[j].line, statics[j].col);
			free(prefix);
			return -1;
		}
	}
	st = &statics[*n];
	st->prefix = prefix;
	st->line = pre->line;
	st->col = pre->col;
	if (config_copy(w, &st->dir, dir->text, 0, where, "") == -1) {
		free(prefix);
		st->prefix = NULL;
		return -1;
	}
	(*n)++;
	return 0;
}

/* One static entry: a URL prefix -> directory, or a setting. */
static int
config_static_pair(struct config_walk *w, const struct yamltree_node *pre,
    const struct yamltree_node *dir, const void *unused)
{
	char q[CONFIG_QUOTE_MAX * 4 + 16];

	(void)unused;
	/* URL prefixes start with '/'; other keys are settings */
	if (pre->text[0] != '/') {
		const struct config_key *k = config_static_keys;

		config_quote(pre->text, pre->len, q, sizeof(q));
		/* by the text up to a NUL byte, as ever for these keys */
		while (k->name && strcmp(k->name, pre->text) != 0)
			k++;
		if (k->name == NULL)
			return config_fail(w, pre,
			    "unknown key %s in static (a URL prefix "
			    "starts with \"/\")", q);
		snprintf(w->path, sizeof(w->path), "static.%s", k->name);
		return k->set(w, k, pre, dir);
	}
	return config_static_entry(w, pre, dir, w->cfg->statics,
	    &w->cfg->nstatics, "static");
}

/* static: URL prefix -> absolute directory, and the settings above. */
int
config_set_static(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	(void)k;
	return config_section(w, key, val,
	    "a mapping of URL prefix to directory", "static",
	    config_static_pair, NULL);
}

/*
 * What warm workers keep by default (mwsup --dump prints it, and
 * worker/README.md says why each is safe): services made from the site's
 * configuration only, holding no user, request or database connection
 * (LanguageConverterFactory's converters, which do, are emptied after
 * each request: CLEAR_PROPERTIES in php/warm-services.php).
 * The worker checks each one's object graph and drops any that holds
 * something of a request anyway.
 */
static const char *const config_default_exclude[] = {
	"service:BootstrapConfig", "service:ConfigFactory", "service:MainConfig",
	"service:ConfigRepository", "service:ConfigSchema",
	"service:HookContainer", "service:ObjectFactory",
	"service:LocalServerObjectCache", "service:LocalisationCache",
	"service:LanguageNameUtils", "service:LanguageFallback",
	"service:LanguageConverterFactory", "service:LanguageFactory",
	"service:ContentLanguage", "service:MagicWordFactory",
	"service:TitleFactory",
	"service:NamespaceInfo", "service:ContentHandlerFactory",
	"service:GroupPermissionsLookup", "service:GrantsInfo",
	"service:TempUserConfig", "service:JsonCodec", "service:UrlUtils",
	"service:MimeAnalyzer",
	NULL
};

/*
 * What warm workers set back after each request instead of making anew
 * by default: "core", every service of MediaWiki core's ServiceWiring.php
 * but the few made from the request (MADE_FROM_REQUEST in
 * php/warm-services.php).
 */
static const char *const config_default_reset[] = { "core", NULL };

static void
config_free_names(char **names, int *n)
{
	int i;

	for (i = 0; i < *n; i++) {
		free(names[i]);
		names[i] = NULL;
	}
	*n = 0;
}

/*
 * snapshot.exclude and snapshot.reset: a sequence of names, which replaces
 * the default list (an empty one empties it).
 */
static int
config_set_names(struct config_walk *w, const struct yamltree_node *key,
    const struct yamltree_node *val, char **names, int *n, int max)
{
	const struct yamltree_node *at = config_at(key, val), *e;
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	size_t i;

	if (config_is_null(val))
		return 0;
	if (val->kind != YAMLTREE_SEQ)
		return config_fail(w, at,
		    "%s: expected a sequence of names%s", w->path,
		    config_got(val, got, sizeof(got)));
	config_free_names(names, n);
	for (i = 0; i < val->nkids; i++) {
		e = &val->kids[i];
		if (i == (size_t)max)
			return config_fail(w, e,
			    "%s: more than %d entries", w->path, max);
		if (config_string(w, e, e, "a name") == -1)
			return -1;
		if (config_store(w, &names[i], e->text) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

int
config_set_exclude(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	(void)k;
	return config_set_names(w, key, val, w->cfg->exclude,
	    &w->cfg->nexclude, CONFIG_MAX_EXCLUDE);
}

/* snapshot.reset: service names ("core": all of core's); no spaces. */
int
config_set_reset(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config *cfg = w->cfg;
	const char *c;
	int i;

	(void)k;
	if (config_set_names(w, key, val, cfg->reset, &cfg->nreset,
	    CONFIG_MAX_EXCLUDE) == -1)
		return -1;
	for (i = 0; i < cfg->nreset; i++) {
		for (c = cfg->reset[i]; *c != '\0'; c++)
			if (isspace((unsigned char)*c) || *c == ',')
				break;
		if (*c != '\0' || cfg->reset[i][0] == '\0')
			return config_fail(w, &val->kids[i],
			    "%s: \"%s\" is not a service name",
			    w->path, cfg->reset[i]);
	}
	return 0;
}

/* status.allow, proxy.trusted, cache.purge_allow: addresses or networks
 * (a.b.c.d[/n], v6[/n]) or "unix". */
int
config_set_cidrs(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config_cidrs *list =
	    (struct config_cidrs *)(void *)((char *)w->cfg + k->off);
	struct config_cidr *v = list->v;
	int *np = &list->n;
	const struct yamltree_node *at = config_at(key, val), *e;
	char got[CONFIG_QUOTE_MAX * 4 + 32], host[64];
	size_t i;

	*np = 0;
	if (config_is_null(val))
		return 0;
	if (val->kind != YAMLTREE_SEQ)
		return config_fail(w, at,
		    "%s: expected a sequence of addresses%s", w->path,
		    config_got(val, got, sizeof(got)));
	for (i = 0; i < val->nkids; i++) {
		struct config_cidr *c = &v[i];
		const char *slash;
		size_t hl;
		uint64_t bits;
		int max;

		e = &val->kids[i];
		if (i == CONFIG_MAX_ALLOW)
			return config_fail(w, e,
			    "%s: more than %d entries", w->path, CONFIG_MAX_ALLOW);
		if (config_string(w, e, e, "an address") == -1)
			return -1;
		memset(c, 0, sizeof(*c));
		if (strcmp(e->text, "unix") == 0) {
			c->family = AF_UNIX;
			(*np)++;
			continue;
		}
		slash = strchr(e->text, '/');
		hl = slash ? (size_t)(slash - e->text) : strlen(e->text);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, e->text, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, c->addr) == 1) {
			c->family = AF_INET;
			max = 32;
		} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
			c->family = AF_INET6;
			max = 128;
		} else
			goto bad;
		if (slash) {
			if (config_parse_u64(slash + 1, strlen(slash + 1),
			    &bits) == -1 || bits > (uint64_t)max)
				goto bad;
			c->bits = (int)bits;
		} else
			c->bits = max;
		(*np)++;
		continue;
bad:
		return config_fail(w, e,
		    "%s: expected an IPv4 or IPv6 address, optionally with "
		    "/prefix-length, or \"unix\"%s", w->path,
		    config_got(e, got, sizeof(got)));
	}
	return 0;
}

int
config_cidr_match(const struct config_cidrs *list, int fam, const uint8_t *a)
{
	for (int i = 0; i < list->n; i++) {
		const struct config_cidr *r = &list->v[i];
		int full = r->bits / 8, rest = r->bits % 8;

		if (r->family != fam)
			continue;
		if (fam == AF_UNIX)
			return 1;
		if (memcmp(a, r->addr, (size_t)full) != 0)
			continue;
		if (rest && ((a[full] ^ r->addr[full]) & (0xff << (8 - rest))))
			continue;
		return 1;
	}
	return 0;
}

/* proxy.header, proxy.proto_header: a header field name (null: none,
 * where allowed). */
int
config_set_header_name(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char **slot = (char **)((char *)w->cfg + k->off);
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	const char *p;

	if (config_is_null(val) && k->min == 0)
		return config_unset(slot);
	if (config_is_null(val))
		return config_fail(w, config_at(key, val),
		    "%s: expected a header name, not null", w->path);
	if (config_string(w, key, val, "a header name") == -1)
		return -1;
	for (p = val->text; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			break;
	if (*p != '\0' || val->len > 64)
		return config_fail(w, val,
		    "%s: %s is not a header name (letters, digits and \"-\", "
		    "at most 64)", w->path,
		    config_quote(val->text, val->len, q, sizeof(q)));
	return config_store(w, slot, val->text);
}

/* A job type or group name: what MediaWiki's $wgJobClasses keys look like;
 * no ',' (the worker gets type lists comma-separated) and no spaces. */
static int
config_job_name(struct config_walk *w, const struct yamltree_node *e,
    const char *what)
{
	char q[CONFIG_QUOTE_MAX * 4 + 16];
	const unsigned char *p;

	if (config_string(w, e, e, what) == -1)
		return -1;
	for (p = (const unsigned char *)e->text; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == ',')
			return config_fail(w, e,
			    "%s: %s contains a space, \",\" or a control "
			    "character", w->path,
			    config_quote(e->text, e->len, q, sizeof(q)));
	}
	return 0;
}

/* jobs.groups[].types: the job types of a group. */
int
config_set_job_types(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config_job_group *g = (struct config_job_group *)(void *)
	    ((char *)w->cfg + k->off - offsetof(struct config_job_group, types));
	const struct yamltree_node *at = config_at(key, val), *e;
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	size_t i;

	if (val->kind != YAMLTREE_SEQ || val->nkids == 0)
		return config_fail(w, at,
		    "%s: expected a sequence of job types (leave the key out "
		    "for every type no other group names)%s", w->path,
		    config_got(val, got, sizeof(got)));
	for (i = 0; i < val->nkids; i++) {
		e = &val->kids[i];
		if (i == CONFIG_MAX_JOB_TYPES)
			return config_fail(w, e,
			    "%s: more than %d entries", w->path,
			    CONFIG_MAX_JOB_TYPES);
		if (config_job_name(w, e, "a job type") == -1 ||
		    config_store(w, &g->types[i], e->text) == -1)
			return -1;
		g->ntypes++;
	}
	return 0;
}

#define G(field)	offsetof(struct config_job_group, field)
const struct config_key config_job_group_keys[] = {
	{ "name",	config_set_name_opt,	G(name), 0, 0, 0, NULL },
	{ "types",	config_set_job_types,	G(types), 0, 0, 0, NULL },
	{ "max_jobs",	config_set_number,	G(max_jobs),
	    CONFIG_NUM_INT, 1, 100000, NULL },
	{ "max_time",	config_set_number,	G(max_time_ms),
	    CONFIG_NUM_MS, 1, 86400000, NULL },
	{ "workers",	config_set_number,	G(workers),
	    CONFIG_NUM_INT, 1, 1024, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};
#undef G

/* A job group's or a site's keys, and the end of the table. */
#define CONFIG_ENTRY_KEYS	8
_Static_assert(sizeof(config_job_group_keys) / sizeof(config_job_group_keys[0])
    <= CONFIG_ENTRY_KEYS, "CONFIG_ENTRY_KEYS");

/*
 * One entry of jobs.groups or sites written as a mapping, walked with the
 * entry's table (offsets relative to its struct), moved to the entry at
 * off in struct config; messages name the entry as where.
 */
static int
config_walk_entry(struct config_walk *w, const struct config_key *table,
    size_t off, const char *where, const struct yamltree_node *map)
{
	struct config_key keys[CONFIG_ENTRY_KEYS];
	const char *outer = w->section;
	size_t n;
	int rc;

	for (n = 0; table[n].name; n++) {
		keys[n] = table[n];
		keys[n].off += off;
	}
	keys[n] = table[n];
	w->section = where;
	rc = config_each_pair(w, map, where, config_key_pair, keys);
	w->section = outer;
	return rc;
}

/* Where group i says it runs type t (a line:col for messages), or NULL. */
static const struct yamltree_node *
config_job_type_node(const struct yamltree_node *seq, size_t i, const char *t)
{
	const struct yamltree_node *map = &seq->kids[i];

	for (size_t j = 0; j < map->nkids / 2; j++) {
		const struct yamltree_node *key = &map->kids[2 * j];

		if (key->len == 5 && strcmp(key->text, "types") == 0 &&
		    key[1].kind == YAMLTREE_SEQ)
			for (size_t n = 0; n < key[1].nkids; n++)
				if (strcmp(key[1].kids[n].text, t) == 0)
					return &key[1].kids[n];
	}
	return map;
}

/* jobs.groups: a sequence of {name, types, max_jobs, max_time, workers}. */
int
config_set_job_groups(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config *cfg = w->cfg;
	const struct yamltree_node *at = config_at(key, val), *e;
	char got[CONFIG_QUOTE_MAX * 4 + 32], where[64];
	int catchall = -1;
	size_t i;

	(void)k;
	if (config_is_null(val))
		return 0;
	if (val->kind != YAMLTREE_SEQ || val->nkids == 0)
		return config_fail(w, at,
		    "%s: expected a sequence of groups%s", w->path,
		    config_got(val, got, sizeof(got)));
	for (i = 0; i < val->nkids; i++) {
		struct config_job_group *g = &cfg->job_groups[i];

		e = &val->kids[i];
		if (i == CONFIG_MAX_JOB_GROUPS)
			return config_fail(w, e,
			    "%s: more than %d groups", w->path,
			    CONFIG_MAX_JOB_GROUPS);
		snprintf(where, sizeof(where), "jobs.groups[%zu]", i + 1);
		if (e->kind != YAMLTREE_MAP)
			return config_fail(w, e,
			    "%s: expected a mapping (name, types, max_jobs, "
			    "max_time, workers)%s", where,
			    config_got(e, got, sizeof(got)));
		cfg->njob_groups = (int)i + 1;
		if (config_walk_entry(w, config_job_group_keys,
		    offsetof(struct config, job_groups) + i * sizeof(*g),
		    where, e) == -1)
			return -1;
		if (g->name == NULL)
			return config_fail(w, e,
			    "%s: a group needs a name", where);
		for (size_t j = 0; j < i; j++) {
			const struct config_job_group *o = &cfg->job_groups[j];

			if (strcmp(o->name, g->name) == 0)
				return config_fail(w, e,
				    "%s: group name \"%s\" is used twice",
				    where, g->name);
			for (int a = 0; a < g->ntypes; a++)
				for (int b = 0; b < o->ntypes; b++) {
					const struct yamltree_node *n;

					if (strcmp(g->types[a], o->types[b]) != 0)
						continue;
					n = config_job_type_node(val, i,
					    g->types[a]);
					return config_fail(w, n,
					    "%s: job type %s is already in "
					    "group \"%s\"", where, g->types[a],
					    o->name);
				}
		}
		if (g->ntypes == 0) {
			if (catchall >= 0)
				return config_fail(w, e,
				    "%s: groups \"%s\" and \"%s\" both have no "
				    "types; only one group can take the types "
				    "no group names", where,
				    cfg->job_groups[catchall].name, g->name);
			catchall = (int)i;
		}
	}
	return 0;
}

/* ---- sites: a wiki farm ---- */

#define CONFIG_SITE(field_off) \
	((struct config_site *)(void *)((char *)w->cfg + k->off - (field_off)))

/* A copy of the scalar's text in lower case, into *out. */
static int
config_store_lower(struct config_walk *w, char **out,
    const struct yamltree_node *v)
{
	if (config_copy(w, out, v->text, 0, w->path, "") == -1)
		return -1;
	for (char *c = *out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

/* Is lower-case host h a name or an alias of a site before site n, or of
 * site n itself (its name and its first nalias aliases)?  Which, or NULL. */
static const struct config_site *
config_site_taken(const struct config *cfg, int n, int nalias, const char *h)
{
	for (int i = 0; i <= n; i++) {
		const struct config_site *s = &cfg->sites[i];
		int na = i == n ? nalias : s->naliases;

		if (s->name && strcmp(s->name, h) == 0)
			return s;
		for (int j = 0; j < na; j++)
			if (strcmp(s->aliases[j], h) == 0)
				return s;
	}
	return NULL;
}

/* sites.NAME.aliases: host names or "*.suffix" wildcards. */
int
config_set_site_aliases(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config_site *site = CONFIG_SITE(offsetof(struct config_site,
	    aliases));
	const struct yamltree_node *at = config_at(key, val), *e;
	const struct config_site *o;
	char got[CONFIG_QUOTE_MAX * 4 + 32], q[CONFIG_QUOTE_MAX * 4 + 16];
	int n = (int)(site - w->cfg->sites);
	size_t i;

	if (val->kind != YAMLTREE_SEQ || val->nkids == 0)
		return config_fail(w, at,
		    "%s: expected a sequence of host names%s", w->path,
		    config_got(val, got, sizeof(got)));
	for (i = 0; i < val->nkids; i++) {
		const char *h;

		e = &val->kids[i];
		if (i == CONFIG_MAX_ALIASES)
			return config_fail(w, e,
			    "%s: more than %d aliases", w->path,
			    CONFIG_MAX_ALIASES);
		if (config_string(w, e, e, "a host name") == -1)
			return -1;
		h = e->text;
		if (strncmp(h, "*.", 2) == 0)
			h += 2;
		if (!config_host_is_name(h, strlen(h)))
			return config_fail(w, e,
			    "%s: %s is not a host name nor \"*.\" and one",
			    w->path, config_quote(e->text, e->len, q,
			    sizeof(q)));
		if (config_store_lower(w, &site->aliases[i], e) == -1)
			return -1;
		site->naliases++;
		if ((o = config_site_taken(w->cfg, n, (int)i,
		    site->aliases[i])) != NULL)
			return config_fail(w, e,
			    "%s: %s is already a host of site %s (%lu:%lu)",
			    w->path, site->aliases[i], o->name, o->line,
			    o->col);
	}
	return 0;
}

/* sites.NAME.static: URL prefixes of this site only. */
static int
config_site_static_pair(struct config_walk *w, const struct yamltree_node *pre,
    const struct yamltree_node *dir, const void *arg)
{
	struct config_site *site = (struct config_site *)(uintptr_t)arg;
	char q[CONFIG_QUOTE_MAX * 4 + 16];

	if (pre->text[0] != '/')
		return config_fail(w, pre,
		    "%s: %s is not a URL prefix (one starts with \"/\"; "
		    "symlinks, cache_control and types are static:'s)",
		    w->section, config_quote(pre->text, pre->len, q,
		    sizeof(q)));
	return config_static_entry(w, pre, dir, site->statics,
	    &site->nstatics, w->section);
}

int
config_set_site_static(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config_site *site = CONFIG_SITE(offsetof(struct config_site,
	    statics));
	const char *outer = w->section;
	char where[400];
	int rc;

	snprintf(where, sizeof(where), "%s", w->path);
	w->section = where;
	rc = config_section(w, key, val,
	    "a mapping of URL prefix to directory", where,
	    config_site_static_pair, site);
	w->section = outer;
	return rc;
}

#define S(field)	offsetof(struct config_site, field)
const struct config_key config_site_keys[] = {
	{ "settings",	config_set_abspath,	S(settings), 0, 0, 0, NULL },
	{ "aliases",	config_set_site_aliases, S(aliases), 0, 0, 0, NULL },
	{ "workers",	config_set_number,	S(workers),
	    CONFIG_NUM_INT, 1, 1024, NULL },
	{ "default",	config_set_bool,	S(is_default), 0, 0, 0, NULL },
	{ "static",	config_set_site_static,	S(statics), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};
#undef S
_Static_assert(sizeof(config_site_keys) / sizeof(config_site_keys[0])
    <= CONFIG_ENTRY_KEYS, "CONFIG_ENTRY_KEYS");

/* One site: host name -> LocalSettings.php, or -> a mapping. */
static int
config_site_pair(struct config_walk *w, const struct yamltree_node *name,
    const struct yamltree_node *val, const void *unused)
{
	struct config *cfg = w->cfg;
	struct config_site *site;
	const struct config_site *o;
	char q[CONFIG_QUOTE_MAX * 4 + 16], got[CONFIG_QUOTE_MAX * 4 + 32];
	char where[400];
	int n = cfg->nsites;

	(void)unused;
	config_quote(name->text, name->len, q, sizeof(q));
	if (n == CONFIG_MAX_SITES)
		return config_fail(w, name, "sites: more than %d sites",
		    CONFIG_MAX_SITES);
	if (memchr(name->text, '\0', name->len) ||
	    !config_host_is_name(name->text, name->len))
		return config_fail(w, name,
		    "sites: %s is not a host name (a site is named by its "
		    "host; more hosts go in its aliases)", q);
	site = &cfg->sites[n];
	cfg->nsites = n + 1;
	site->line = name->line;
	site->col = name->col;
	snprintf(w->path, sizeof(w->path), "sites");
	if (config_store_lower(w, &site->name, name) == -1)
		return -1;
	snprintf(where, sizeof(where), "sites.%s", site->name);
	if ((o = config_site_taken(cfg, n, 0, site->name)) != NULL &&
	    o != site)
		return config_fail(w, name,
		    "sites: %s is already a host of site %s (%lu:%lu)",
		    site->name, o->name, o->line, o->col);
	if (val->kind == YAMLTREE_SCALAR && !config_is_null(val)) {
		snprintf(w->path, sizeof(w->path), "%s", where);
		if (config_string(w, name, val, "an absolute path") == -1)
			return -1;
		if (val->text[0] != '/')
			return config_fail(w, val, "%s: expected the absolute "
			    "path of its LocalSettings.php%s", where,
			    config_got(val, got, sizeof(got)));
		return config_store(w, &site->settings, val->text);
	}
	if (val->kind != YAMLTREE_MAP)
		return config_fail(w, config_at(name, val),
		    "%s: expected the path of its LocalSettings.php or a "
		    "mapping (settings, aliases, workers, default, static)%s",
		    where, config_got(val, got, sizeof(got)));
	if (config_walk_entry(w, config_site_keys, offsetof(struct config,
	    sites) + (size_t)n * sizeof(*site), where, val) == -1)
		return -1;
	if (site->settings == NULL)
		return config_fail(w, name,
		    "%s: needs settings (its LocalSettings.php)", where);
	if (site->is_default)
		for (int i = 0; i < n; i++)
			if (cfg->sites[i].is_default)
				return config_fail(w, name, "%s: default: "
				    "site %s is the default already (%lu:%lu)",
				    where, cfg->sites[i].name,
				    cfg->sites[i].line, cfg->sites[i].col);
	return 0;
}

int
config_set_sites(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	(void)k;
	if (config_is_null(val))
		return 0;	/* no farm, as mwsup --dump writes it */
	if (val->kind != YAMLTREE_MAP || val->nkids == 0)
		return config_fail(w, config_at(key, val),
		    "sites: expected a mapping of host name to "
		    "LocalSettings.php (or to settings, aliases, workers, "
		    "default, static)%s", config_got(val, got, sizeof(got)));
	return config_each_pair(w, val, "sites", config_site_pair, NULL);
}

/* The key node a at the top, or the key b in a's mapping; or NULL. */
static const struct yamltree_node *
config_lookup(const struct yamltree_node *root, const char *a, const char *b)
{
	const struct yamltree_node *m = root, *key = NULL;
	const char *name[2] = { a, b };

	for (int d = 0; d < 2 && name[d]; d++) {
		if (key)
			m = key + 1;
		key = NULL;
		if (m->kind != YAMLTREE_MAP)
			return NULL;
		for (size_t i = 0; i < m->nkids / 2 && !key; i++)
			if (m->kids[2 * i].kind == YAMLTREE_SCALAR &&
			    strcmp(m->kids[2 * i].text, name[d]) == 0)
				key = &m->kids[2 * i];
		if (key == NULL)
			return NULL;
	}
	return key;
}

/* The keys of the one wiki of a file without sites, which a farm must not
 * have, and why. */
const char *const config_one_wiki[][3] = {
	{ "mediawiki", "settings", "each site names its own" },
	{ "mediawiki", "server_name", "each site's is its name" },
	{ "jobs", "sqlite", "each site's job slices poll its own queue" },
	{ NULL, NULL, NULL },
};

/*
 * What needs the whole file: each site's pool size (pool.workers may come
 * after sites:), and the settings that name the one wiki of a file
 * without sites, which a farm must not have.
 */
static int
config_finish(struct config_walk *w, const struct yamltree_node *root)
{
	struct config *cfg = w->cfg;
	const struct yamltree_node *n;
	int total = 0;

	if (cfg->nsites == 0) {
		cfg->workers_total = cfg->workers;
		return 0;
	}
	for (size_t i = 0; config_one_wiki[i][0]; i++)
		if ((n = config_lookup(root, config_one_wiki[i][0],
		    config_one_wiki[i][1])) != NULL)
			return config_fail(w, n, "%s.%s: not with sites: (%s)",
			    config_one_wiki[i][0], config_one_wiki[i][1],
			    config_one_wiki[i][2]);
	for (int i = 0; i < cfg->nsites; i++) {
		if (cfg->sites[i].workers == 0)
			cfg->sites[i].workers = cfg->workers;
		total += cfg->sites[i].workers;
	}
	if (total > 1024)
		return config_fail(w, config_lookup(root, "sites", NULL),
		    "sites: %d workers in all, more than 1024", total);
	cfg->workers_total = total;
	return 0;
}

/* compression.gzip, compression.brotli: a level, or "off" (0). */
int
config_set_level(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	const struct yamltree_node *at = config_at(key, val);
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	int *slot = (int *)((char *)w->cfg + k->off);
	uint64_t v;

	if (val->kind == YAMLTREE_SCALAR && val->plain &&
	    (strcmp(val->text, "off") == 0 || strcmp(val->text, "false") == 0)) {
		*slot = 0;
		return 0;
	}
	if (val->kind != YAMLTREE_SCALAR ||
	    config_parse_u64(val->text, val->len, &v) == -1 ||
	    v < k->min || v > k->max)
		return config_fail(w, at,
		    "%s: expected \"off\" or a level from %llu to %llu%s",
		    w->path, (unsigned long long)k->min,
		    (unsigned long long)k->max,
		    config_got(val, got, sizeof(got)));
	*slot = (int)v;
	return 0;
}

/* compression.types: media types ("text/html") or wildcards ("text/" "*"),
 * replace the default list. */
int
config_set_compress_types(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	struct config *cfg = w->cfg;
	const char *problem;
	char got[CONFIG_QUOTE_MAX * 4 + 32];

	(void)k;
	if (config_set_names(w, key, val, cfg->compress_types,
	    &cfg->ncompress_types, CONFIG_MAX_COMPRESS_TYPES) == -1)
		return -1;
	for (int i = 0; i < cfg->ncompress_types; i++) {
		const char *t = cfg->compress_types[i];

		if (strchr(t, ';'))
			problem = "has parameters (the media type alone is "
			    "compared)";
		else
			problem = config_media_type_problem(t, strlen(t));
		if (problem)
			return config_fail(w, &val->kids[i],
			    "%s: %s %s", w->path, config_quote(t, strlen(t),
			    got, sizeof(got)), problem);
		for (char *c = cfg->compress_types[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	return 0;
}

/* The default compression.types: the text MediaWiki and its assets send. */
static const char *const config_default_compress_types[] = {
	"text/html", "text/css", "text/javascript", "application/javascript",
	"application/json", "text/plain", "text/xml", "application/xml",
	"image/svg+xml", "application/rss+xml", "application/atom+xml",
	"application/opensearchdescription+xml", "application/x-javascript",
	NULL,
};

/* compression: a mapping, or "off" for no compression at all. */
int
config_set_compression(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	if (val->kind == YAMLTREE_SCALAR && val->plain &&
	    (strcmp(val->text, "off") == 0 || strcmp(val->text, "false") == 0)) {
		w->cfg->gzip_level = w->cfg->brotli_level = 0;
		return 0;
	}
	return config_set_section(w, k, key, val);
}

/* cache: a mapping (on when given, unless enabled: false), or "off"/"on". */
int
config_set_cache(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	if (val->kind == YAMLTREE_SCALAR && val->plain &&
	    (strcmp(val->text, "off") == 0 || strcmp(val->text, "false") == 0)) {
		w->cfg->cache_enabled = false;
		return 0;
	}
	if (val->kind == YAMLTREE_SCALAR && val->plain &&
	    (strcmp(val->text, "on") == 0 || strcmp(val->text, "true") == 0)) {
		w->cfg->cache_enabled = true;
		return 0;
	}
	w->cfg->cache_enabled = true;
	if (config_set_section(w, k, key, val) == -1)
		return -1;
	if (w->cfg->cache_max_entry > w->cfg->cache_size)
		return config_fail(w, config_at(key, val),
		    "cache: max_entry (%zu bytes) is larger than size (%zu "
		    "bytes)", w->cfg->cache_max_entry, w->cfg->cache_size);
	return 0;
}

/* ---- the schema ---- */

#define F(field)	offsetof(struct config, field)

static const struct config_key config_mediawiki_keys[] = {
	{ "root",	config_set_abspath,	F(mw_root), 0, 0, 0, NULL },
	{ "settings",	config_set_abspath,	F(mw_settings), 0, 0, 0, NULL },
	{ "short_urls",	config_set_prefix_opt,	F(mw_short_urls), 0, 0, 0, NULL },
	{ "server_name", config_set_name_opt,	F(server_name), 0, 0, 0, NULL },
	{ "symlinks",	config_set_symlinks,	F(mw_symlinks), 0, 0, 0, NULL },
	{ "cache_control", config_set_cache_control, F(mw_cache_control),
	    0, 0, 0, NULL },
	{ "favicon",	config_set_abspath_opt,	F(mw_favicon), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_pool_keys[] = {
	{ "workers",	config_set_number,	F(workers),
	    CONFIG_NUM_INT, 1, 1024, NULL },
	{ "dispatch",	config_set_dispatch,	F(dispatch), 0, 0, 0, NULL },
	{ "queue_max",	config_set_number,	F(queue_max),
	    CONFIG_NUM_INT, 0, 1000000, NULL },
	{ "worker",	config_set_abspath_opt,	F(worker_path), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

#define CONFIG_DURATION(name, field) \
	{ name, config_set_number, F(field), CONFIG_NUM_MS, 1, 86400000, NULL }

static const struct config_key config_timeouts_keys[] = {
	CONFIG_DURATION("header",	header_timeout_ms),
	CONFIG_DURATION("body",		body_timeout_ms),
	CONFIG_DURATION("request",	request_timeout_ms),
	CONFIG_DURATION("keepalive",	keepalive_timeout_ms),
	CONFIG_DURATION("shutdown",	shutdown_timeout_ms),
	CONFIG_DURATION("startup",	startup_timeout_ms),
	{ "drain", config_set_number, F(drain_ms), CONFIG_NUM_MS, 0, 3600000,
	    NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_limits_keys[] = {
	{ "head",	config_set_number,	F(head_max),
	    CONFIG_NUM_SIZE, KB, MB, NULL },
	{ "body",	config_set_number,	F(body_max),
	    CONFIG_NUM_SIZE, 0, 16 * GB, NULL },
	{ "headers",	config_set_number,	F(headers_max),
	    CONFIG_NUM_INT, 1, 10000, NULL },
	{ "connections", config_set_number,	F(connections_max),
	    CONFIG_NUM_INT, 1, 1000000, NULL },
	{ "body_buffer", config_set_number,	F(body_buffer),
	    CONFIG_NUM_SIZE, 0, GB, NULL },
	{ "response_buffer", config_set_number, F(response_buffer),
	    CONFIG_NUM_SIZE, 0, GB, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_recycle_keys[] = {
	{ "max_requests", config_set_number,	F(max_requests),
	    CONFIG_NUM_U64, 0, 1000000000, NULL },
	{ "max_rss",	config_set_number,	F(max_rss_kb),
	    CONFIG_NUM_RSS, MB, TB, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_status_keys[] = {
	{ "path",	config_set_prefix_opt,	F(status_path), 0, 0, 0, NULL },
	{ "health",	config_set_urlpath_opt,	F(status_health), 0, 0, 0, NULL },
	{ "allow",	config_set_cidrs,	F(status_allow), 0, 0, 0, NULL },
	{ "show_query",	config_set_bool,	F(status_show_query), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

/* error_pages: STATUS: /path/to/page.html */
static int
config_errpage_pair(struct config_walk *w, const struct yamltree_node *key,
    const struct yamltree_node *val, const void *arg)
{
	struct config *cfg = w->cfg;
	struct config_errpage *e;
	char q[CONFIG_QUOTE_MAX * 4 + 16], got[CONFIG_QUOTE_MAX * 4 + 32];
	uint64_t status;

	(void)arg;
	if (cfg->nerrpages == CONFIG_MAX_ERRPAGES)
		return config_fail(w, key, "error_pages: more than %d pages",
		    CONFIG_MAX_ERRPAGES);
	if (config_parse_u64(key->text, key->len, &status) == -1 ||
	    status < 400 || status > 599)
		return config_fail(w, key,
		    "error_pages: %s is not an HTTP error status (400 to 599)",
		    config_quote(key->text, key->len, q, sizeof(q)));
	snprintf(w->path, sizeof(w->path), "error_pages.%d", (int)status);
	if (config_string(w, key, val, "an absolute path") == -1)
		return -1;
	if (val->text[0] != '/')
		return config_fail(w, val,
		    "%s: expected an absolute path%s", w->path,
		    config_got(val, got, sizeof(got)));
	e = &cfg->errpages[cfg->nerrpages];
	if (config_store(w, &e->path, val->text) == -1)
		return -1;
	e->status = (int)status;
	e->line = val->line;
	e->col = val->col;
	cfg->nerrpages++;
	return 0;
}

int
config_set_errpages(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	(void)k;
	for (int i = 0; i < w->cfg->nerrpages; i++) {
		free(w->cfg->errpages[i].path);
		w->cfg->errpages[i].path = NULL;
	}
	w->cfg->nerrpages = 0;
	return config_section(w, key, val, "a mapping of status to file",
	    "error_pages", config_errpage_pair, NULL);
}

static const struct config_key config_proxy_keys[] = {
	{ "trusted",	config_set_cidrs,	F(proxy_trusted), 0, 0, 0, NULL },
	{ "header",	config_set_header_name,	F(proxy_header), 0, 1, 0, NULL },
	{ "proto_header", config_set_header_name, F(proxy_proto_header),
	    0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_unix_socket_keys[] = {
	{ "owner",	config_set_name_opt,	F(socket_owner), 0, 0, 0, NULL },
	{ "group",	config_set_name_opt,	F(socket_group), 0, 0, 0, NULL },
	{ "mode",	config_set_mode,	F(socket_mode), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

/* log.slow: seconds, or off (the default). */
int
config_set_slow(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	if (val->kind == YAMLTREE_SCALAR && val->plain &&
	    strcmp(val->text, "off") == 0) {
		*(int *)(void *)((char *)w->cfg + k->off) = 0;
		return 0;
	}
	return config_set_number(w, k, key, val);
}

static const struct config_key config_log_keys[] = {
	{ "access",	config_set_log_target,	F(access_log), 0, 0, 0, NULL },
	{ "slow",	config_set_slow,	F(slow_log_ms),
	    CONFIG_NUM_MS, 1, 86400000, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_snapshot_keys[] = {
	{ "enabled",	config_set_bool,	F(snapshot_enabled), 0, 0, 0, NULL },
	{ "exclude",	config_set_exclude,	F(exclude), 0, 0, 0, NULL },
	{ "reset",	config_set_reset,	F(reset), 0, 0, 0, NULL },
	{ "gc_interval", config_set_number,	F(gc_interval),
	    CONFIG_NUM_INT, 1, 1000000, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_jobs_keys[] = {
	{ "enabled",	config_set_bool,	F(jobs_enabled), 0, 0, 0, NULL },
	{ "reserve",	config_set_number,	F(jobs_reserve),
	    CONFIG_NUM_INT, 0, 1024, NULL },
	{ "max_jobs",	config_set_number,	F(jobs_max_jobs),
	    CONFIG_NUM_INT, 1, 100000, NULL },
	CONFIG_DURATION("max_time",	jobs_max_time_ms),
	CONFIG_DURATION("timeout",	jobs_timeout_ms),
	{ "memory_limit", config_set_number,	F(jobs_memory_limit),
	    CONFIG_NUM_SIZE, 16 * MB, 64 * GB, NULL },
	CONFIG_DURATION("poll",		jobs_poll_ms),
	CONFIG_DURATION("chron",	jobs_chron_ms),
	{ "sqlite",	config_set_abspath_opt, F(jobs_sqlite), 0, 0, 0, NULL },
	{ "groups",	config_set_job_groups,	F(job_groups), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_compression_keys[] = {
	{ "gzip",	config_set_level,	F(gzip_level), 0, 1, 9, NULL },
	{ "brotli",	config_set_level,	F(brotli_level), 0, 1, 11, NULL },
	{ "min_size",	config_set_number,	F(compress_min),
	    CONFIG_NUM_SIZE, 0, GB, NULL },
	{ "types",	config_set_compress_types, F(compress_types),
	    0, 0, 0, NULL },
	{ "static_cache", config_set_number,	F(static_cache),
	    CONFIG_NUM_SIZE, 0, 64 * GB, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

static const struct config_key config_cache_keys[] = {
	{ "enabled",	config_set_bool,	F(cache_enabled), 0, 0, 0, NULL },
	{ "size",	config_set_number,	F(cache_size),
	    CONFIG_NUM_SIZE, 64 * KB, 64 * GB, NULL },
	{ "max_entry",	config_set_number,	F(cache_max_entry),
	    CONFIG_NUM_SIZE, KB, GB, NULL },
	{ "purge_allow", config_set_cidrs, F(cache_purge_allow),
	    0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

const struct config_key config_top_keys[] = {
	{ "listen",	config_set_listen,	F(listen), 0, 0, 0, NULL },
	{ "unix_socket", config_set_section,	0, 0, 0, 0, config_unix_socket_keys },
	{ "mediawiki",	config_set_section,	0, 0, 0, 0, config_mediawiki_keys },
	{ "pool",	config_set_section,	0, 0, 0, 0, config_pool_keys },
	{ "timeouts",	config_set_section,	0, 0, 0, 0, config_timeouts_keys },
	{ "limits",	config_set_section,	0, 0, 0, 0, config_limits_keys },
	{ "recycle",	config_set_section,	0, 0, 0, 0, config_recycle_keys },
	{ "php",	config_set_php,		F(ini), 0, 0, 0, NULL },
	{ "static",	config_set_static,	F(statics), 0, 0, 0, NULL },
	{ "compression", config_set_compression, 0, 0, 0, 0,
	    config_compression_keys },
	{ "cache",	config_set_cache,	0, 0, 0, 0, config_cache_keys },
	{ "snapshot",	config_set_section,	0, 0, 0, 0, config_snapshot_keys },
	{ "log",	config_set_section,	0, 0, 0, 0, config_log_keys },
	{ "status",	config_set_section,	0, 0, 0, 0, config_status_keys },
	{ "proxy",	config_set_section,	0, 0, 0, 0, config_proxy_keys },
	{ "error_pages", config_set_errpages,	F(errpages), 0, 0, 0, NULL },
	{ "jobs",	config_set_section,	0, 0, 0, 0, config_jobs_keys },
	{ "sites",	config_set_sites,	F(sites), 0, 0, 0, NULL },
	{ "temp_dir",	config_set_abspath,	F(temp_dir), 0, 0, 0, NULL },
	{ "user",	config_set_name_opt,	F(user), 0, 0, 0, NULL },
	{ "group",	config_set_name_opt,	F(group), 0, 0, 0, NULL },
	{ NULL, NULL, 0, 0, 0, 0, NULL }
};

#undef F

/* A key of the table keys (of the section w->section): its setter. */
static int
config_key_pair(struct config_walk *w, const struct yamltree_node *key,
    const struct yamltree_node *val, const void *keys)
{
	const struct config_key *k = config_find_key(keys, key);
	char q[CONFIG_QUOTE_MAX * 4 + 16];

	if (k == NULL) {
		config_quote(key->text, key->len, q, sizeof(q));
		if (w->section)
			return config_fail(w, key,
			    "unknown key %s in %s", q, w->section);
		return config_fail(w, key, "unknown key %s at top level", q);
	}
	snprintf(w->path, sizeof(w->path), "%s%s%s",
	    w->section ? w->section : "", w->section ? "." : "", k->name);
	return k->set(w, k, key, val);
}

int
config_set_section(struct config_walk *w, const struct config_key *k,
    const struct yamltree_node *key, const struct yamltree_node *val)
{
	const char *outer = w->section;
	int rc;

	w->section = k->name;
	rc = config_section(w, key, val, "a mapping", k->name,
	    config_key_pair, k->sub);
	w->section = outer;
	return rc;
}

/* ---- defaults, entry points ---- */

/*
 * php.ini settings every worker gets unless mw.yaml says otherwise: no PHP
 * time limit (mwsup's request timeout applies) and OPcache sized for
 * MediaWiki, whose ~6,000 files and their strings overflow PHP's defaults
 * (the same sizes a tuned PHP-FPM pool uses).
 */
static const char *const config_default_ini[][2] = {
	{ "memory_limit",			"256M" },
	{ "max_execution_time",			"0" },
	{ "opcache.memory_consumption",		"256" },
	{ "opcache.interned_strings_buffer",	"16" },
	{ "opcache.max_accelerated_files",	"20000" },
	{ NULL, NULL },
};

/* A default list of names (NULL-ended) copied into names, *n of them. */
static int
config_default_names(char **names, int *n, const char *const *list)
{
	for (; *list != NULL; list++) {
		if ((names[*n] = strdup(*list)) == NULL)
			return -1;
		(*n)++;
	}
	return 0;
}

static int
config_defaults(struct config *cfg, const char *name)
{
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = strdup(name);
	cfg->listen[0] = strdup("127.0.0.1:8080");
	cfg->nlisten = 1;
	cfg->mw_root = strdup("/usr/share/mediawiki");
	cfg->mw_settings = strdup("/etc/mediawiki/LocalSettings.php");
	cfg->mw_symlinks = SYMLINKS_OWNER;
	cfg->static_symlinks = SYMLINKS_INSIDE;
	/* MediaWiki's own files change with an upgrade only; an upload can
	 * be replaced under the same name at any time, so it is checked
	 * again each time (a 304 when unchanged). */
	cfg->mw_cache_control = strdup("max-age=86400");
	cfg->static_cache_control = strdup("max-age=0, must-revalidate");
	cfg->socket_mode = 0660;
	cfg->workers = 4;
	cfg->workers_total = 4;
	cfg->dispatch = DISPATCH_QUEUE;
	cfg->queue_max = 256;
	cfg->header_timeout_ms = 10 * 1000;
	cfg->body_timeout_ms = 60 * 1000;
	cfg->request_timeout_ms = 60 * 1000;
	cfg->keepalive_timeout_ms = 5 * 1000;
	cfg->shutdown_timeout_ms = 30 * 1000;
	cfg->startup_timeout_ms = 60 * 1000;
	cfg->head_max = 16 * KB;
	cfg->body_max = 100 * MB;
	cfg->headers_max = 100;
	cfg->connections_max = 1024;
	cfg->body_buffer = 256 * KB;
	cfg->response_buffer = 256 * KB;
	cfg->temp_dir = strdup("/var/tmp/mwsup");
	cfg->proxy_header = strdup("X-Forwarded-For");
	cfg->proxy_proto_header = strdup("X-Forwarded-Proto");
	cfg->max_requests = 10000;
	cfg->max_rss_kb = 512 * KB;
	cfg->snapshot_enabled = true;
	cfg->gc_interval = 8;
	cfg->jobs_enabled = true;
	cfg->jobs_reserve = 1;
	cfg->jobs_max_jobs = 10;
	cfg->jobs_max_time_ms = 2 * 1000;
	cfg->jobs_timeout_ms = 300 * 1000;
	cfg->jobs_memory_limit = 300 * MB;
	cfg->jobs_poll_ms = 2 * 1000;
	cfg->jobs_chron_ms = 10 * 1000;
	cfg->gzip_level = 5;
	cfg->brotli_level = 5;
	cfg->compress_min = 256;
	cfg->static_cache = 16 * MB;
	cfg->cache_size = 64 * MB;
	cfg->cache_max_entry = MB;
	for (i = 0; config_default_ini[i][0] != NULL; i++) {
		cfg->ini[i].name = strdup(config_default_ini[i][0]);
		cfg->ini[i].value = strdup(config_default_ini[i][1]);
		cfg->nini++;
		if (cfg->ini[i].name == NULL || cfg->ini[i].value == NULL)
			goto nomem;
	}
	if (config_default_names(cfg->compress_types, &cfg->ncompress_types,
	    config_default_compress_types) == -1 ||
	    config_default_names(cfg->exclude, &cfg->nexclude,
	    config_default_exclude) == -1 ||
	    config_default_names(cfg->reset, &cfg->nreset,
	    config_default_reset) == -1)
		goto nomem;
	if (!cfg->path || !cfg->listen[0] || !cfg->mw_root ||
	    !cfg->mw_settings || !cfg->temp_dir || !cfg->proxy_header ||
	    !cfg->proxy_proto_header)
		goto nomem;
	return 0;
nomem:
	log_err("%s: out of memory", name);
	return -1;
}

int
config_parse(struct config *cfg, const char *name, const char *buf,
    size_t len)
{
	struct config_walk w;
	struct yamltree_node root;
	char got[CONFIG_QUOTE_MAX * 4 + 32];
	int empty, rc = -1;

	if (name == NULL)
		name = "(config)";
	if (buf == NULL)
		buf = "";
	memset(&root, 0, sizeof(root));
	if (config_defaults(cfg, name) == -1)
		goto out;
	rc = yamltree_read(name, buf, len, &root, &empty);
	if (rc == -1 || empty || config_is_null(&root))
		goto out;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.name = name;
	w.ndefault_ini = cfg->nini;
	if (root.kind != YAMLTREE_MAP) {
		yamltree_error(name, root.line, root.col,
		    "expected a mapping of settings at top level%s",
		    config_got(&root, got, sizeof(got)));
		rc = -1;
		goto out;
	}
	rc = config_each_pair(&w, &root, NULL, config_key_pair,
	    config_top_keys);
	if (rc == 0)
		rc = config_finish(&w, &root);
out:
	yamltree_free(&root);
	if (rc == -1)
		config_free(cfg);
	return rc;
}

int
config_load(struct config *cfg, const char *path, char **bufp, size_t *lenp)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	memset(cfg, 0, sizeof(*cfg));
	if (bufp)
		*bufp = NULL;
	if (lenp)
		*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_err("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	/* A regular file says its size: refuse a huge one before reading a
	 * byte.  Anything else (a pipe) is read up to one byte past the
	 * bound. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > (off_t)CONFIG_MAX_FILE) {
		log_err("%s: too large (%lld bytes, at most %u)", path,
		    (long long)st.st_size, CONFIG_MAX_FILE);
		goto fail;
	}
	if ((buf = malloc(CONFIG_MAX_FILE + 2)) == NULL) {
		log_err("%s: cannot read: out of memory", path);
		goto fail;
	}
	for (;;) {
		n = read(fd, buf + len, CONFIG_MAX_FILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_err("%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE) {
			log_err("%s: too large (more than %u bytes)", path,
			    CONFIG_MAX_FILE);
			goto fail;
		}
	}
	close(fd);
	buf[len] = '\0';	/* handy for callers; not part of len */
	rc = config_parse(cfg, path, buf, len);
	if (rc == -1 || bufp == NULL) {
		free(buf);
		return rc;
	}
	*bufp = buf;
	if (lenp)
		*lenp = len;
	return 0;

fail:
	close(fd);
	free(buf);
	return -1;
}

void
config_free(struct config *cfg)
{
	int i;

	free(cfg->path);
	for (i = 0; i < CONFIG_MAX_LISTEN; i++)
		free(cfg->listen[i]);
	free(cfg->mw_root);
	free(cfg->mw_settings);
	free(cfg->mw_short_urls);
	free(cfg->server_name);
	free(cfg->worker_path);
	free(cfg->mw_cache_control);
	free(cfg->mw_favicon);
	free(cfg->static_cache_control);
	for (i = 0; i < CONFIG_MAX_TYPES; i++) {
		free(cfg->types[i].ext);
		free(cfg->types[i].type);
	}
	for (i = 0; i < CONFIG_MAX_INI; i++) {
		free(cfg->ini[i].name);
		free(cfg->ini[i].value);
	}
	for (i = 0; i < CONFIG_MAX_STATIC; i++) {
		free(cfg->statics[i].prefix);
		free(cfg->statics[i].dir);
	}
	for (i = 0; i < CONFIG_MAX_EXCLUDE; i++) {
		free(cfg->exclude[i]);
		free(cfg->reset[i]);
	}
	free(cfg->temp_dir);
	free(cfg->socket_owner);
	free(cfg->socket_group);
	free(cfg->user);
	free(cfg->access_log);
	free(cfg->status_path);
	free(cfg->status_health);
	free(cfg->proxy_header);
	free(cfg->proxy_proto_header);
	for (i = 0; i < CONFIG_MAX_ERRPAGES; i++)
		free(cfg->errpages[i].path);
	free(cfg->group);
	free(cfg->jobs_sqlite);
	for (i = 0; i < CONFIG_MAX_SITES; i++) {
		struct config_site *s = &cfg->sites[i];

		free(s->name);
		free(s->settings);
		for (int j = 0; j < CONFIG_MAX_ALIASES; j++)
			free(s->aliases[j]);
		for (int j = 0; j < CONFIG_MAX_STATIC; j++) {
			free(s->statics[j].prefix);
			free(s->statics[j].dir);
		}
	}
	for (i = 0; i < CONFIG_MAX_COMPRESS_TYPES; i++)
		free(cfg->compress_types[i]);
	for (i = 0; i < CONFIG_MAX_JOB_GROUPS; i++) {
		free(cfg->job_groups[i].name);
		for (int j = 0; j < CONFIG_MAX_JOB_TYPES; j++)
			free(cfg->job_groups[i].types[j]);
	}
	memset(cfg, 0, sizeof(*cfg));
}

