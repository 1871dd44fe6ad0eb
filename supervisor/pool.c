/*
 * pool.c - the worker processes.
 *
 * Each worker is fork+exec'd (never just forked: PHP must not inherit a
 * supervisor's heap, and an exec'd worker shows up as itself in ps and in
 * the journal) with its control socket, the slot table and the config
 * bytes at fixed descriptors.  The supervisor learns of a worker's end
 * twice: EOF on its control socket (answer its client at once) and
 * SIGCHLD (reap, account, respawn).  Workers that die young are respawned
 * with exponential back-off so a broken config cannot spin the CPU.
 */
#include "pool.h"
#include "cache.h"
#include "conn.h"
#include "ctl.h"
#include "dispatch.h"
#include "jobs.h"
#include "log.h"
#include "site.h"
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL_YOUNG_MS		2000	/* dying younger than this is a failure */
#define POOL_BACKOFF_MIN_MS	100
#define POOL_BACKOFF_MAX_MS	30000
#define POOL_QUIT_GRACE_MS	5000
/* A start that failed for want of descriptors is no crash: try again as
 * soon as some may have been freed, not after the back-off. */
#define POOL_FD_RETRY_MS	100

/*
 * Reload starts a new generation beside the old one, so the table has room
 * for two full pools.  A worker is a "member" while it belongs to the
 * current generation; old members keep serving until every new member is
 * ready, then they are retired as they become idle.
 */
static struct worker pool_w[POOL_MAX];
static int pool_hi;		/* 1 + highest index ever used */
/* Counts workers becoming idle (struct worker's idle_seq). */
static uint64_t pool_idle_seq;
static int pool_retire_pending;	/* old generation waits for the new */
static char pool_path[PATH_MAX];
/*
 * The worker binary as it was at start (or at the last reload), held open:
 * workers started later run that same file even if a package upgrade or a
 * rebuild replaces it on disk meanwhile, since a newer worker may not speak
 * to this supervisor (slot table, control messages).  Reload picks up the
 * new file on purpose.
 */
static int pool_exe_fd = -1;
static uint32_t pool_generation = 1;
/* 0: as the supervisor's; else the soft limit it was started with, given
 * back to workers, since programs PHP runs may use select(). */
static uint64_t pool_worker_nofile;

static void pool_on_ctl(struct loop_ev *ev, uint32_t events);
static void pool_retire(struct worker *w);
static int pool_spawn(struct worker *w);
static uint64_t pool_retry_at(const struct worker *w);

const char *
pool_who(const struct worker *w)
{
	static char who[320];
	const char *site = w->site >= 0 ? site_name(sup.cfg, w->site) : "";

	if (site[0] != '\0')
		snprintf(who, sizeof(who), "worker %d (pid %d, site %.250s)",
		    w->index, (int)w->pid, site);
	else
		snprintf(who, sizeof(who), "worker %d (pid %d)", w->index,
		    (int)w->pid);
	return who;
}

const char *
pool_worker_path(void)
{
	return pool_path;
}

void
pool_set_worker_nofile(uint64_t soft)
{
	pool_worker_nofile = soft;
}

/* The worker binary: configured, else beside a build-tree mwsup, else the
 * installed one. */
static int
pool_find_worker_binary(void)
{
	char self[PATH_MAX];
	ssize_t n;
	int fd;

	if (sup.cfg->worker_path) {
		snprintf(pool_path, sizeof(pool_path), "%s", sup.cfg->worker_path);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		pool_path[0] = '\0';
		if (n > 0) {
			char *slash;

			self[n] = '\0';
			slash = strrchr(self, '/');
			if (slash && slash - self >= 11 &&
			    strncmp(slash - 11, "/supervisor", 11) == 0) {
				slash[-11] = '\0';
				if (strlen(self) + 16 < sizeof(pool_path)) {
					strcpy(pool_path, self);
					strcat(pool_path, "/worker/mwworker");
				}
				if (access(pool_path, X_OK) != 0)
					pool_path[0] = '\0';
			}
		}
		if (pool_path[0] == '\0')
			snprintf(pool_path, sizeof(pool_path), "%s/mwworker",
			    MW_LIBEXECDIR);
	}
	if (access(pool_path, X_OK) != 0) {
		log_err("worker %s: %s", pool_path, strerror(errno));
		return -1;
	}
	fd = open(pool_path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		log_err("worker %s: %s", pool_path, strerror(errno));
		return -1;
	}
	if (pool_exe_fd >= 0)
		close(pool_exe_fd);
	pool_exe_fd = fd;
	return 0;
}

