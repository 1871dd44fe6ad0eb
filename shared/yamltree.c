/*
 * yamltree.c - libyaml's events into a tree of nodes with line:column.
 *
 * mw.yaml is read whole before it is checked, so that a YAML syntax error
 * anywhere is reported before any schema error and every schema error can
 * point at the exact key or value (config.c).  Anchors, aliases, tags and
 * multi-document streams are refused: a config file must mean what it
 * plainly says to the person reading it.  Bounds on depth and node count
 * keep a wrong file from costing the stack or seconds.
 */
#include "yamltree.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The schema is 3 levels deep; anything much deeper is an error anyway,
 * and the limit keeps the recursive tree code off the stack's edge. */
#define YAMLTREE_MAX_DEPTH	32
/* A config is a few hundred nodes (keys, values, list items). */
#define YAMLTREE_MAX_NODES	20000

struct yamltree_reader {
	yaml_parser_t		 yp;
	const char		*name;
	const unsigned char	*buf;
	size_t			 len;
	size_t			 nodes;		/* built so far */
};

int
yamltree_verror(const char *name, unsigned long line, unsigned long col,
    const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_err("%s:%lu:%lu: %s", name, line, col, msg);
	return -1;
}

int
yamltree_error(const char *name, unsigned long line, unsigned long col,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yamltree_verror(name, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

void
yamltree_free(struct yamltree_node *n)
{
	size_t i;

	for (i = 0; i < n->nkids; i++)
		yamltree_free(&n->kids[i]);
	free(n->kids);
	free(n->text);
	memset(n, 0, sizeof(*n));
}

/* Reader errors carry a byte offset, not a mark; count lines ourselves. */
static void
yamltree_offset_mark(const struct yamltree_reader *r, size_t off,
    unsigned long *line, unsigned long *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if (off > r->len)
		off = r->len;
	for (i = 0; i < off; i++) {
		if (r->buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if ((r->buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static void
yamltree_syntax_error(const struct yamltree_reader *r)
{
	const yaml_parser_t *p = &r->yp;
	const char *problem = p->problem ? p->problem : "YAML syntax error";
	unsigned long line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		log_err("%s: out of memory reading YAML", r->name);
		return;
	case YAML_READER_ERROR:
		yamltree_offset_mark(r, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			yamltree_error(r->name, line, col, "%s (#x%X)", problem,
			    (unsigned)p->problem_value);
		else
			yamltree_error(r->name, line, col, "%s", problem);
		return;
	default:
		line = (unsigned long)p->problem_mark.line + 1;
		col = (unsigned long)p->problem_mark.column + 1;
		if (p->context)
			yamltree_error(r->name, line, col, "%s (%s at %lu:%lu)",
			    problem, p->context,
			    (unsigned long)p->context_mark.line + 1,
			    (unsigned long)p->context_mark.column + 1);
		else
			yamltree_error(r->name, line, col, "%s", problem);
		return;
	}
}

static int
yamltree_next(struct yamltree_reader *r, yaml_event_t *ev)
{
	if (yaml_parser_parse(&r->yp, ev))
		return 0;
	yamltree_syntax_error(r);
	return -1;
}

static int
yamltree_check_props(const struct yamltree_reader *r,
    const struct yamltree_node *n, const yaml_char_t *anchor,
    const yaml_char_t *tag)
{
	if (anchor)
		return yamltree_error(r->name, n->line, n->col,
		    "YAML anchors (&%.40s) and aliases are not supported",
		    (const char *)anchor);
	if (tag)
		return yamltree_error(r->name, n->line, n->col,
		    "YAML tags (%.60s) are not supported", (const char *)tag);
	return 0;
}

/* Turn the node starting with event ev into n; always consumes ev. */
static int
yamltree_build(struct yamltree_reader *r, yaml_event_t *ev,
    struct yamltree_node *n, int depth)
{
	yaml_event_type_t end;
	yaml_event_t kid;
	struct yamltree_node *grown;
	size_t cap;

	n->line = (unsigned long)ev->start_mark.line + 1;
	n->col = (unsigned long)ev->start_mark.column + 1;
	if (++r->nodes > YAMLTREE_MAX_NODES) {
		yamltree_error(r->name, n->line, n->col,
		    "more than %d keys, values and list items; a configuration "
		    "has a few hundred", YAMLTREE_MAX_NODES);
		goto fail;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		yamltree_error(r->name, n->line, n->col,
		    "YAML aliases (*%.40s) and anchors are not supported",
		    (const char *)ev->data.alias.anchor);
		goto fail;
	case YAML_SCALAR_EVENT:
		if (yamltree_check_props(r, n, ev->data.scalar.anchor,
		    ev->data.scalar.tag) == -1)
			goto fail;
		n->kind = YAMLTREE_SCALAR;
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if ((n->text = malloc(n->len + 1)) == NULL)
			goto nomem;
		memcpy(n->text, ev->data.scalar.value, n->len);
		n->text[n->len] = '\0';
		yaml_event_delete(ev);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		if (yamltree_check_props(r, n, ev->data.sequence_start.anchor,
		    ev->data.sequence_start.tag) == -1)
			goto fail;
		n->kind = YAMLTREE_SEQ;
		end = YAML_SEQUENCE_END_EVENT;
		break;
	case YAML_MAPPING_START_EVENT:
		if (yamltree_check_props(r, n, ev->data.mapping_start.anchor,
		    ev->data.mapping_start.tag) == -1)
			goto fail;
		n->kind = YAMLTREE_MAP;
		end = YAML_MAPPING_END_EVENT;
		break;
	default:
		yamltree_error(r->name, n->line, n->col,
		    "unexpected YAML event");
		goto fail;
	}
	yaml_event_delete(ev);
	if (depth >= YAMLTREE_MAX_DEPTH)
		return yamltree_error(r->name, n->line, n->col,
		    "nested more than %d levels deep", YAMLTREE_MAX_DEPTH);
	for (;;) {
		if (yamltree_next(r, &kid) == -1)
			return -1;
		if (kid.type == end) {
			yaml_event_delete(&kid);
			return 0;
		}
		if (n->nkids == n->cap) {
			cap = n->cap ? 2 * n->cap : 8;
			grown = realloc(n->kids, cap * sizeof(*grown));
			if (grown == NULL) {
				yaml_event_delete(&kid);
				log_err("%s: out of memory", r->name);
				return -1;
			}
			n->kids = grown;
			n->cap = cap;
		}
		memset(&n->kids[n->nkids], 0, sizeof(*n->kids));
		n->nkids++;
		/* the parent's array is not touched while the kid is built */
		if (yamltree_build(r, &kid, &n->kids[n->nkids - 1], depth + 1)
		    == -1)
			return -1;
	}

nomem:
	log_err("%s: out of memory", r->name);
fail:
	yaml_event_delete(ev);
	return -1;
}

/* Read the stream: nothing at all (*empty), or exactly one document. */
static int
yamltree_read_tree(struct yamltree_reader *r, struct yamltree_node *root,
    int *empty)
{
	yaml_event_t ev;
	yaml_event_type_t type;

	*empty = 1;
	if (yamltree_next(r, &ev) == -1)		/* stream start */
		return -1;
	yaml_event_delete(&ev);
	if (yamltree_next(r, &ev) == -1)
		return -1;
	type = ev.type;
	yaml_event_delete(&ev);
	if (type == YAML_STREAM_END_EVENT)
		return 0;
	if (yamltree_next(r, &ev) == -1)		/* the root node */
		return -1;
	*empty = 0;
	if (yamltree_build(r, &ev, root, 0) == -1)
		return -1;
	if (yamltree_next(r, &ev) == -1)		/* document end */
		return -1;
	yaml_event_delete(&ev);
	if (yamltree_next(r, &ev) == -1)
		return -1;
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		yamltree_error(r->name, (unsigned long)ev.start_mark.line + 1,
		    (unsigned long)ev.start_mark.column + 1,
		    "only one YAML document is allowed");
		yaml_event_delete(&ev);
		return -1;
	}
	yaml_event_delete(&ev);
	return 0;
}

int
yamltree_read(const char *name, const char *buf, size_t len,
    struct yamltree_node *root, int *empty)
{
	struct yamltree_reader r;
	int rc;

	*empty = 1;
	if (!yaml_parser_initialize(&r.yp)) {
		log_err("%s: out of memory", name);
		return -1;
	}
	r.name = name;
	r.buf = (const unsigned char *)buf;
	r.len = len;
	r.nodes = 0;
	yaml_parser_set_input_string(&r.yp, r.buf, len);
	rc = yamltree_read_tree(&r, root, empty);
	yaml_parser_delete(&r.yp);
	return rc;
}
