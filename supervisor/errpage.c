/*
 * errpage.c - built-in error pages, and the admin's from error_pages.
 */
#include "errpage.h"
#include "config.h"
#include "conn.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	int	 status;
	char	*body;
	size_t	 len;
} errpage_v[CONFIG_MAX_ERRPAGES];
static int errpage_n;

const char *
errpage_text(int status)
{
	switch (status) {
	case 400:
		return "The request could not be read: it is not valid HTTP.";
	case 403:
		return "You may not see what is at this address.";
	case 404:
		return "There is no page or file at this address.";
	case 405:
		return "This address does not take requests of this method.";
	case 412:
		return "The file changed: it no longer matches what the request "
		    "asked for (If-Match, If-Unmodified-Since).";
	case 416:
		return "The part of the file asked for (Range) lies past its "
		    "end.";
	case 408:
		return "The request did not arrive in time: the server stopped "
		    "waiting for it.";
	case 413:
		return "The request is larger than this server accepts.";
	case 417:
		return "The request expects something (Expect:) this server "
		    "does not do.";
	case 431:
		return "The request's headers are larger than this server "
		    "accepts.";
	case 500:
		return "Something went wrong inside the server.";
	case 502:
		return "The wiki stopped while it was answering this request. "
		    "Trying again usually works.";
	case 503:
		return "The wiki cannot take this request right now: it is "
		    "busy, starting or stopping. Please try again in a moment.";
	case 504:
		return "The wiki took too long to answer this request, so it "
		    "was stopped.";
	case 505:
		return "This server speaks HTTP/1.0 and HTTP/1.1 only.";
	}
	return status < 500 ? "The request was refused." :
	    "The server could not answer this request.";
}

/* The whole of a file of at most ERRPAGE_MAX bytes, or NULL with *why. */
static char *
errpage_read(const char *path, size_t *lenp, const char **why)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		close(fd);
		return NULL;
	}
	if (st.st_size > ERRPAGE_MAX) {
		*why = "larger than 64 KiB";
		close(fd);
		return NULL;
	}
	if ((buf = malloc(ERRPAGE_MAX + 1)) == NULL) {
		*why = "out of memory";
		close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, ERRPAGE_MAX + 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			free(buf);
			close(fd);
			return NULL;
		}
		len += (size_t)n;
		if (len > ERRPAGE_MAX) {	/* grew as it was read */
			*why = "larger than 64 KiB";
			free(buf);
			close(fd);
			return NULL;
		}
	}
	close(fd);
	*lenp = len;
	return buf;
}

void
errpage_free(void)
{
	for (int i = 0; i < errpage_n; i++)
		free(errpage_v[i].body);
	errpage_n = 0;
}

int
errpage_load(const struct config *cfg)
{
	char *body[CONFIG_MAX_ERRPAGES];
	size_t len[CONFIG_MAX_ERRPAGES];
	int i;

	for (i = 0; i < cfg->nerrpages; i++) {
		const struct config_errpage *e = &cfg->errpages[i];
		const char *why = NULL;

		if ((body[i] = errpage_read(e->path, &len[i], &why)) == NULL) {
			log_err("%s:%lu:%lu: error_pages: %d: %s: %s",
			    cfg->path, e->line, e->col, e->status, e->path,
			    why);
			while (i-- > 0)
				free(body[i]);
			return -1;
		}
	}
	errpage_free();
	for (i = 0; i < cfg->nerrpages; i++) {
		errpage_v[i].status = cfg->errpages[i].status;
		errpage_v[i].body = body[i];
		errpage_v[i].len = len[i];
	}
	errpage_n = cfg->nerrpages;
	return 0;
}

const char *
errpage_body(int status, size_t *lenp)
{
	static char buf[1024];
	int n;

	for (int i = 0; i < errpage_n; i++)
		if (errpage_v[i].status == status) {
			*lenp = errpage_v[i].len;
			return errpage_v[i].body;
		}
	n = snprintf(buf, sizeof(buf),
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>%s</p>\n"
	    "</body></html>\n", status, conn_reason(status), status,
	    conn_reason(status), errpage_text(status));
	*lenp = n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n :
	    sizeof(buf) - 1;
	return buf;
}
