/*
 * request.h - one HTTP request served by this worker, start to finish.
 *
 * The supervisor sends a request already parsed into CGI parameters, the
 * body inline or in a spool (memfd or temp file), and the client socket.
 * request_run() is the one place that runs PHP for it: an entry point the
 * warm mode knows (index.php, api.php, load.php, rest.php, ...) runs inside
 * the bootstrapped MediaWiki and is restored afterwards (warm.h); any other
 * script gets a PHP request of its own (startup, script, shutdown) as
 * PHP-FPM gives it, and the next warm request bootstraps again.
 */
#ifndef MW_REQUEST_H
#define MW_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "response.h"

struct slot;

struct request {
	uint64_t	 id;
	uint32_t	 flags;		/* CTL_REQ_* */
	int		 http_minor;

	const char	*params;	/* name\0value\0..., inside the message */
	size_t		 params_len;
	const char	*method, *uri, *script, *query, *content_type;

	const char	*body;		/* inline or mapped from the spool */
	size_t		 body_len, body_off;
	void		*body_map;	/* mmap of the body spool, or NULL */

	int		 client_fd;	/* ours to close; the supervisor has a dup */
	int		 body_fd;	/* -1 when the body is inline */

	struct response	 resp;

	bool		 fatal;		/* fatal error or uncaught exception */
	bool		 finished_early;	/* fastcgi_finish_request() ran */
	bool		 handed_back;	/* CTL_RESPONSE sent: the connection is
					 * the supervisor's again */
	bool		 recycle;	/* PHP state not fit for another request */
};

/* Take a CTL_REQUEST message (msg, len) and its descriptors.  On success
 * the request owns the descriptors; on error (logged) it has closed them
 * except the client socket, which stays in *client_fd for an error answer,
 * or -1. */
int	 request_open(struct request *rq, const char *msg, size_t len,
	    const int *fds, int nfds, struct slot *slot);
/* Run the script and answer the client. */
void	 request_run(struct request *rq);
/* fastcgi_finish_request(): the response is complete now (PHP's output
 * buffers already ended); the script goes on with its output discarded. */
void	 request_finish_early(struct request *rq);
/* Close the descriptors and unmap the body; shuts the socket's write side
 * down when the connection is not kept alive, so the client sees the end
 * even though the supervisor still holds a dup. */
void	 request_close(struct request *rq);

/* Send a control message to the supervisor (fd attached unless -1),
 * waiting while the socket is full; exits when the supervisor is gone. */
void	 request_report(const void *msg, size_t len, int fd);
/* Send d (CTL_RESPONSE or CTL_DONE) with the rest of the answer (fd, or
 * -1) and the page cache's copy (copy and d as response_take_copy() left
 * them; the copy file stays open; or -1). */
void	 request_report_copy(struct ctl_done *d, int fd, int copy);

/*
 * Mark every descriptor above 2 close-on-exec.  Nothing of the worker may
 * reach the programs PHP starts (ImageMagick, Lua, diff3 get 0, 1 and 2
 * only), above all not the control socket or the writable slot table.
 * Called on arrival (descriptors 3-5 come inheritable, on purpose) and
 * once PHP has set up each request, which also covers what PHP opened
 * without O_CLOEXEC: a POST body or upload spilled to a temporary file,
 * a file an extension keeps open since bootstrap.
 */
void	 request_cloexec_all(void);

/* Parameter lookup for the SAPI (getenv, cookies): NULL when absent. */
const char *request_param(const struct request *rq, const char *name);
/* Copy up to n body bytes for PHP's POST reader; 0 at the end. */
size_t	 request_read_body(struct request *rq, char *buf, size_t n);

#endif
