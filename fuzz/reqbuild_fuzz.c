/*
 * reqbuild_fuzz.c - libFuzzer target for the request builder
 * (supervisor/reqbuild.c): what a worker gets for a request.
 *
 * An input describes a request: a first byte of switches (HTTP/1.0 or
 * 1.1, HTTPS, CONTENT_LENGTH, an absolute target, proto headers dropped,
 * the body in a descriptor), then lines: the target, the checked host,
 * the server name, then header fields "name:value" up to an empty line;
 * what follows is the body.  Besides the sanitizers' checks, what
 * reqbuild.h promises is checked: the parameter list reads back whole,
 * no name twice, every HTTP_ name in the form PHP keeps as it is and
 * never HTTP_PROXY, each field passed under its CGI name with the values
 * of its repetitions joined, dropped and framing fields never passed,
 * HTTP_HOST and CONTENT_LENGTH exactly when asked for, QUERY_STRING the
 * target's, and a message that fits reads back as the header, the list
 * and the body inline unless it goes in a descriptor.
 */
#include "reqbuild.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXF	64

struct line {
	const char	*p;
	size_t		 n;
};

/* The next line of [*p, end), without its '\n'; 0 at the end. */
static int
next_line(const char **p, const char *end, struct line *l)
{
	const char *nl;

	if (*p >= end)
		return 0;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	l->p = *p;
	l->n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl ? nl + 1 : end;
	return 1;
}

/* The value of parameter name in the list, or NULL. */
static const char *
param(const struct ctl_params *ps, const char *name, size_t *vlen)
{
	size_t off = 0;
	const char *n, *v;

	while (ctl_params_next(ps->buf, ps->len, &off, &n, &v, vlen) == 1)
		if (strcmp(n, name) == 0)
			return v;
	return NULL;
}

static int
same(const struct reqbuild_field *a, const struct reqbuild_field *b)
{
	return a->name_len == b->name_len &&
	    strncasecmp(a->name, b->name, a->name_len) == 0;
}

static int
named(const struct reqbuild_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

/* The CGI name a field would have if passed; 0 if it has none. */
static int
cgi_name(const struct reqbuild_field *f, char *out, size_t cap)
{
	size_t i;

	if (named(f, "content-type")) {
		snprintf(out, cap, "CONTENT_TYPE");
		return 1;
	}
	if (f->name_len + 6 > cap)
		return 0;
	for (i = 0; i < f->name_len; i++)
		if (!isalnum((unsigned char)f->name[i]) && f->name[i] != '-')
			return 0;
	snprintf(out, cap, "HTTP_");
	for (i = 0; i < f->name_len; i++)
		out[5 + i] = f->name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)f->name[i]);
	out[5 + f->name_len] = '\0';
	return 1;
}

/* The list reads back whole, with no name twice and HTTP_ names PHP
 * keeps as they are. */
static void
check_list(const struct ctl_params *ps)
{
	size_t off = 0, vlen, k;
	const char *n, *v;
	int r;

	while ((r = ctl_params_next(ps->buf, ps->len, &off, &n, &v,
	    &vlen)) == 1) {
		size_t off2 = 0, vlen2;
		const char *n2, *v2;
		int count = 0;

		if (*n == '\0' || strcmp(n, "HTTP_PROXY") == 0)
			abort();
		if (strncmp(n, "HTTP_", 5) == 0)
			for (k = 5; n[k] != '\0'; k++)
				if (!isupper((unsigned char)n[k]) &&
				    !isdigit((unsigned char)n[k]) && n[k] != '_')
					abort();
		while (ctl_params_next(ps->buf, ps->len, &off2, &n2, &v2,
		    &vlen2) == 1)
			count += strcmp(n, n2) == 0;
		if (count != 1)
			abort();
	}
	if (r != 0 || off != ps->len)
		abort();
}

/* Each field is passed, joined with its repetitions, or not at all. */
static void
check_fields(const struct reqbuild *rb, const struct ctl_params *ps)
{
	int i, j;

	for (i = 0; i < rb->nfields; i++) {
		const struct reqbuild_field *f = &rb->fields[i];
		const char *const *d;
		char name[128];	/* reqbuild.c's bound */
		const char *v;
		size_t vlen, want = 0;
		int pass = !named(f, "content-length") &&
		    !named(f, "transfer-encoding") && !named(f, "proxy") &&
		    !named(f, "host");

		for (d = rb->drop; d && *d; d++)
			pass = pass && !named(f, *d);
		if (named(f, "host") || !cgi_name(f, name, sizeof(name)))
			continue;
		v = param(ps, name, &vlen);
		if (!pass) {
			if (v != NULL)
				abort();
			continue;
		}
		if (v == NULL)
			abort();
		for (j = 0; j < rb->nfields; j++) {
			const struct reqbuild_field *o = &rb->fields[j];

			if (!same(o, f))
				continue;
			want += (want ? 2 : 0) + o->value_len;
			if (o->value_len > 0 &&
			    memmem(v, vlen, o->value, o->value_len) == NULL)
				abort();
		}
		if (vlen != want)
			abort();
	}
}

