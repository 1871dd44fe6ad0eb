/*
 * request.c - take a CTL_REQUEST apart and run PHP for it.
 *
 * Everything the request needs stays where the supervisor put it: the
 * parameters in the received message, a large body in its spool (a memfd,
 * or a file of temp_dir for a very large one: mapped, not copied).
 * request_run() picks between the warm cycle (warm_run() inside the kept
 * bootstrap, then warm_cleanup() restores it) and a PHP request of its
 * own for scripts the warm mode does not take.  A failure here is
 * answered to the client (404, 500) and marked on the request so the main
 * loop can recycle the worker.
 */
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <main/php.h>
#include <main/SAPI.h>
#include <main/php_main.h>

#include "log.h"
#include "private.h"
#include "sapi.h"
#include "spool.h"
#include "slots.h"
#include "warm.h"

const char *
request_param(const struct request *rq, const char *name)
{
	const char *n, *v;
	size_t off = 0, vlen;

	while (ctl_params_next(rq->params, rq->params_len, &off, &n, &v,
	    &vlen) == 1)
		if (strcmp(n, name) == 0)
			return v;
	return NULL;
}

size_t
request_read_body(struct request *rq, char *buf, size_t n)
{
	size_t left = rq->body_len - rq->body_off;

	if (n > left)
		n = left;
	memcpy(buf, rq->body + rq->body_off, n);
	rq->body_off += n;
	return n;
}

static int
request_map_body(struct request *rq, int fd)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0) {
		log_err("request %llu: body spool: %s",
		    (unsigned long long)rq->id, strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size < rq->body_len) {
		log_err("request %llu: body spool holds %lld bytes, %zu "
		    "announced", (unsigned long long)rq->id,
		    (long long)st.st_size, rq->body_len);
		return -1;
	}
	if (rq->body_len == 0)
		return 0;
	p = mmap(NULL, rq->body_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		log_err("request %llu: mmap body spool (%zu bytes): %s",
		    (unsigned long long)rq->id, rq->body_len, strerror(errno));
		return -1;
	}
	rq->body_map = p;
	rq->body = p;
	return 0;
}

int
request_open(struct request *rq, const char *msg, size_t len, const int *fds,
    int nfds, struct slot *slot)
{
	struct ctl_request h;
	const char *n, *v;
	size_t off = 0, vlen, rest;
	int r;

	memset(rq, 0, sizeof(*rq));
	rq->client_fd = nfds > 0 ? fds[0] : -1;
	rq->body_fd = nfds > 1 ? fds[1] : -1;
	if (len < sizeof(h)) {
		log_err("CTL_REQUEST of %zu bytes: shorter than its header",
		    len);
		goto fail;
	}
	memcpy(&h, msg, sizeof(h));
	rq->id = h.id;
	rq->flags = h.flags;
	rq->http_minor = h.http_minor >= 1 ? 1 : 0;
	rest = len - sizeof(h);
	if (h.params_len > rest) {
		log_err("request %llu: %u bytes of parameters announced, %zu "
		    "received", (unsigned long long)h.id, h.params_len, rest);
		goto fail;
	}
	rq->params = msg + sizeof(h);
	rq->params_len = h.params_len;
	rest -= h.params_len;
	rq->body_len = (size_t)h.body_len;
	if (rq->client_fd < 0) {
		log_err("request %llu: no client socket attached",
		    (unsigned long long)h.id);
		goto fail;
	}
	if (h.flags & CTL_REQ_BODY_FD) {
		if (rq->body_fd < 0) {
			log_err("request %llu: body spool announced, none "
			    "attached", (unsigned long long)h.id);
			goto fail;
		}
		if (request_map_body(rq, rq->body_fd) < 0)
			goto fail;
	} else {
		if (h.body_len != rest) {
			log_err("request %llu: inline body of %llu bytes "
			    "announced, %zu received", (unsigned long long)h.id,
			    (unsigned long long)h.body_len, rest);
			goto fail;
		}
		rq->body = msg + sizeof(h) + h.params_len;
	}

	while ((r = ctl_params_next(rq->params, rq->params_len, &off, &n, &v,
	    &vlen)) == 1) {
		if (strcmp(n, "REQUEST_METHOD") == 0)
			rq->method = v;
		else if (strcmp(n, "REQUEST_URI") == 0)
			rq->uri = v;
		else if (strcmp(n, "SCRIPT_FILENAME") == 0)
			rq->script = v;
		else if (strcmp(n, "QUERY_STRING") == 0)
			rq->query = v;
		else if (strcmp(n, "CONTENT_TYPE") == 0 && vlen > 0)
			rq->content_type = v;
	}
	if (r < 0) {
		log_err("request %llu: malformed parameter list",
		    (unsigned long long)h.id);
		goto fail;
	}
	if (rq->method == NULL || rq->script == NULL || rq->script[0] != '/') {
		log_err("request %llu: REQUEST_METHOD or absolute "
		    "SCRIPT_FILENAME missing", (unsigned long long)h.id);
		goto fail;
	}
	if (rq->uri == NULL)
		rq->uri = "/";
	if (rq->query == NULL)
		rq->query = "";

	response_init(&rq->resp, rq->client_fd, rq->flags, rq->http_minor,
	    slot ? &slot->bytes_out : NULL);
	return 0;

fail:
	if (rq->body_map) {
		munmap(rq->body_map, rq->body_len);
		rq->body_map = NULL;
	}
	if (rq->body_fd >= 0) {
		close(rq->body_fd);
		rq->body_fd = -1;
	}
	return -1;
}

