/*
 * ctl.h - the control protocol between mwsup and each mwworker.
 *
 * One SOCK_SEQPACKET socketpair per worker, so every message arrives whole.
 * The supervisor sends CTL_REQUEST with the client socket attached
 * (SCM_RIGHTS) and the request already parsed into CGI-style parameters
 * (the FastCGI model: the worker never parses HTTP).  A small body travels
 * inline after the parameters; a larger one in its spool (a memfd, or a
 * file of temp_dir past limits.body_buffer; shared/spool.h) attached as
 * a second descriptor.  The worker answers the client directly on that
 * socket, as much as the socket takes without waiting; what it does not
 * take goes to a spool (memfd, or temp file past limits.response_buffer)
 * that the worker hands back with CTL_RESPONSE, as soon as the answer is
 * complete, for the supervisor to finish: a slow reader never holds PHP.
 * The worker then ends the request (post-send work, restore) and sends
 * CTL_DONE, which also carries the answer when it was all written and
 * nothing was handed back before.  The supervisor kept its own dup of the
 * socket and takes the connection back for keep-alive.
 *
 * Worker descriptors at exec: 3 control socket, 4 slot table memfd,
 * 5 config memfd.
 */
#ifndef MW_CTL_H
#define MW_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_FD_CONTROL	3
#define CTL_FD_SLOTS	4
#define CTL_FD_CONFIG	5

#define CTL_MSG_MAX	(64 * 1024)	/* largest message, inline body incl. */

enum ctl_type {
	CTL_READY = 1,		/* worker -> sup: warm, ready for requests */
	CTL_REQUEST,		/* sup -> worker: serve this connection */
	CTL_DONE,		/* worker -> sup: response sent */
	CTL_QUIT,		/* sup -> worker: exit when idle */
	CTL_RESPONSE,		/* worker -> sup: answer complete, connection
				 * handed back (+ rest fd); CTL_DONE follows */
};

/* CTL_REQUEST flags */
#define CTL_REQ_HEAD		0x1	/* HEAD: send headers only */
#define CTL_REQ_KEEPALIVE	0x2	/* client may keep the connection */
#define CTL_REQ_BODY_FD		0x4	/* body is in the second fd */
#define CTL_REQ_CHUNKED_OK	0x8	/* HTTP/1.1: chunked response allowed */
#define CTL_REQ_JOBS		0x10	/* a job slice, not a client: slot shows "jobs" */
#define CTL_REQ_STORE		0x20	/* the page cache may keep the answer: send
					 * a copy when it allows it (X-Cache: miss) */
#define CTL_REQ_PASS		0x40	/* the cache is on but passes this request
					 * (X-Cache: pass) */

struct ctl_request {
	uint32_t type;		/* CTL_REQUEST */
	uint32_t flags;
	uint64_t id;		/* request id, unique per supervisor run */
	uint32_t params_len;	/* name\0value\0 pairs following this header */
	uint32_t http_minor;	/* HTTP/1.x */
	uint64_t body_len;	/* body bytes, inline after params or in fd */
};

/* CTL_DONE flags */
#define CTL_DONE_KEEPALIVE	0x1	/* connection may carry another request */
#define CTL_DONE_RECYCLE	0x2	/* worker exits now (fatal, exit(), stop) */
#define CTL_DONE_REPLACE	0x4	/* a limit is reached: start a successor;
					 * this worker serves until it is ready */
#define CTL_DONE_PRIVATE	0x8	/* a private wiki's uploads are served by
					 * static mapping number pad (private.h) */
#define CTL_DONE_COPY		0x10	/* the last descriptor is the worker's
					 * copy file: its first copy_len bytes
					 * are the whole answer as sent, for the
					 * page cache (CTL_REQ_STORE, a storable
					 * answer); only on the message that
					 * hands the connection back.  The
					 * worker writes the file again only for
					 * a later request, so the supervisor
					 * reads it before it hands that one */
#define CTL_DONE_TOO_LARGE	0x20	/* a storable answer (as for COPY) was
					 * larger than cache.max_entry: no copy */

/* CTL_DONE and CTL_RESPONSE.  After a CTL_RESPONSE, the CTL_DONE of the
 * same request only says the worker is free (and whether it recycles). */
struct ctl_done {
	uint32_t type;		/* CTL_DONE or CTL_RESPONSE */
	uint32_t flags;
	uint64_t id;
	uint32_t status;	/* HTTP status sent */
	uint32_t pad;
	uint64_t bytes_out;	/* bytes the worker wrote to the client */
	uint64_t rest_off;	/* CTL_RESPONSE with a descriptor: its bytes */
	uint64_t rest_len;	/* [rest_off, rest_off + rest_len) go next */
	uint64_t copy_len;	/* CTL_DONE_COPY: the answer's length */
};

struct ctl_ready {
	uint32_t type;		/* CTL_READY */
	uint32_t pid;
	uint32_t flags;		/* CTL_DONE_PRIVATE */
	uint32_t mapping;	/* with it: the static mapping */
};

struct ctl_quit {
	uint32_t type;		/* CTL_QUIT */
	uint32_t pad;
};

/* Send one message with up to 2 descriptors.  Returns 0, or -1 with errno
 * (EAGAIN when the socket is full). */
int	ctl_send(int sock, const void *msg, size_t len, const int *fds, int nfds);
/* The same, waiting while the socket is full (the worker's side). */
int	ctl_send_wait(int sock, const void *msg, size_t len, const int *fds,
	    int nfds);
/* Receive one message into buf (cap >= CTL_MSG_MAX); up to *nfds received
 * descriptors are stored in fds and *nfds updated.  Returns the length,
 * 0 on EOF, -1 with errno. */
ssize_t	ctl_recv(int sock, void *buf, size_t cap, int *fds, int *nfds);

/* CGI parameter list builder. */
struct ctl_params {
	char	*buf;
	size_t	 len, cap;
};

int	ctl_params_add(struct ctl_params *p, const char *name,
	    const char *value, size_t vlen);
void	ctl_params_reset(struct ctl_params *p);
void	ctl_params_free(struct ctl_params *p);
/* Iterate: *off starts at 0; returns 1 with name/value set, 0 at the end,
 * -1 on a malformed list. */
int	ctl_params_next(const char *buf, size_t len, size_t *off,
	    const char **name, const char **value, size_t *vlen);

#endif
