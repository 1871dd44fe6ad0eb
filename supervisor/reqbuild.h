/*
 * reqbuild.h - what a worker gets for a request: the CGI/1.1 parameters
 * and the CTL_REQUEST message (ctl.h) that carries them.
 *
 * One builder for both kinds of request a worker serves: a client's,
 * described by conn.c from its parsed head and route, and a job slice,
 * described by jobs.c.  Pure functions of the description: no I/O, no
 * global state, so they can be fuzzed alone (fuzz/reqbuild_fuzz.c).
 * Where the body goes (inline or in a descriptor) is the caller's
 * decision, made with reqbuild_fits().
 */
#ifndef MW_REQBUILD_H
#define MW_REQBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

/* A name and a value, not NUL-terminated. */
struct reqbuild_field {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

struct reqbuild {
	/* The message header. */
	uint64_t	 id;		/* request id */
	uint32_t	 flags;		/* CTL_REQ_*; CTL_REQ_BODY_FD is set
					 * from body_in_fd */
	uint32_t	 http_minor;	/* 0: HTTP/1.0, else HTTP/1.1 */

	/* The CGI variables, NUL-terminated unless a length is given. */
	const char	*method;	/* REQUEST_METHOD */
	const char	*target;	/* REQUEST_URI, as received; */
	size_t		 target_len;	/* QUERY_STRING is what follows its '?' */
	const char	*script_filename, *script_name;
	const char	*path_info;	/* NULL: no PATH_INFO */
	const char	*document_root;
	const char	*server_name;
	size_t		 server_name_len;
	const char	*server_addr, *server_port;
	const char	*remote_addr, *remote_port;
	int		 https;		/* HTTPS=on */
	int		 content_length;	/* CONTENT_LENGTH=body_len */

	/*
	 * The header fields as received, repeated ones included.  Each name
	 * becomes HTTP_NAME (Content-Type: CONTENT_TYPE) once, the values of
	 * its fields joined with ", " ("; " for Cookie).  Content-Length and
	 * Transfer-Encoding are not passed (content_length says it), nor a
	 * name with other characters than letters, digits and '-', nor Proxy
	 * (httpoxy), nor one of drop.  Host's value is host, as checked.
	 */
	const struct reqbuild_field *fields;
	int		 nfields;
	const char *const *drop;	/* names not passed, NULL-ended; or NULL */
	const char	*host;		/* HTTP_HOST for a Host field */
	size_t		 host_len;
	int		 host_from_target;	/* and without one (the target
						 * was absolute) */

	/* More parameters after the ones above, as they are. */
	const struct reqbuild_field *extra;
	int		 nextra;

	/* The body: body_len bytes, at body unless body_in_fd. */
	const char	*body;
	uint64_t	 body_len;
	int		 body_in_fd;	/* 1: in a descriptor the caller sends
					 * with the message (not a descriptor) */
};

/*
 * The CGI parameters of rb into p (emptied first).  0, or -1 with errno:
 * ENOMEM, or EINVAL for a value with a NUL byte.
 */
int	reqbuild_params(const struct reqbuild *rb, struct ctl_params *p);

/* Whether a message with the parameters p and body_len bytes of body
 * inline fits in CTL_MSG_MAX. */
int	reqbuild_fits(const struct ctl_params *p, uint64_t body_len);

/*
 * The CTL_REQUEST message for rb with the parameters p, in a buffer of
 * its own (*msgp, to free, *lenp bytes): the header, p, and the body
 * unless rb->body_in_fd.  0, or -1 with errno: EMSGSIZE when it does not
 * fit (reqbuild_fits()), ENOMEM.
 */
int	reqbuild_message(const struct reqbuild *rb, const struct ctl_params *p,
	    char **msgp, size_t *lenp);

#endif
