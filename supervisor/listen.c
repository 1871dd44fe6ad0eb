/*
 * listen.c - open the listening sockets and feed accepts to conn.c.
 *
 * With socket activation systemd owns the sockets and passes them as fds
 * 3..; we never close or unlink those, so a restart of the service loses
 * no connection (they wait in the kernel backlog).  Without systemd we
 * bind each configured address ourselves, before dropping privileges.
 * A unix socket we make gets unix_socket's owner, group and mode before it
 * accepts anyone, and is removed at exit, but only if the path still names
 * the socket we made.  Removing it needs write access to its directory,
 * which the account we drop to rarely has (/run): a small process forked
 * before the drop keeps root for that one unlink, and is told nothing but
 * the end of a pipe when we exit.
 */
#include "listen.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "sup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define LISTEN_MAX		32
#define LISTEN_BACKLOG		1024
#define LISTEN_BACKOFF_MS	100

struct listener {
	struct loop_ev	 ev;
	int		 is_unix;
	int		 proxy_protocol;	/* a PROXY header comes first */
	int		 from_systemd;
	char		 name[256];
	char		*unix_path;	/* unlink at exit if we made it */
	dev_t		 unix_dev;	/* ...and it is still this inode */
	ino_t		 unix_ino;
};

static struct listener listen_socks[LISTEN_MAX];
static int listen_n;
static int listen_paused;
static uint64_t listen_retry_at;
static int listen_unlinker_fd = -1;	/* its end of the pipe */

static void
listen_on_event(struct loop_ev *ev, uint32_t events)
{
	struct listener *l = ev->data;

	conn_accept(ev->fd, l->is_unix, l->proxy_protocol);
}

static int
listen_add(int fd, int is_unix, int proxy_protocol, int from_systemd,
    const char *name)
{
	struct listener *l;

	if (listen_n == LISTEN_MAX) {
		log_err("listen %s: more than %d sockets", name, LISTEN_MAX);
		return -1;
	}
	l = &listen_socks[listen_n++];
	loop_ev_init(&l->ev, fd, listen_on_event, l);
	l->is_unix = is_unix;
	l->proxy_protocol = proxy_protocol;
	l->from_systemd = from_systemd;
	snprintf(l->name, sizeof(l->name), "%s", name);
	return 0;
}

/*
 * Who a unix socket we make belongs to: unix_socket.owner and .group, or
 * else the user and group we run as (after the drop, when started as
 * root); -1 leaves what bind() gave.
 */