int
pool_init(void)
{
	for (int i = 0; i < POOL_MAX; i++) {
		pool_w[i].index = i;
		pool_w[i].ev.fd = -1;
		pool_w[i].state = WORKER_DOWN;
	}
	return pool_find_worker_binary();
}

static struct slot *
pool_slot(struct worker *w)
{
	return &sup.slots->slots[w->index];
}

/* Move fd out of the 0..9 range so the dup2()s below cannot clobber it;
 * the copy is close-on-exec, so only the dup2() targets reach the worker. */
static int
pool_high_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

/*
 * In the child, before anything else: close every descriptor but 0-2 and
 * those in keep (n of them), so that 0-5 are all a worker gets even if
 * one of the supervisor's lacked close-on-exec, and a supervisor at its
 * descriptor limit leaves the child room for the moves below.
 */
static void
pool_child_close_others(int *keep, int n)
{
	unsigned int from = 3;

	for (int i = 1; i < n; i++)	/* n is tiny: insertion sort */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < from)
			continue;
		if ((unsigned int)keep[i] > from)
			(void)close_range(from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	(void)close_range(from, ~0U, 0);
}

static void __attribute__((noreturn))
pool_exec_child(struct worker *w, int ctl)
{
	char slot[16], gen[16];
	sigset_t none;
	int c, s, f;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (pool_worker_nofile) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = (rlim_t)pool_worker_nofile;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	{
		int keep[] = { ctl, sup.slots_fd, sup.config_fd, pool_exe_fd };

		pool_child_close_others(keep, 4);
	}
	c = pool_high_fd(ctl);
	s = pool_high_fd(sup.slots_fd);
	f = pool_high_fd(sup.config_fd);
	if (c < 0 || s < 0 || f < 0 ||
	    dup2(c, CTL_FD_CONTROL) < 0 || dup2(s, CTL_FD_SLOTS) < 0 ||
	    dup2(f, CTL_FD_CONFIG) < 0) {
		log_err("worker %d: setting up descriptors: %s", w->index,
		    strerror(errno));
		_exit(127);
	}
	snprintf(slot, sizeof(slot), "%d", w->index);
	snprintf(gen, sizeof(gen), "%u", w->generation);
	{
		/* mwsup -v: the workers log debug messages too. */
		char *argv[12] = { "mwworker", "--slot", slot, "--generation",
		    gen, "--config-name", sup.cfg->path };
		int n = 7;

		if (w->site >= 0) {
			argv[n++] = "--site";
			argv[n++] = sup.cfg->sites[w->site].name;
		}
		if (log_get_verbose())
			argv[n++] = "--verbose";
		argv[n] = NULL;

		syscall(SYS_execveat, pool_exe_fd, "", argv, environ,
		    AT_EMPTY_PATH);
		/* An interpreted worker (#! script, as in tests) cannot run
		 * from a close-on-exec descriptor: run it by path. */
		if (errno == ENOENT)
			execv(pool_path, argv);
	}
	log_err("exec %s: %s", pool_path, strerror(errno));
	_exit(127);
}