void
request_report(const void *msg, size_t len, int fd)
{
	if (ctl_send_wait(CTL_FD_CONTROL, msg, len, &fd, fd >= 0 ? 1 : 0) == 0)
		return;
	if (errno == EPIPE || errno == ECONNRESET)
		exit(0);	/* the supervisor is gone; nobody to report to */
	fatal("control socket: send: %s", strerror(errno));
}

void
request_report_copy(struct ctl_done *d, int fd, int copy)
{
	int fds[2], n = 0;

	if (fd >= 0)
		fds[n++] = fd;
	if (copy >= 0)
		fds[n++] = copy;
	if (ctl_send_wait(CTL_FD_CONTROL, d, sizeof(*d), fds, n) < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			exit(0);
		fatal("control socket: send: %s", strerror(errno));
	}
}

/* The client socket will see no more from us: let it know now instead of
 * when the supervisor closes its dup. */
static void
request_end_output(struct request *rq)
{
	if (!response_keepalive(&rq->resp) &&
	    shutdown(rq->client_fd, SHUT_WR) < 0 && errno != ENOTSOCK &&
	    errno != ENOTCONN)
		log_warn("request %llu: shutdown client socket: %s",
		    (unsigned long long)rq->id, strerror(errno));
}

static void
request_chdir(const struct request *rq)
{
	const char *slash = strrchr(rq->script, '/');
	char dir[4096];
	size_t n = (size_t)(slash - rq->script);

	if (n == 0)
		n = 1;		/* script in "/" */
	if (n >= sizeof(dir)) {
		log_warn("request %llu: script path %.60s...: too long to "
		    "chdir to", (unsigned long long)rq->id, rq->script);
		return;
	}
	memcpy(dir, rq->script, n);
	dir[n] = '\0';
	if (chdir(dir) < 0)
		log_warn("request %llu: chdir %s: %s",
		    (unsigned long long)rq->id, dir, strerror(errno));
}

/*
 * The answer is complete: the connection goes back to the supervisor now,
 * with what the client has not taken yet, before the post-send work or the
 * restore runs here.  The client waits for neither, and a worker that dies
 * in them (killed for its time, a crash) cannot cut its answer.
 */