static int
listen_unix_owner(const struct config *cfg, uid_t *uid, gid_t *gid)
{
	const char *user = cfg->socket_owner, *group = cfg->socket_group;
	struct passwd *pw;
	struct group *gr;
	int root = geteuid() == 0;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (root && cfg->user) {
		/* the account we drop to: its user and (primary) group */
		if ((pw = getpwnam(cfg->user)) == NULL) {
			log_err("%s: user %s: no such user", cfg->path,
			    cfg->user);
			return -1;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (group == NULL && root)
		group = cfg->group;
	if (user) {
		if ((pw = getpwnam(user)) == NULL) {
			log_err("%s: unix_socket.owner %s: no such user",
			    cfg->path, user);
			return -1;
		}
		*uid = pw->pw_uid;
	}
	if (group) {
		if ((gr = getgrnam(group)) == NULL) {
			log_err("%s: %s %s: no such group", cfg->path,
			    cfg->socket_group ? "unix_socket.group" : "group",
			    group);
			return -1;
		}
		*gid = gr->gr_gid;
	}
	return 0;
}

/* Is something accepting on the socket at path (another mwsup)? */
static int
listen_unix_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    errno == EAGAIN;
	close(fd);
	return live;
}

static int
listen_bind_unix(const struct config *cfg, const char *path, int proxy)
{
	struct sockaddr_un sun;
	struct stat st;
	uid_t uid;
	gid_t gid;
	mode_t um;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("listen unix:%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (listen_unix_owner(cfg, &uid, &gid) < 0)
		return -1;
	/* A stale socket from an earlier run is replaced; a live one, or
	 * anything else at that path, is left alone. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("listen unix:%s: exists and is not a socket",
			    path);
			return -1;
		}
		if (listen_unix_live(&sun)) {
			log_err("listen unix:%s: in use by another process",
			    path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("listen unix:%s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* Born owner-only; opened to the group once it has the right one,
	 * and no one can connect before listen() anyway. */
	um = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(um);
	if (rc < 0 || lstat(path, &st) < 0) {
		log_err("listen unix:%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		log_err("listen unix:%s: chown to unix_socket owner %d, group "
		    "%d: %s", path, (int)uid, (int)gid, strerror(errno));
		goto fail;
	}
	if (chmod(path, (mode_t)cfg->socket_mode) < 0) {
		log_err("listen unix:%s: chmod %04o: %s", path,
		    (unsigned)cfg->socket_mode, strerror(errno));
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		log_err("listen unix:%s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen_add(fd, 1, proxy, 0, path) < 0)
		goto fail;
	listen_socks[listen_n - 1].unix_path = strdup(path);
	listen_socks[listen_n - 1].unix_dev = st.st_dev;
	listen_socks[listen_n - 1].unix_ino = st.st_ino;
	return 0;
fail:
	unlink(path);
	close(fd);
	return -1;
}

static int
listen_bind_inet(const char *spec, int proxy)
{
	char host[256];
	const char *port, *h = spec;
	struct addrinfo hints, *res, *ai;
	size_t hl;
	int rc, bound = 0;

	if (*h == '[') {
		const char *close_br = strchr(h, ']');

		if (close_br == NULL || close_br[1] != ':') {
			log_err("listen %s: bad address", spec);
			return -1;
		}
		hl = (size_t)(close_br - h - 1);
		h++;
		port = close_br + 2;
	} else {
		port = strrchr(h, ':');
		if (port == NULL) {
			log_err("listen %s: no port", spec);
			return -1;
		}
		hl = (size_t)(port - h);
		port++;
	}
	if (hl >= sizeof(host)) {
		log_err("listen %s: host name too long", spec);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		log_err("listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd, one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, LISTEN_BACKLOG) < 0) {
			log_err("listen %s: %s", spec, strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		if (listen_add(fd, 0, proxy, 0, spec) < 0) {
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0) {
		log_err("listen %s: no usable address", spec);
		return -1;
	}
	return 0;
}

/*
 * A socket from systemd takes proxy_protocol from the listen entry that
 * names its address as mw.yaml would write it ("127.0.0.1:8080",
 * "[::1]:8080", "unix:/run/x.sock"); listen: binds nothing then.
 */
static int
listen_systemd_proxy(const struct config *cfg, int fd, int is_unix)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN], name[160];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (is_unix) {
		const struct sockaddr_un *un = (const void *)&ss;

		snprintf(name, sizeof(name), "unix:%.*s",
		    (int)sizeof(un->sun_path), un->sun_path);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(name, sizeof(name), "%s:%u", host,
		    ntohs(s4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(name, sizeof(name), "[%s]:%u", host,
		    ntohs(s6->sin6_port));
	} else
		return 0;
	for (int i = 0; i < cfg->nlisten; i++)
		if (strcmp(cfg->listen[i], name) == 0)
			return cfg->listen_proxy[i];
	return 0;
}

int
listen_open(const struct config *cfg)
{
	char **names = NULL;
	int n, i;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		log_err("sd_listen_fds: %s", strerror(-n));
		return -1;
	}
	if (n > 0) {
		for (i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;
			char name[64];
			int is_unix = sd_is_socket_unix(fd, SOCK_STREAM, 1,
			    NULL, 0) > 0;

			if (!is_unix && sd_is_socket_inet(fd, 0, SOCK_STREAM,
			    1, 0) <= 0) {
				log_err("socket passed by systemd (fd %d) is "
				    "not a listening stream socket", fd);
				return -1;
			}
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			/* FileDescriptorName= of the socket unit, for logs */
			snprintf(name, sizeof(name), "systemd fd %d (%s)", fd,
			    names && names[i] ? names[i] : "unnamed");
			if (listen_add(fd, is_unix,
			    listen_systemd_proxy(cfg, fd, is_unix), 1, name) < 0)
				return -1;
		}
		sup.socket_activated = 1;
		log_info("using %d socket(s) from systemd:%s%s", n,
		    n > 0 ? " " : "", listen_socks[0].name);
		for (i = 0; names && names[i]; i++)
			free(names[i]);
		free(names);
	} else {
		for (i = 0; i < cfg->nlisten; i++) {
			const char *spec = cfg->listen[i];
			int proxy = cfg->listen_proxy[i];
			int rc = strncmp(spec, "unix:", 5) == 0 ?
			    listen_bind_unix(cfg, spec + 5, proxy) :
			    listen_bind_inet(spec, proxy);

			if (rc < 0)
				return -1;
		}
	}
	for (i = 0; i < listen_n; i++)
		if (loop_watch(&listen_socks[i].ev, EPOLLIN) < 0) {
			log_err("epoll %s: %s", listen_socks[i].name,
			    strerror(errno));
			return -1;
		}
	return 0;
}

void
listen_pause(int backoff)
{
	int i;

	for (i = 0; i < listen_n; i++)
		loop_watch(&listen_socks[i].ev, 0);
	listen_paused = 1;
	listen_retry_at = backoff ? loop_now_ms() + LISTEN_BACKOFF_MS : 0;
}

static void
listen_resume(void)
{
	int i;

	listen_paused = 0;
	if (sup.stopping)
		return;
	for (i = 0; i < listen_n; i++)
		loop_watch(&listen_socks[i].ev, EPOLLIN);
}

void
listen_resume_if_paused(void)
{
	if (listen_paused && listen_retry_at == 0 &&
	    conn_count() < sup.cfg->connections_max)
		listen_resume();
}

void
listen_tick(void)
{
	if (listen_paused && listen_retry_at && loop_now_ms() >= listen_retry_at)
		listen_resume();
}

void
listen_stop(void)
{
	int i;

	for (i = 0; i < listen_n; i++) {
		struct listener *l = &listen_socks[i];

		loop_watch(&l->ev, 0);
		/* systemd keeps its sockets across our restart; clients then
		 * wait in the backlog for the next instance */
		if (!l->from_systemd && l->ev.fd >= 0) {
			close(l->ev.fd);
			l->ev.fd = -1;
		}
	}
}

/* Remove the unix sockets we made whose paths still name them; 0, or -1
 * with errno from the first unlink that failed. */
static int
listen_unlink_ours(void)
{
	struct stat st;
	int i, rc = 0, err = 0;

	for (i = 0; i < listen_n; i++) {
		const struct listener *l = &listen_socks[i];

		if (l->unix_path == NULL || lstat(l->unix_path, &st) < 0 ||
		    !S_ISSOCK(st.st_mode) || st.st_dev != l->unix_dev ||
		    st.st_ino != l->unix_ino)
			continue;
		if (unlink(l->unix_path) < 0 && rc == 0) {
			rc = -1;
			err = errno;
		}
	}
	errno = err;
	return rc;
}

int
listen_keep_unlinker(const struct config *cfg)
{
	int p[2], i, any = 0;
	pid_t pid;

	for (i = 0; i < listen_n; i++)
		any |= listen_socks[i].unix_path != NULL;
	if (!any || geteuid() != 0 || cfg->user == NULL)
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_err("unix socket remover: pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		log_err("unix socket remover: fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		char c;
		ssize_t n;

		/* Keep stderr for the log and our end of the pipe, nothing
		 * else: no socket, no epoll, no signalfd.  The stop signals
		 * stay blocked (as in the supervisor), so a Ctrl-C to the
		 * process group does not take the socket's remover away. */
		close(p[1]);
		if (p[0] != 3) {
			if (dup2(p[0], 3) < 0)
				_exit(1);
			close(p[0]);
		}
		close_range(4, ~0U, 0);
		prctl(PR_SET_NAME, "mwsup-unlink");
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		while ((n = read(3, &c, 1)) != 0)
			if (n < 0 && errno != EINTR)
				break;
		if (listen_unlink_ours() < 0)
			log_warn("removing the unix socket: %s",
			    strerror(errno));
		_exit(0);
	}
	close(p[0]);
	listen_unlinker_fd = p[1];
	return 0;
}

void
listen_cleanup(void)
{
	int i;

	/* Ours to remove while we may; the remover, if any, gets the end of
	 * the pipe when we exit and does what we could not. */
	if (listen_unlink_ours() < 0 && listen_unlinker_fd < 0)
		log_warn("removing the unix socket: %s (it is replaced at the "
		    "next start)", strerror(errno));
	for (i = 0; i < listen_n; i++) {
		free(listen_socks[i].unix_path);
		listen_socks[i].unix_path = NULL;
	}
}

int
listen_count(void)
{
	return listen_n;
}

const char *
listen_describe(int i)
{
	return listen_socks[i].name;
}
