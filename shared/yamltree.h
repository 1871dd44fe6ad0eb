/*
 * yamltree.h - a YAML document as a tree of nodes that know their
 * line:column, for mw.yaml's checks to point at the exact key or value.
 */
#ifndef YAMLTREE_H
#define YAMLTREE_H

#include <stdarg.h>
#include <stddef.h>

enum yamltree_kind { YAMLTREE_SCALAR, YAMLTREE_MAP, YAMLTREE_SEQ };

struct yamltree_node {
	enum yamltree_kind	 kind;
	unsigned long		 line, col;	/* 1-based */
	char			*text;	/* scalar, NUL-terminated copy */
	size_t			 len;
	int			 plain;	/* unquoted: may be null or bool */
	struct yamltree_node	*kids;	/* map: key, value, key, value... */
	size_t			 nkids, cap;
};

/* Read buf (named name in messages) into *root: nothing at all (*empty),
 * or one document; -1 after reporting the first error. */
int	yamltree_read(const char *name, const char *buf, size_t len,
	    struct yamltree_node *root, int *empty);
void	yamltree_free(struct yamltree_node *n);

/* "name:line:column: message" as an error; both return -1. */
int	yamltree_error(const char *name, unsigned long line, unsigned long col,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	yamltree_verror(const char *name, unsigned long line,
	    unsigned long col, const char *fmt, va_list ap);

#endif