static void
check_params(const struct reqbuild *rb, const struct ctl_params *ps)
{
	const char *v, *q = memchr(rb->target, '?', rb->target_len);
	size_t vlen, qlen = q ? rb->target_len - (size_t)(q + 1 - rb->target) : 0;
	int i, host = rb->host_from_target;

	check_list(ps);
	check_fields(rb, ps);
	v = param(ps, "REQUEST_URI", &vlen);
	if (v == NULL || vlen != rb->target_len ||
	    memcmp(v, rb->target, vlen) != 0)
		abort();
	v = param(ps, "QUERY_STRING", &vlen);
	if (v == NULL || vlen != qlen || (qlen && memcmp(v, q + 1, qlen) != 0))
		abort();
	for (i = 0; i < rb->nfields; i++)
		host |= named(&rb->fields[i], "host");
	v = param(ps, "HTTP_HOST", &vlen);
	if ((v != NULL) != (host != 0) || (v && (vlen != rb->host_len ||
	    memcmp(v, rb->host, vlen) != 0)))
		abort();
	if ((param(ps, "CONTENT_LENGTH", &vlen) != NULL) !=
	    (rb->content_length != 0))
		abort();
	if ((param(ps, "HTTPS", &vlen) != NULL) != (rb->https != 0))
		abort();
}

static void
check_message(const struct reqbuild *rb, const struct ctl_params *ps)
{
	uint64_t inline_len = rb->body_in_fd ? 0 : rb->body_len;
	struct ctl_request req;
	char *msg;
	size_t len;

	if (reqbuild_message(rb, ps, &msg, &len) < 0) {
		if (errno != EMSGSIZE || reqbuild_fits(ps, inline_len))
			abort();
		return;
	}
	if (!reqbuild_fits(ps, inline_len) ||
	    len != sizeof(req) + ps->len + inline_len)
		abort();
	memcpy(&req, msg, sizeof(req));
	if (req.type != CTL_REQUEST || req.id != rb->id ||
	    req.params_len != ps->len || req.body_len != rb->body_len ||
	    req.http_minor != rb->http_minor ||
	    ((req.flags & CTL_REQ_BODY_FD) != 0) != (rb->body_in_fd != 0) ||
	    (req.flags & ~(uint32_t)CTL_REQ_BODY_FD) !=
	    (rb->flags & ~(uint32_t)CTL_REQ_BODY_FD) ||
	    memcmp(msg + sizeof(req), ps->buf, ps->len) != 0 ||
	    (inline_len && memcmp(msg + sizeof(req) + ps->len, rb->body,
	    inline_len) != 0))
		abort();
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const drop[] = { "X-Forwarded-Proto", "X-Proto",
	    NULL };
	static struct ctl_params ps;
	const char *p = (const char *)data, *end = p + size;
	struct reqbuild_field fields[MAXF];
	struct line target, host, server;
	struct reqbuild rb;
	unsigned sw;

	if (size < 1)
		return 0;
	sw = data[0];
	p++;
	if (!next_line(&p, end, &target) || !next_line(&p, end, &host) ||
	    !next_line(&p, end, &server))
		return 0;
	memset(&rb, 0, sizeof(rb));
	rb.id = size;
	rb.flags = (sw >> 6) * CTL_REQ_HEAD;
	rb.http_minor = sw & 1;
	rb.https = (sw >> 1) & 1;
	rb.content_length = (sw >> 2) & 1;
	rb.host_from_target = (sw >> 3) & 1;
	rb.drop = (sw >> 4) & 1 ? drop : NULL;
	rb.body_in_fd = (sw >> 5) & 1;
	rb.method = "GET";
	rb.target = target.p;
	rb.target_len = target.n;
	rb.script_filename = "/usr/share/mediawiki/index.php";
	rb.script_name = "/index.php";
	rb.path_info = rb.https ? "/Main_Page" : NULL;
	rb.document_root = "/usr/share/mediawiki";
	rb.server_name = server.p;
	rb.server_name_len = server.n;
	rb.server_addr = rb.remote_addr = "127.0.0.1";
	rb.server_port = rb.remote_port = "80";
	rb.host = host.p;
	rb.host_len = host.n;
	rb.fields = fields;
	while (rb.nfields < MAXF) {
		struct line l;
		const char *colon;

		if (!next_line(&p, end, &l) || l.n == 0)
			break;
		colon = memchr(l.p, ':', l.n);
		fields[rb.nfields].name = l.p;
		fields[rb.nfields].name_len = colon ? (size_t)(colon - l.p) : l.n;
		fields[rb.nfields].value = colon ? colon + 1 : l.p + l.n;
		fields[rb.nfields].value_len = colon ?
		    l.n - (size_t)(colon + 1 - l.p) : 0;
		rb.nfields++;
	}
	rb.body = p;
	rb.body_len = (uint64_t)(end - p);
	if (reqbuild_params(&rb, &ps) < 0) {
		/* only a NUL byte in a value is refused */
		if (errno != EINVAL || memchr(data + 1, '\0', size - 1) == NULL)
			abort();
		return 0;
	}
	check_params(&rb, &ps);
	check_message(&rb, &ps);
	return 0;
}
