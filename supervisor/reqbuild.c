/*
 * reqbuild.c - a request described (struct reqbuild) to the message a
 * worker gets: CGI/1.1 parameters, then the CTL_REQUEST message.
 */
#include "reqbuild.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
reqbuild_param(struct ctl_params *p, const char *name, const char *value)
{
	return ctl_params_add(p, name, value, strlen(value));
}

/* Is field f named name (case-insensitively)? */
static int
reqbuild_named(const struct reqbuild_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

static int
reqbuild_same_name(const struct reqbuild_field *a,
    const struct reqbuild_field *b)
{
	return a->name_len == b->name_len &&
	    strncasecmp(a->name, b->name, a->name_len) == 0;
}

/*
 * Header name to its CGI form; returns 0 if it must not be passed.  Only
 * names of letters, digits and '-' map one-to-one: PHP turns '.', ' ' and
 * '[' in a variable name into '_', so "X-Forwarded.For" or "X_Forwarded-
 * For" would arrive as HTTP_X_FORWARDED_FOR, past a proxy that strips or
 * sets only "X-Forwarded-For".  Such fields are dropped, as nginx does by
 * default (ignore_invalid_headers); so is Proxy, which would become
 * HTTP_PROXY (httpoxy).
 */
static int
reqbuild_cgi_name(const char *name, size_t n, char *out, size_t cap)
{
	size_t i;

	if (n + 6 > cap)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return 0;
	if (n == 5 && strncasecmp(name, "proxy", 5) == 0)
		return 0;
	memcpy(out, "HTTP_", 5);
	for (i = 0; i < n; i++)
		out[5 + i] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	out[5 + n] = '\0';
	return 1;
}

/* Is field f one of rb's dropped names? */
static int
reqbuild_dropped(const struct reqbuild *rb, const struct reqbuild_field *f)
{
	const char *const *d;

	for (d = rb->drop; d != NULL && *d != NULL; d++)
		if (reqbuild_named(f, *d))
			return 1;
	return 0;
}

/* The values of the fields named as fields[i], from i on, joined with
 * sep into *val (grown as needed), their length in *vlen; 0, or -1. */
static int
reqbuild_join(const struct reqbuild *rb, int i, const char *sep,
    char **val, size_t *vcap, size_t *vlen)
{
	const struct reqbuild_field *h = &rb->fields[i];
	int j;

	*vlen = 0;
	for (j = i; j < rb->nfields; j++) {
		const struct reqbuild_field *o = &rb->fields[j];
		size_t need;

		if (!reqbuild_same_name(o, h))
			continue;
		need = *vlen + o->value_len + 2;
		if (need > *vcap) {
			char *nv = realloc(*val, need * 2);

			if (nv == NULL)
				return -1;
			*val = nv;
			*vcap = need * 2;
		}
		if (*vlen > 0) {
			memcpy(*val + *vlen, sep, 2);
			*vlen += 2;
		}
		if (o->value_len > 0)
			memcpy(*val + *vlen, o->value, o->value_len);
		*vlen += o->value_len;
	}
	return 0;
}

static int
reqbuild_headers(const struct reqbuild *rb, struct ctl_params *p)
{
	char name[128], *val = NULL;
	size_t vcap = 0, vlen;
	int i, j, rc = 0;

	for (i = 0; i < rb->nfields && rc == 0; i++) {
		const struct reqbuild_field *h = &rb->fields[i];
		int seen = 0;

		for (j = 0; j < i && !seen; j++)
			seen = reqbuild_same_name(&rb->fields[j], h);
		if (seen || reqbuild_dropped(rb, h) ||
		    reqbuild_named(h, "content-length") ||
		    reqbuild_named(h, "transfer-encoding"))
			continue;
		if (reqbuild_named(h, "host")) {
			/* one field, checked; or the target's authority */
			rc = ctl_params_add(p, "HTTP_HOST",
			    rb->host ? rb->host : "", rb->host_len);
			continue;
		}
		if (reqbuild_named(h, "content-type"))
			snprintf(name, sizeof(name), "CONTENT_TYPE");
		else if (!reqbuild_cgi_name(h->name, h->name_len, name,
		    sizeof(name)))
			continue;
		rc = reqbuild_join(rb, i, strcmp(name, "HTTP_COOKIE") == 0 ?
		    "; " : ", ", &val, &vcap, &vlen);
		if (rc == 0)
			rc = ctl_params_add(p, name, val ? val : "", vlen);
	}
	free(val);
	return rc;
}

static int
reqbuild_has_host(const struct reqbuild *rb)
{
	int i;

	for (i = 0; i < rb->nfields; i++)
		if (reqbuild_named(&rb->fields[i], "host"))
			return 1;
	return 0;
}

int
reqbuild_params(const struct reqbuild *rb, struct ctl_params *p)
{
	const char *q = memchr(rb->target, '?', rb->target_len);
	char num[32];
	int i;

	ctl_params_reset(p);
	if (reqbuild_param(p, "GATEWAY_INTERFACE", "CGI/1.1") ||
	    reqbuild_param(p, "SERVER_SOFTWARE", "mwsup/" PACKAGE_VERSION) ||
	    reqbuild_param(p, "REQUEST_METHOD", rb->method) ||
	    ctl_params_add(p, "REQUEST_URI", rb->target, rb->target_len) ||
	    ctl_params_add(p, "QUERY_STRING", q ? q + 1 : "",
	    q ? rb->target_len - (size_t)(q + 1 - rb->target) : 0) ||
	    reqbuild_param(p, "SCRIPT_FILENAME", rb->script_filename) ||
	    reqbuild_param(p, "SCRIPT_NAME", rb->script_name) ||
	    reqbuild_param(p, "DOCUMENT_ROOT", rb->document_root) ||
	    reqbuild_param(p, "SERVER_PROTOCOL",
	    rb->http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1") ||
	    reqbuild_param(p, "REMOTE_ADDR", rb->remote_addr) ||
	    reqbuild_param(p, "REMOTE_PORT", rb->remote_port) ||
	    reqbuild_param(p, "SERVER_ADDR", rb->server_addr) ||
	    reqbuild_param(p, "SERVER_PORT", rb->server_port))
		return -1;
	if (rb->path_info && reqbuild_param(p, "PATH_INFO", rb->path_info))
		return -1;
	if (rb->https && reqbuild_param(p, "HTTPS", "on"))
		return -1;
	if (ctl_params_add(p, "SERVER_NAME", rb->server_name,
	    rb->server_name_len))
		return -1;
	if (rb->host_from_target && !reqbuild_has_host(rb) &&
	    ctl_params_add(p, "HTTP_HOST", rb->host ? rb->host : "",
	    rb->host_len))
		return -1;
	if (rb->content_length) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)rb->body_len);
		if (reqbuild_param(p, "CONTENT_LENGTH", num))
			return -1;
	}
	if (reqbuild_headers(rb, p) < 0)
		return -1;
	for (i = 0; i < rb->nextra; i++) {
		const struct reqbuild_field *e = &rb->extra[i];
		char name[64];

		if (e->name_len >= sizeof(name)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(name, e->name, e->name_len);
		name[e->name_len] = '\0';
		if (ctl_params_add(p, name, e->value, e->value_len))
			return -1;
	}
	return 0;
}

