/*
 * errpage.h - the bodies of the supervisor's own error answers.
 *
 * Each status has a short built-in page saying what happened in plain
 * words; mw.yaml's error_pages replaces it, status by status, with a file
 * the admin writes (HTML, at most ERRPAGE_MAX bytes), read at start and
 * at each reload, not per request.
 */
#ifndef MW_ERRPAGE_H
#define MW_ERRPAGE_H

#include <stddef.h>

struct config;

#define ERRPAGE_MAX	(64 * 1024)

/* Read cfg's error_pages: 0, or -1 after logging "mw.yaml:LINE:COL:
 * error_pages: STATUS: PATH: what is wrong" for the first that cannot be
 * used (the pages loaded before stay). */
int	errpage_load(const struct config *cfg);
void	errpage_free(void);
/* The page for status: the admin's, or the built-in one (valid until the
 * next errpage_load or errpage_body). */
const char *errpage_body(int status, size_t *lenp);
/* What status means, in a sentence. */
const char *errpage_text(int status);

#endif
