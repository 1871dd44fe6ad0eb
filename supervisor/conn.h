/*
 * conn.h - client connections: read and parse requests, write responses.
 *
 * A connection belongs to the supervisor except while a worker serves a
 * request on it; the supervisor keeps its descriptor (the worker gets a
 * dup through SCM_RIGHTS) so it can still answer 502/504 or take the
 * connection back for the next keep-alive request.
 */
#ifndef MW_CONN_H
#define MW_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <http_parser.h>

#include "frame.h"
#include "loop.h"
#include "spool.h"

struct listener;
struct worker;

enum conn_state {
	CONN_HEAD,		/* waiting for / reading a request head */
	CONN_BODY,		/* reading the request body */
	CONN_QUEUED,		/* complete request, waiting for a worker */
	CONN_WORKER,		/* a worker owns the socket */
	CONN_WRITE,		/* supervisor writing its own response, or
				 * the rest of a worker's */
	CONN_LINGER,		/* response sent, draining input before close */
	CONN_CLOSED,
};

struct conn_hdr {
	uint32_t name, name_len;	/* offsets into hbuf */
	uint32_t value, value_len;
};

struct conn {
	struct loop_ev	 ev;
	enum conn_state	 state;
	LIST_ENTRY(conn) link;		/* all connections */
	TAILQ_ENTRY(conn) qlink;	/* dispatch queue */
	uint64_t	 deadline;	/* ms; 0 = none */
	uint64_t	 req_start;	/* ms */
	uint64_t	 req_start_us;	/* first byte of the request, us */
	uint64_t	 req_id;
	int		 is_unix;
	/* the peer: the socket's, or what its PROXY header said */
	char		 peer_addr[64], peer_port[8];
	int		 peer_unix;	/* a unix socket client ("0.0.0.0") */
	int		 peer_ssl;	/* PROXY v2: it came over TLS */
	int		 proxy_wait;	/* PROXY header still to come */
	/* the current request's client (proxy.c): the peer, or whom a
	 * trusted peer forwards for */
	char		 client_addr[64], client_port[8];
	int		 client_unix;
	int		 peer_trusted;	/* in proxy.trusted */
	int		 https;		/* the client's scheme was https */
	char		 local_addr[64], local_port[8];

	/* input */
	char		*in;
	size_t		 in_len, in_cap, in_off;
	http_parser	 parser;
	size_t		 head_bytes;
	int		 parsing;	/* a request has started */
	struct frame	 frame;		/* strict checks: head, chunked body */

	/* current request */
	char		*hbuf;		/* url, then header names and values */
	size_t		 hlen, hcap;
	uint32_t	 url_len;
	struct conn_hdr	*hdrs;
	int		 nhdrs, hdrs_cap;
	int		 in_value;
	int		 head_done, msg_done;
	int		 chunked;	/* body read by frame_chunked() */
	int		 absolute_form;	/* the target names the host */
	uint32_t	 host_off, host_len;	/* checked host[:port] in hbuf */
	uint32_t	 host_name_len;	/* without the port */
	int		 keepalive;
	int		 expect_continue;
	int		 error_status;	/* set by a callback to reject */
	char		*body;
	size_t		 body_len, body_cap;
	struct spool	 body_spool;	/* the body once it is large */

	/* output */
	char		*out;
	size_t		 out_len, out_off, out_cap;
	int		 file_fd;	/* a static file, or a worker's spool */
	off_t		 file_start, file_off, file_end;
	struct static_parts *parts;	/* the parts of a multipart/byteranges
					 * answer still to send (static.c) */
	uint64_t	 out_prior;	/* bytes of this response a worker sent */
	pid_t		 out_worker;	/* that worker, for the access log */
	int		 close_after;
	int		 status;	/* of the response being written */

	struct worker	*worker;
	char		*msg;		/* CTL_REQUEST for the worker */
	size_t		 msg_len;
	int		 in_queue;	/* on the dispatch queue */
	int		 site;		/* of the current request (site.h) */
	unsigned	 requests;	/* answered on this connection so far */

	/* page cache (cache.c) */
	uint32_t	 cache_flags;	/* CTL_REQ_STORE or CTL_REQ_PASS, or 0 */
	const char	*cache_result;	/* "hit", "miss", "pass": access log */
	char		*cache_key;	/* of a miss in flight, malloc'd */
	size_t		 cache_key_len;
	int		 cache_purged;	/* a PURGE of its URL came meanwhile */
	LIST_ENTRY(conn) cache_link;	/* misses in flight */
	struct conn	*cache_leader;	/* the miss whose answer we wait for */
	LIST_HEAD(, conn) cache_waiters;	/* requests waiting for ours */
	LIST_ENTRY(conn) cache_wlink;	/* in the leader's cache_waiters */
	unsigned	 cache_nwaiters;
};

void	 conn_init_parser_settings(void);
struct sockaddr_storage;
void	 conn_accept(int fd, int is_unix, int proxy_protocol);
/* Take over an accepted, non-blocking socket (also the fuzz target's way
 * in); proxy_protocol: a PROXY header must come first.  Returns 0, or -1
 * with fd closed. */
int	 conn_adopt(int fd, int is_unix, int proxy_protocol,
	    const struct sockaddr_storage *peer);
/* The client as the access log writes it: its address, or "unix:". */
const char *conn_client_text(const struct conn *c);
/* A worker's answer on c is complete (bytes of it written): take c back
 * for the next request (keepalive) or close it, after sending the rest the
 * client has not taken yet, [rest_off, rest_off + rest_len) of rest_fd,
 * when there is one (c owns rest_fd from here on; -1 if none). */
void	 conn_worker_done(struct conn *c, int keepalive, int status,
	    uint64_t bytes, pid_t worker, int rest_fd, uint64_t rest_off,
	    uint64_t rest_len);
/* Microseconds since the current request began. */
uint64_t conn_request_usec(const struct conn *c);
/* The worker died or timed out; answer status if nothing was sent yet. */
void	 conn_worker_failed(struct conn *c, int status, int nothing_sent);
/* Answer with a supervisor-generated error page and close. */
void	 conn_error(struct conn *c, int status);
/* The same, keeping the connection open if the client allows. */
void	 conn_error_keep(struct conn *c, int status);
void	 conn_tick(void);
int	 conn_count(void);
/* Connections that may still need a worker: a request being read or
 * queued, or a new connection whose first request is still to come (not
 * one kept alive between requests).  While stopping, workers stay while
 * any is left, so a request accepted before the stop is served. */
int	 conn_need_worker(void);
/* Close the connections kept alive between requests (the ones
 * conn_need_worker leaves out): the end of a drain, when the load
 * balancer that holds them has stopped sending. */
void	 conn_close_idle(void);
/* c's request is complete: route it, then answer it here or queue it for
 * a worker.  Called as the parser finishes a request, and again by the
 * page cache for a request it held while another miss for its URL was
 * answered. */
void	 conn_request_ready(struct conn *c);
/* Look up a request header (case-insensitive); NULL if absent. */
const char *conn_header(struct conn *c, const char *name, size_t *lenp);
/* The site of c's request by its Host under sup.cfg (site_choose). */
int	 conn_site(const struct conn *c);

/* Queue output on c: the answers the supervisor writes itself (static.c,
 * status.c, the page cache's hits), sent by conn_start_write(). */
int	 conn_out_append(struct conn *c, const void *p, size_t n);
int	 conn_out_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void	 conn_start_write(struct conn *c);

const char *conn_reason(int status);

#endif
