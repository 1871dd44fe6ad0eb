/*
 * ctl.c - message passing over the per-worker SEQPACKET socketpair.
 *
 * Thin wrappers around sendmsg/recvmsg with SCM_RIGHTS, and the encoding of
 * CGI parameters as NUL-terminated name/value pairs (values may hold any
 * byte but NUL; HTTP header values never do, the parser rejects them).
 */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
ctl_send(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	ssize_t n;

	if (nfds < 0 || nfds > 2) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)msg;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
ctl_send_wait(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
	while (ctl_send(sock, msg, len, fds, nfds) < 0) {
		struct pollfd p = { sock, POLLOUT, 0 };

		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		(void)poll(&p, 1, 1000);
	}
	return 0;
}

ssize_t
ctl_recv(int sock, void *buf, size_t cap, int *fds, int *nfds)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct cmsghdr *c;
	int want = nfds ? *nfds : 0, got = 0;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = cap;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int *p, k, cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		p = (int *)(void *)CMSG_DATA(c);
		for (k = 0; k < cnt; k++) {
			if (got < want)
				fds[got++] = p[k];
			else
				close(p[k]);	/* never leak what we did not ask for */
		}
	}
	if (nfds)
		*nfds = got;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		while (got > 0)
			close(fds[--got]);
		if (nfds)
			*nfds = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

int
ctl_params_add(struct ctl_params *p, const char *name, const char *value,
    size_t vlen)
{
	size_t nlen = strlen(name), need = nlen + vlen + 2;

	if (memchr(value, '\0', vlen)) {
		errno = EINVAL;
		return -1;
	}
	if (p->len + need > p->cap) {
		size_t cap = p->cap ? p->cap : 1024;
		char *nb;

		while (cap < p->len + need)
			cap *= 2;
		if ((nb = realloc(p->buf, cap)) == NULL)
			return -1;
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, name, nlen + 1);
	p->len += nlen + 1;
	memcpy(p->buf + p->len, value, vlen);
	p->len += vlen;
	p->buf[p->len++] = '\0';
	return 0;
}

void
ctl_params_reset(struct ctl_params *p)
{
	p->len = 0;
}

void
ctl_params_free(struct ctl_params *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
}

int
ctl_params_next(const char *buf, size_t len, size_t *off, const char **name,
    const char **value, size_t *vlen)
{
	const char *n, *v, *end;

	if (*off >= len)
		return 0;
	n = buf + *off;
	end = memchr(n, '\0', len - *off);
	if (end == NULL)
		return -1;
	v = end + 1;
	if ((size_t)(v - buf) >= len)
		return -1;
	end = memchr(v, '\0', len - (size_t)(v - buf));
	if (end == NULL)
		return -1;
	*name = n;
	*value = v;
	*vlen = (size_t)(end - v);
	*off = (size_t)(end - buf) + 1;
	return 1;
}
