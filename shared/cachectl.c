/*
 * cachectl.c - the storability rules of the page cache, shared by the
 * worker (which sends a copy of a storable answer) and the supervisor
 * (which stores it).
 */
#include "cachectl.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool
cachectl_name_is(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && p[n] == ':' && strncasecmp(p, name, n) == 0;
}

/* A delta-seconds value at p (up to end); -1 when malformed. */
static long
cachectl_seconds(const char *p, const char *end)
{
	long v = 0;

	if (p < end && *p == '"')
		p++;
	if (p >= end || !isdigit((unsigned char)*p))
		return -1;
	while (p < end && isdigit((unsigned char)*p)) {
		if (v > 100000000L)
			return 100000000L;	/* over 3 years: plenty */
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

/* The tokens of a comma-separated value, each with its "=arg" if any. */
struct cachectl_cc {
	long	 s_maxage, max_age;
	bool	 public, deny;
};

static void
cachectl_cache_control(const char *v, const char *end, struct cachectl_cc *cc)
{
	while (v < end) {
		const char *t, *eq = NULL;

		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		for (t = v; t < end && *t != ','; t++)
			if (*t == '=' && eq == NULL)
				eq = t;
		if (eq == NULL)
			eq = t;
		while (eq > v && (eq[-1] == ' ' || eq[-1] == '\t'))
			eq--;
#define IS(s) ((size_t)(eq - v) == sizeof(s) - 1 && \
	    strncasecmp(v, s, sizeof(s) - 1) == 0)
		if (IS("private") || IS("no-store") || IS("no-cache"))
			cc->deny = true;
		else if (IS("public"))
			cc->public = true;
		else if (IS("s-maxage") && *eq == '=')
			cc->s_maxage = cachectl_seconds(eq + 1, t);
		else if (IS("max-age") && *eq == '=')
			cc->max_age = cachectl_seconds(eq + 1, t);
#undef IS
		v = t;
	}
}

/* Does Vary name only what the page cache keys on (Accept-Encoding) or
 * treats as satisfied (Cookie: it serves no request with a session)? */
static bool
cachectl_vary_ok(const char *v, const char *end)
{
	while (v < end) {
		const char *t;

		while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		for (t = v; t < end && *t != ',' && *t != ' ' && *t != '\t';
		    t++)
			;
		if (t > v && !((t - v == 15 &&
		    strncasecmp(v, "Accept-Encoding", 15) == 0) ||
		    (t - v == 6 && strncasecmp(v, "Cookie", 6) == 0)))
			return false;
		v = t;
	}
	return true;
}

long
cachectl_ttl(const char *head, size_t len)
{
	const char *p = head, *end = head + len;
	struct cachectl_cc cc = { -1, -1, false, false };
	long age = 0, ttl;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *v;
		size_t ll;

		if (le > p && le[-1] == '\r')
			le--;
		ll = (size_t)(le - p);
		v = memchr(p, ':', ll);
		if (v != NULL) {
			v++;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			if (cachectl_name_is(p, ll, "Set-Cookie"))
				return -1;
			if (cachectl_name_is(p, ll, "Cache-Control"))
				cachectl_cache_control(v, le, &cc);
			else if (cachectl_name_is(p, ll, "Vary") &&
			    !cachectl_vary_ok(v, le))
				return -1;
			else if (cachectl_name_is(p, ll, "Age") &&
			    (age = cachectl_seconds(v, le)) < 0)
				age = 0;
		}
		p = nl ? nl + 1 : end;
	}
	if (cc.deny)
		return -1;
	if (cc.s_maxage >= 0)
		ttl = cc.s_maxage;
	else if (cc.public && cc.max_age >= 0)
		ttl = cc.max_age;
	else
		return -1;
	ttl -= age;
	return ttl > 0 ? ttl : -1;
}

int
cachectl_status_ok(int status)
{
	switch (status) {
	case 200: case 203: case 300: case 301: case 308: case 404: case 410:
		return 1;
	}
	return 0;
}