static int
pool_spawn(struct worker *w)
{
	struct slot *sl = pool_slot(w);
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			if (!w->fd_starved)
				log_warn("worker %d: socketpair: %s; starting "
				    "it once descriptors are free", w->index,
				    strerror(errno));
			w->fd_starved = 1;
			return -1;
		}
		log_err("worker %d: socketpair: %s", w->index, strerror(errno));
		return -1;
	}
	if (w->fd_starved) {
		log_notice("worker %d: descriptors free again; starting it",
		    w->index);
		w->fd_starved = 0;
	}
	w->generation = pool_generation;
	atomic_store(&sl->pid, 0);
	atomic_store(&sl->generation, w->generation);
	atomic_store(&sl->requests, 0);
	atomic_store(&sl->request_id, 0);
	atomic_store(&sl->bytes_out, 0);
	snprintf(sl->site, sizeof(sl->site), "%s", site_name(sup.cfg, w->site));
	slot_set_state(sl, SLOT_STARTING);
	pid = fork();
	if (pid < 0) {
		log_err("worker %d: fork: %s", w->index, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		pool_exec_child(w, sv[1]);
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	w->pid = pid;
	SUP_COUNT(worker_starts, 1);
	w->state = WORKER_STARTING;
	w->started = loop_now_ms();
	w->deadline = w->started + (uint64_t)sup.cfg->startup_timeout_ms;
	w->killed_status = 0;
	w->quitting = 0;
	w->conn = NULL;
	w->req_id = 0;
	loop_ev_init(&w->ev, sv[0], pool_on_ctl, w);
	if (loop_watch(&w->ev, EPOLLIN) < 0) {
		log_err("worker %d: epoll: %s", w->index, strerror(errno));
		kill(pid, SIGKILL);
	}
	log_debug("worker %d: started pid %d", w->index, (int)pid);
	return 0;
}

/* When to try again after pool_spawn() failed. */
static uint64_t
pool_retry_at(const struct worker *w)
{
	return loop_now_ms() + (w->fd_starved ? POOL_FD_RETRY_MS :
	    POOL_BACKOFF_MAX_MS);
}

/* Make the free place w a member of the current generation and start it. */
static void
pool_take_place(struct worker *w)
{
	w->used = 1;
	w->member = 1;
	w->fails = 0;
	w->replaced_by = 0;
	if (w->index >= pool_hi)
		pool_hi = w->index + 1;
	if (pool_spawn(w) < 0) {
		w->state = WORKER_DOWN;
		w->respawn_at = pool_retry_at(w);
	}
}

/*
 * w reached recycle.max_requests or recycle.max_rss and asks to be
 * replaced (CTL_DONE_REPLACE): its successor starts in a free place while
 * w goes on serving, no longer a member, and w is retired once the
 * successor is ready (pool_successor_ready).  So the pool is never short
 * of a worker for the successor's bootstrap.  With no free place (a
 * reload's two generations fill the table), or while stopping, w quits
 * and is started again in its own place, as a worker that recycles.
 */
static void
pool_replace(struct worker *w)
{
	if (!w->member || w->replaced_by)
		return;
	if (!sup.stopping)
		for (int i = 0; i < POOL_MAX; i++) {
			struct worker *s = &pool_w[i];

			if (s->used)
				continue;
			w->member = 0;
			w->replaced_by = i + 1;
			log_info("%s: at its limit; starting "
			    "worker %d to replace it", pool_who(w),
			    i);
			SUP_COUNT(worker_recycles, 1);
			s->site = w->site;	/* a farm's: the same site */
			pool_take_place(s);
			return;
		}
	SUP_COUNT(worker_recycles, 1);
	w->state = WORKER_IDLE;
	pool_retire(w);
}

/* Member s is ready: the worker it replaces, if any, serves no more. */
static void
pool_successor_ready(struct worker *s)
{
	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		if (w->used && w->replaced_by == s->index + 1) {
			w->replaced_by = 0;
			log_info("%s: replaced by worker %d "
			    "(pid %d)", pool_who(w), s->index,
			    (int)s->pid);
			pool_retire(w);		/* now if idle, else when idle */
		}
	}
}

/* Start each site's workers as new members in free places of the table
 * (pool.workers of them without sites). */
static int
pool_start_members(void)
{
	int want = sup.cfg->workers_total, started = 0, k = 0, left = 0;
	int site = site_at(sup.cfg, 0);

	left = site_workers(sup.cfg, site);
	for (int i = 0; i < POOL_MAX && started < want; i++) {
		struct worker *w = &pool_w[i];

		if (w->used)
			continue;
		while (left == 0) {
			site = site_at(sup.cfg, ++k);
			left = site_workers(sup.cfg, site);
		}
		left--;
		w->site = site;
		pool_take_place(w);
		started++;
	}
	if (started < want) {
		log_err("worker pool: no room for %d more workers while the "
		    "old generation drains", want - started);
		return -1;
	}
	return 0;
}

int
pool_start(void)
{
	SUP_SET(sup_pid, (uint64_t)getpid());
	SUP_SET(generation, pool_generation);
	SUP_SET(workers, (uint64_t)sup.cfg->workers_total);
	return pool_start_members();
}

