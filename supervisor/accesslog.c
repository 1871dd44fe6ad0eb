/*
 * accesslog.c - the access log and the slow-request log.
 *
 * Lines use the combined format that every log analyser reads, followed by
 * two fields of our own: the request time in microseconds and the pid of
 * the worker that answered ("-" when the supervisor did), and with the
 * page cache on, for a request it looked at, a third: hit, miss or pass.  Lines are
 * buffered and written once per loop turn, so logging costs one write(2)
 * per batch, not per request; O_APPEND keeps lines whole when several
 * writers share a file.  SIGUSR1 reopens the file after rotation.
 */
#include "accesslog.h"
#include "conn.h"
#include "log.h"
#include "site.h"
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACCESSLOG_BUF	65536

static int accesslog_fd = -1;
static int accesslog_own;	/* we opened it (not stderr) */
static char accesslog_buf[ACCESSLOG_BUF];
static size_t accesslog_len;

static int
accesslog_open_target(const char *target, int *fdp, int *ownp)
{
	int fd;

	if (target == NULL) {
		*fdp = -1;
		*ownp = 0;
		return 0;
	}
	if (strcmp(target, "stderr") == 0) {
		*fdp = STDERR_FILENO;
		*ownp = 0;
		return 0;
	}
	fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_err("access log %s: %s", target, strerror(errno));
		return -1;
	}
	*fdp = fd;
	*ownp = 1;
	return 0;
}

int
accesslog_open(void)
{
	return accesslog_open_target(sup.cfg->access_log, &accesslog_fd,
	    &accesslog_own);
}

void
accesslog_reopen(void)
{
	int fd, own;

	accesslog_flush();
	if (accesslog_open_target(sup.cfg->access_log, &fd, &own) < 0) {
		log_warn("access log: keeping the file that was open");
		return;
	}
	if (accesslog_own)
		close(accesslog_fd);
	accesslog_fd = fd;
	accesslog_own = own;
}

void
accesslog_flush(void)
{
	size_t off = 0;

	while (off < accesslog_len && accesslog_fd >= 0) {
		ssize_t w = write(accesslog_fd, accesslog_buf + off,
		    accesslog_len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_err("access log: %s; lines dropped", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	accesslog_len = 0;
}

/* Append s (n bytes) quoted the way the combined format expects. */
static size_t
accesslog_escape(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return o;
}

void
accesslog_response(struct conn *c, int status, uint64_t bytes, pid_t worker)
{
	char req[2048], ref[1024], ua[1024], when[64], wpid[16], site[800];
	const char *v;
	size_t vl, n;
	uint64_t us = conn_request_usec(c);
	struct tm tm;
	time_t now;
	int len;

	if (sup.cfg->slow_log_ms > 0 &&
	    us >= (uint64_t)sup.cfg->slow_log_ms * 1000) {
		accesslog_escape(req, sizeof(req), c->hbuf, c->url_len);
		log_warn("slow request: %.3f s for %s %s (status %d, worker %d)",
		    (double)us / 1e6, http_method_str(c->parser.method), req,
		    status, (int)worker);
	}
	if (accesslog_fd < 0)
		return;
	n = accesslog_escape(req, sizeof(req) - 16,
	    http_method_str(c->parser.method),
	    strlen(http_method_str(c->parser.method)));
	req[n++] = ' ';
	n += accesslog_escape(req + n, sizeof(req) - n - 16, c->hbuf,
	    c->url_len);
	snprintf(req + n, sizeof(req) - n, " HTTP/1.%d", c->parser.http_minor);
	v = conn_header(c, "Referer", &vl);
	if (v)
		accesslog_escape(ref, sizeof(ref), v, vl);
	else
		strcpy(ref, "-");
	v = conn_header(c, "User-Agent", &vl);
	if (v)
		accesslog_escape(ua, sizeof(ua), v, vl);
	else
		strcpy(ua, "-");
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
	if (worker > 0)
		snprintf(wpid, sizeof(wpid), "%d", (int)worker);
	else
		strcpy(wpid, "-");
	if (accesslog_len + 4096 + sizeof(req) + sizeof(site) >
	    sizeof(accesslog_buf))
		accesslog_flush();
	/* A farm's line ends with the Host asked for and the site chosen. */
	site[0] = '\0';
	if (sup.cfg->nsites > 0) {
		char host[512];

		accesslog_escape(host, sizeof(host), c->hbuf + c->host_off,
		    c->host_len);
		snprintf(site, sizeof(site), " \"%s\" %s", c->host_len ?
		    host : "-", site_name(sup.cfg, conn_site(c)));
	}
	len = snprintf(accesslog_buf + accesslog_len,
	    sizeof(accesslog_buf) - accesslog_len,
	    "%s - - [%s] \"%s\" %d %llu \"%s\" \"%s\" %llu %s%s%s%s\n",
	    conn_client_text(c), when, req, status, (unsigned long long)bytes,
	    ref, ua, (unsigned long long)us, wpid, site,
	    c->cache_result ? " " : "", c->cache_result ? c->cache_result : "");
	if (len > 0 && (size_t)len < sizeof(accesslog_buf) - accesslog_len)
		accesslog_len += (size_t)len;
}