int
reqbuild_fits(const struct ctl_params *p, uint64_t body_len)
{
	size_t head = sizeof(struct ctl_request) + p->len;

	return head <= CTL_MSG_MAX && body_len <= CTL_MSG_MAX - head;
}

int
reqbuild_message(const struct reqbuild *rb, const struct ctl_params *p,
    char **msgp, size_t *lenp)
{
	struct ctl_request req;
	uint64_t inline_len = rb->body_in_fd ? 0 : rb->body_len;
	size_t total;
	char *msg;

	if (!reqbuild_fits(p, inline_len)) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.type = CTL_REQUEST;
	req.flags = rb->flags & ~(uint32_t)CTL_REQ_BODY_FD;
	if (rb->body_in_fd)
		req.flags |= CTL_REQ_BODY_FD;
	req.id = rb->id;
	req.params_len = (uint32_t)p->len;
	req.http_minor = rb->http_minor;
	req.body_len = rb->body_len;
	total = sizeof(req) + p->len + (size_t)inline_len;
	if ((msg = malloc(total)) == NULL)
		return -1;
	memcpy(msg, &req, sizeof(req));
	if (p->len > 0)
		memcpy(msg + sizeof(req), p->buf, p->len);
	if (inline_len > 0)
		memcpy(msg + sizeof(req) + p->len, rb->body, (size_t)inline_len);
	*msgp = msg;
	*lenp = total;
	return 0;
}