int
pool_reload(void)
{
	if (pool_find_worker_binary() < 0)
		return -1;
	pool_generation++;
	SUP_SET(generation, pool_generation);
	SUP_SET(workers, (uint64_t)sup.cfg->workers_total);
	SUP_COUNT(reloads, 1);
	for (int i = 0; i < pool_hi; i++) {
		pool_w[i].member = 0;
		pool_w[i].replaced_by = 0;	/* old, like the others */
	}
	pool_retire_pending = 1;
	log_notice("reload: starting generation %u (%d workers)",
	    pool_generation, sup.cfg->workers_total);
	return pool_start_members();
}

/* w was asked to exit, or said it would: wait for its SIGCHLD, and kill
 * it if that does not come within POOL_QUIT_GRACE_MS. */
static void
pool_quitting(struct worker *w)
{
	w->quitting = 1;
	w->state = WORKER_EXITING;
	w->deadline = loop_now_ms() + POOL_QUIT_GRACE_MS;
}

/*
 * w serves no more (an old generation's worker, a replaced one, one that
 * recycles in its own place): asked to quit if idle, killed if still
 * starting.  A busy one is left to finish; pool_became_idle() retires it
 * then.
 */
static void
pool_retire(struct worker *w)
{
	struct ctl_quit q = { CTL_QUIT, 0 };

	if (w->state == WORKER_STARTING) {
		kill(w->pid, SIGKILL);
	} else if (w->state == WORKER_IDLE) {
		if (ctl_send(w->ev.fd, &q, sizeof(q), NULL, 0) < 0)
			kill(w->pid, SIGTERM);
	} else {
		return;
	}
	pool_quitting(w);
}

int
pool_generation_ready(void)
{
	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		if (w->member && w->state != WORKER_IDLE &&
		    w->state != WORKER_BUSY)
			return 0;
	}
	if (pool_retire_pending) {
		pool_retire_pending = 0;
		log_notice("generation %u ready; retiring the old workers",
		    pool_generation);
		for (int i = 0; i < pool_hi; i++)
			if (pool_w[i].used && !pool_w[i].member)
				pool_retire(&pool_w[i]);
	}
	return 1;
}

/* The worker can no longer serve its request: answer the client. */
static void
pool_lose_request(struct worker *w, int status)
{
	struct conn *c = w->conn;

	if (w->pending) {
		dispatch_requeue(w->pending);
		w->pending = NULL;
	}
	if (c == NULL)
		return;
	w->conn = NULL;
	/* Gone before it took the request (a worker names the request in
	 * its slot as it takes it): nothing of the request ran, so another
	 * worker serves it, as nginx tries the next upstream it could not
	 * hand a request to.  Killed between the hand-over and its read,
	 * say. */
	if (c->msg != NULL &&
	    atomic_load(&pool_slot(w)->request_id) != c->req_id &&
	    atomic_load(&pool_slot(w)->bytes_out) == 0) {
		log_notice("%s went away before taking request "
		    "%llu; handing it to another", pool_who(w),
		    (unsigned long long)c->req_id);
		c->worker = NULL;
		c->state = CONN_QUEUED;
		dispatch_submit(c);
		return;
	}
	conn_worker_failed(c, status,
	    atomic_load(&pool_slot(w)->bytes_out) == 0);
}

/* Control socket closed or broken: the process is gone or going. */
static void
pool_ctl_lost(struct worker *w)
{
	loop_watch(&w->ev, 0);
	close(w->ev.fd);
	w->ev.fd = -1;
	if (w->job)
		jobs_slice_lost(w);
	pool_lose_request(w, w->killed_status > 0 ? w->killed_status : 502);
	if (w->state != WORKER_DOWN)
		w->state = WORKER_EXITING;
}

/*
 * The worker's answer is complete: the connection is ours again, with what
 * the client has not taken yet in rest_fd (ours to close from here).  A
 * worker that dies after this cannot cut the answer.
 */