static void
request_hand_back(struct request *rq)
{
	struct response *r = &rq->resp;
	struct ctl_done d;
	bool rest = response_has_rest(r);
	int copy;

	if (!rest)
		request_end_output(rq);
	memset(&d, 0, sizeof(d));
	d.type = CTL_RESPONSE;
	d.id = rq->id;
	d.status = (uint32_t)r->status;
	d.bytes_out = r->sent;
	if ((rq->flags & CTL_REQ_KEEPALIVE) && response_keepalive(r))
		d.flags |= CTL_DONE_KEEPALIVE;
	if (rest) {
		d.rest_off = r->rest.off;
		d.rest_len = r->rest.len - r->rest.off;
	}
	copy = response_take_copy(r, &d);
	request_report_copy(&d, rest ? r->rest.fd : -1, copy);
	spool_close(&r->rest);
	rq->handed_back = true;
}

/* The answer is complete and the request goes on only to end: with a rest
 * to send, the supervisor gets it now; else CTL_DONE tells all, in one
 * message. */
static void
request_complete(struct request *rq)
{
	if (response_has_rest(&rq->resp))
		request_hand_back(rq);
	else
		request_end_output(rq);
}

/* After PHP is done with the script: the response goes out whole. */
static void
request_respond(struct request *rq)
{
	/* After a fatal error, what PHP printed is a page cut short (under a
	 * 500 PHP chose, or a 200 already fixed): while nothing is on the wire
	 * the client gets a clean 500 page instead. */
	if (rq->fatal)
		(void)response_fail(&rq->resp, 500);
	if (!rq->finished_early) {
		response_finish(&rq->resp);
		request_complete(rq);
	}
}

void
request_cloexec_all(void)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* A kernel before 5.11: the descriptors known to be inherited. */
	for (int fd = CTL_FD_CONTROL; fd <= CTL_FD_CONFIG; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void
request_run(struct request *rq)
{
	zend_file_handle fh;
	const char *entry;

	/* A missing entry point is the supervisor's routing meeting a file
	 * that is not there: a 404 as PHP-FPM gives, not a PHP fatal. */
	if (access(rq->script, R_OK) < 0) {
		log_notice("request %llu: %s: %s", (unsigned long long)rq->id,
		    rq->script, strerror(errno));
		(void)response_fail(&rq->resp, errno == ENOENT ||
		    errno == ENOTDIR ? 404 : 403);
		request_complete(rq);
		return;
	}
	request_chdir(rq);
	if ((entry = warm_entry(rq->script)) != NULL) {
		warm_run(rq, entry);
		request_respond(rq);
		warm_cleanup(rq);
		return;
	}
	/* Another script (an entry script warm-entry.php could not take
	 * apart): a PHP request of its own, outside the warm one; the next
	 * warm request bootstraps again. */
	warm_stop();
	mwsapi_request_begin(rq);
	if (php_request_startup() == FAILURE) {
		log_err("request %llu: PHP request startup failed",
		    (unsigned long long)rq->id);
		mwsapi_request_end(rq);
		rq->fatal = true;
		(void)response_fail(&rq->resp, 500);
		request_complete(rq);
		return;
	}
	request_cloexec_all();
	zend_stream_init_filename(&fh, rq->script);
	zend_try {
		(void)php_execute_script(&fh);
	} zend_end_try();
	zend_destroy_file_handle(&fh);
	private_check();
	php_request_shutdown(NULL);
	mwsapi_request_end(rq);
	request_respond(rq);
}

void
request_finish_early(struct request *rq)
{
	if (rq->finished_early)
		return;
	rq->finished_early = true;
	response_finish(&rq->resp);
	if (rq->flags & CTL_REQ_JOBS)
		request_end_output(rq);
	else
		request_hand_back(rq);
}

void
request_close(struct request *rq)
{
	if (rq->client_fd >= 0)
		close(rq->client_fd);
	if (rq->body_fd >= 0)
		close(rq->body_fd);
	if (rq->body_map)
		munmap(rq->body_map, rq->body_len);
	response_free(&rq->resp);
	rq->client_fd = rq->body_fd = -1;
	rq->body_map = NULL;
}