static void
pool_hand_back(struct worker *w, const struct ctl_done *d, int rest_fd,
    int copy_fd)
{
	struct conn *c = w->conn;

	w->conn = NULL;
	if (copy_fd >= 0)
		cache_store(c, copy_fd, d->copy_len, (int)d->status);
	else if (d->flags & CTL_DONE_TOO_LARGE)
		SUP_COUNT(cache_not_stored, 1);	/* the worker kept no copy */
	sup.served++;
	sup_count_response((int)d->status, 1);
	conn_worker_done(c, (d->flags & CTL_DONE_KEEPALIVE) != 0,
	    (int)d->status, d->bytes_out, w->pid, rest_fd, d->rest_off,
	    d->rest_len);
}

/*
 * A worker has become idle, ready after its start or done with a request
 * or a job slice: the one place that decides what it does next.  While
 * stopping with nobody left to serve, every idle worker quits.  Once the
 * new generation is ready an old-generation worker takes no new request,
 * stopping or not (pool_pick_idle agrees): it is retired, and what waits
 * goes to the new generation, whose code and configuration the operator
 * asked for.  A worker being replaced (pool_replace) still serves until
 * its successor is ready.  Any other worker takes what waits for it.
 */
static void
pool_became_idle(struct worker *w)
{
	w->state = WORKER_IDLE;
	w->idle_seq = ++pool_idle_seq;
	w->deadline = 0;
	if (sup.stopping && conn_need_worker() == 0)
		pool_quit_all();
	else if (!w->member && !pool_retire_pending && !w->replaced_by)
		pool_retire(w);
	else
		dispatch_worker_idle(w);
}

static void
pool_unexpected(struct worker *w, const char *what)
{
	log_err("%s: unexpected %s message", pool_who(w), what);
	kill(w->pid, SIGKILL);
	pool_ctl_lost(w);
}


/*
 * A worker found the wiki private ($wgGroupPermissions['*']['read'] is
 * false) while static mapping i serves its upload directory: said once
 * per mapping and directory (again after a reload that changes them).
 */
static void
pool_private_uploads(uint32_t i)
{
	static char said[PATH_MAX + 64];
	const struct config_static *st;
	char now[sizeof(said)];

	if (i >= (uint32_t)sup.cfg->nstatics)
		return;
	st = &sup.cfg->statics[i];
	snprintf(now, sizeof(now), "%s %s", st->prefix, st->dir);
	if (strcmp(now, said) == 0)
		return;
	memcpy(said, now, sizeof(said));
	log_warn("%s:%lu:%lu: static %s serves %s, the upload directory of a "
	    "private wiki ($wgGroupPermissions['*']['read'] is false): anyone "
	    "who has a file's URL gets it without logging in; serve uploads "
	    "through img_auth.php instead (README, \"Private wikis\")",
	    sup.cfg->path, st->line, st->col, st->prefix, st->dir);
}

static void
pool_on_ctl(struct loop_ev *ev, uint32_t events)
{
	struct worker *w = ev->data;
	union {
		char buf[256];
		struct ctl_ready ready;
		struct ctl_done done;
		uint32_t type;
	} m;
	ssize_t n;
	int fds[2] = { -1, -1 }, fd = -1, copy = -1, nfds = 2;

	n = ctl_recv(ev->fd, m.buf, sizeof(m.buf), fds, &nfds);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		nfds = 0;
	/* The page cache's copy of an answer comes last (CTL_DONE_COPY). */
	if (nfds > 0 && (size_t)n >= sizeof(m.done) &&
	    (m.type == CTL_RESPONSE || m.type == CTL_DONE) &&
	    (m.done.flags & CTL_DONE_COPY))
		copy = fds[--nfds];
	if (nfds > 0)
		fd = fds[0];
	if (nfds > 1)
		close(fds[1]);
	if (n <= 0 || (size_t)n < sizeof(uint32_t)) {
		if (fd >= 0)
			close(fd);
		if (copy >= 0)
			close(copy);
		if (w->state != WORKER_EXITING)
			log_warn("%s: control socket closed",
			    pool_who(w));
		pool_ctl_lost(w);
		return;
	}
	/* Only CTL_RESPONSE carries the rest of an answer; either message
	 * that hands a connection back may carry a copy for the cache. */
	if (fd >= 0 && m.type != CTL_RESPONSE) {
		close(fd);
		fd = -1;
	}
	switch (m.type) {
	case CTL_READY:
		if (w->state != WORKER_STARTING)
			break;
		if ((size_t)n >= sizeof(m.ready) &&
		    (m.ready.flags & CTL_DONE_PRIVATE))
			pool_private_uploads(m.ready.mapping);
		log_debug("%s: ready in %llu ms", pool_who(w),
		    (unsigned long long)(loop_now_ms() - w->started));
		if (w->member)
			pool_successor_ready(w);
		pool_became_idle(w);
		break;
	case CTL_RESPONSE:
		if ((size_t)n < sizeof(m.done) || w->state != WORKER_BUSY ||
		    w->job || w->conn == NULL || m.done.id != w->req_id) {
			if (fd >= 0)
				close(fd);
			if (copy >= 0)
				close(copy);
			pool_unexpected(w, "response");
			return;
		}
		pool_hand_back(w, &m.done, fd, copy);
		copy = -1;
		break;
	case CTL_DONE:
		if ((size_t)n < sizeof(m.done) || w->state != WORKER_BUSY ||
		    (w->job ? m.done.id != jobs_slice_id(w->job) :
		    m.done.id != w->req_id)) {
			if (copy >= 0)
				close(copy);
			pool_unexpected(w, "done");
			return;
		}
		w->deadline = 0;
		w->req_id = 0;
		if (m.done.flags & CTL_DONE_PRIVATE)
			pool_private_uploads(m.done.pad);
		if (w->job)
			jobs_slice_done(w, &m.done);
		else if (w->conn) {
			pool_hand_back(w, &m.done, -1, copy);
			copy = -1;
		}
		if (copy >= 0) {
			close(copy);
			copy = -1;
		}
		if (m.done.flags & CTL_DONE_RECYCLE) {
			SUP_COUNT(worker_recycles, 1);
			pool_quitting(w);
			if (w->pending) {
				dispatch_requeue(w->pending);
				w->pending = NULL;
			}
			break;
		}
		if (m.done.flags & CTL_DONE_REPLACE) {
			pool_replace(w);
			if (w->state == WORKER_EXITING)
				break;
		}
		pool_became_idle(w);
		break;
	default:
		if (copy >= 0)
			close(copy);
		log_err("%s: unknown message type %u",
		    pool_who(w), m.type);
		kill(w->pid, SIGKILL);
		pool_ctl_lost(w);
	}
}

int
pool_assign(struct worker *w, struct conn *c)
{
	int fds[2] = { c->ev.fd, c->body_spool.fd };
	struct slot *sl = pool_slot(w);

	atomic_store(&sl->bytes_out, 0);
	if (ctl_send(w->ev.fd, c->msg, c->msg_len, fds,
	    c->body_spool.fd >= 0 ? 2 : 1) < 0) {
		log_err("%s: sending request: %s", pool_who(w),
		    strerror(errno));
		kill(w->pid, SIGKILL);
		pool_ctl_lost(w);
		return -1;
	}
	/* The message stays until the worker says it is done, in case the
	 * worker goes away before it takes it (pool_lose_request). */
	slot_set_request(sl, http_method_str(c->parser.method), c->hbuf,
	    c->url_len);
	w->state = WORKER_BUSY;
	w->conn = c;
	w->req_id = c->req_id;
	w->stack_asked = 0;
	w->busy_since = loop_now_ms();
	w->deadline = w->busy_since + (uint64_t)sup.cfg->request_timeout_ms;
	c->worker = w;
	c->state = CONN_WORKER;
	c->deadline = 0;
	log_debug("request %llu handed to %s",
	    (unsigned long long)c->req_id, pool_who(w));
	return 0;
}

int
pool_assign_slice(struct worker *w, const void *msg, size_t len, int fd,
    struct jobs_slice *js, const char *what, uint64_t timeout_ms)
{
	struct slot *sl = pool_slot(w);

	atomic_store(&sl->bytes_out, 0);
	if (ctl_send(w->ev.fd, msg, len, &fd, 1) < 0) {
		log_err("%s: sending a job slice: %s", pool_who(w),
		    strerror(errno));
		kill(w->pid, SIGKILL);
		pool_ctl_lost(w);
		return -1;
	}
	slot_set_request(sl, "JOBS", what, strlen(what));
	w->state = WORKER_BUSY;
	w->job = js;
	w->busy_since = loop_now_ms();
	w->deadline = w->busy_since + timeout_ms;
	return 0;
}

/*
 * The worker that became idle last gets the request: its MediaWiki heap
 * and OPcache are still in the CPU's caches, and at low concurrency one
 * worker serves everything while the others stay free for the job queue.
 * Under load all are busy and each takes the next request as it finishes.
 */
struct worker *
pool_pick_idle(int site)
{
	struct worker *best = NULL, *old = NULL;

	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		if (w->state != WORKER_IDLE || w->site != site)
			continue;
		if (w->member) {
			if (best == NULL || w->idle_seq > best->idle_seq)
				best = w;
		} else if (old == NULL && (pool_retire_pending || w->replaced_by))
			old = w;
	}
	/* Old workers serve only until the new generation is ready, or
	 * their own successor is. */
	return best != NULL ? best : old;
}

struct worker *
pool_pick_longest_busy(int site)
{
	struct worker *best = NULL;

	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		if (w->state == WORKER_BUSY && w->pending == NULL &&
		    w->site == site &&
		    w->job == NULL && w->member &&
		    (best == NULL || w->busy_since < best->busy_since))
			best = w;
	}
	return best;
}

/* Workers in state st: members only, of one site (or any: SITE_GONE
 * matches none, so "any" is asked with any_site set). */
static int
pool_count(enum worker_state st, int members_only, int any_site, int site)
{
	int n = 0;

	for (int i = 0; i < pool_hi; i++)
		if (pool_w[i].used && (!members_only || pool_w[i].member) &&
		    (any_site || pool_w[i].site == site))
			n += pool_w[i].state == st;
	return n;
}

int
pool_ready_count(int site)
{
	return pool_count(WORKER_IDLE, 1, 0, site) +
	    pool_count(WORKER_BUSY, 1, 0, site);
}

int
pool_can_serve(int site)
{
	for (int i = 0; i < pool_hi; i++) {
		const struct worker *w = &pool_w[i];

		if (!w->used || w->site != site ||
		    (w->state != WORKER_IDLE && w->state != WORKER_BUSY))
			continue;
		if (w->member || pool_retire_pending || w->replaced_by)
			return 1;
	}
	return 0;
}

int
pool_idle_count(int site)
{
	return pool_count(WORKER_IDLE, 1, 0, site);
}

int
pool_idle_total(void)
{
	return pool_count(WORKER_IDLE, 1, 1, 0);
}

int
pool_busy_count(void)
{
	return pool_count(WORKER_BUSY, 0, 1, 0);
}

int
pool_alive_count(void)
{
	int n = 0;

	for (int i = 0; i < pool_hi; i++)
		n += pool_w[i].used && pool_w[i].state != WORKER_DOWN;
	return n;
}

int
pool_crash_looping(int site)
{
	for (int i = 0; i < pool_hi; i++)
		if (pool_w[i].member && pool_w[i].site == site &&
		    pool_w[i].fails < 2)
			return 0;
	return 1;
}

void
pool_reload_sites(const struct config *old)
{
	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		if (!w->used)
			continue;
		if (w->site == SITE_NONE && sup.cfg->nsites == 0)
			continue;	/* still the one wiki */
		w->site = w->site >= 0 && w->site < old->nsites ?
		    site_find(sup.cfg, old->sites[w->site].name) : SITE_GONE;
	}
}

/* expected: the worker exited because it was asked to or said it would
 * (recycling), which is never a failure however young it was. */
static void
pool_schedule_respawn(struct worker *w, int expected)
{
	uint64_t now = loop_now_ms(), delay = 0;

	if (!expected &&
	    (now - w->started < POOL_YOUNG_MS || w->killed_status == -1)) {
		w->fails++;
		delay = POOL_BACKOFF_MIN_MS;
		for (int i = 1; i < w->fails && delay < POOL_BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > POOL_BACKOFF_MAX_MS)
			delay = POOL_BACKOFF_MAX_MS;
		if (w->fails > 1)
			log_warn("worker %d: failed %d times in a row; next "
			    "start in %llu ms", w->index, w->fails,
			    (unsigned long long)delay);
	} else {
		w->fails = 0;
	}
	w->respawn_at = now + delay;
}

void
pool_on_sigchld(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w = NULL;
		int expected;

		for (int i = 0; i < pool_hi; i++)
			if (pool_w[i].pid == pid && pool_w[i].state != WORKER_DOWN)
				w = &pool_w[i];
		if (w == NULL)
			continue;
		if (WIFSIGNALED(status))
			log_warn("%s: killed by signal %d%s",
			    pool_who(w), WTERMSIG(status),
			    WCOREDUMP(status) ? " (core dumped)" : "");
		else if (WEXITSTATUS(status) != 0)
			log_warn("%s: exited with status %d",
			    pool_who(w), WEXITSTATUS(status));
		else
			log_debug("%s: exited", pool_who(w));
		if (w->state == WORKER_STARTING)
			w->killed_status = -1;	/* never became ready */
		expected = w->quitting;
		if (!expected)
			SUP_COUNT(worker_deaths, 1);
		if (w->ev.fd >= 0)
			pool_ctl_lost(w);
		slot_set_state(pool_slot(w), SLOT_EMPTY);
		atomic_store(&pool_slot(w)->pid, 0);
		w->state = WORKER_DOWN;
		w->pid = 0;
		if (w->member)
			pool_schedule_respawn(w, expected);
		else
			w->used = 0;	/* an old generation's place is free */
	}
}

/*
 * A web request still running past log.slow: the worker logs its PHP stack
 * (worker/slowlog.c), once per request.  The id is the one the worker put
 * in its slot; none yet means it has not started the request, so the next
 * tick asks again.
 */
static void
pool_ask_stack(struct worker *w)
{
	struct slot *sl = pool_slot(w);
	uint64_t id = atomic_load(&sl->request_id);

	if (id == 0)
		return;
	slot_ask_stack(sl, id);
	w->stack_asked = 1;
}

void
pool_tick(void)
{
	uint64_t now = loop_now_ms();

	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		switch (w->state) {
		case WORKER_DOWN:
			if (w->member && !sup.stopping && now >= w->respawn_at)
				if (pool_spawn(w) < 0)
					w->respawn_at = pool_retry_at(w);
			break;
		case WORKER_STARTING:
			if (now >= w->deadline) {
				log_err("%s: not ready after "
				    "%d ms; killing it", pool_who(w),
				    sup.cfg->startup_timeout_ms);
				w->deadline = now + POOL_QUIT_GRACE_MS;
				kill(w->pid, SIGKILL);
			}
			break;
		case WORKER_BUSY:
			if (now >= w->deadline && w->killed_status == 0) {
				if (w->job) {
					log_err("%s: job slice "
					    "over jobs.timeout (%d ms); killing "
					    "it", pool_who(w),
					    sup.cfg->jobs_timeout_ms);
				} else {
					log_err("%s: request "
					    "over the %d ms timeout; killing "
					    "it", pool_who(w),
					    sup.cfg->request_timeout_ms);
					SUP_COUNT(timeouts, 1);
				}
				w->killed_status = 504;
				kill(w->pid, SIGKILL);
			} else if (w->req_id && !w->stack_asked &&
			    sup.cfg->slow_log_ms > 0 && now - w->busy_since >=
			    (uint64_t)sup.cfg->slow_log_ms) {
				pool_ask_stack(w);
			}
			break;
		case WORKER_EXITING:
			if (w->deadline && now >= w->deadline && w->pid > 0) {
				kill(w->pid, SIGKILL);
				w->deadline = 0;
			}
			break;
		case WORKER_IDLE:
			break;
		}
	}
}

void
pool_quit_all(void)
{
	struct ctl_quit q = { CTL_QUIT, 0 };

	for (int i = 0; i < pool_hi; i++) {
		struct worker *w = &pool_w[i];

		if (w->state != WORKER_IDLE && w->state != WORKER_STARTING)
			continue;
		if (w->ev.fd >= 0 && ctl_send(w->ev.fd, &q, sizeof(q), NULL, 0) < 0)
			kill(w->pid, SIGTERM);
		pool_quitting(w);
	}
}

void
pool_kill_all(void)
{
	for (int i = 0; i < pool_hi; i++)
		if (pool_w[i].pid > 0)
			kill(pool_w[i].pid, SIGKILL);
}
