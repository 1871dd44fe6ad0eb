/*
 * main.c - mwworker: one PHP worker process under mwsup.
 *
 * Started by the supervisor with the control socket, the slot table and
 * the config bytes on descriptors 3, 4 and 5 (see ctl.h).  It starts PHP
 * once, reports CTL_READY, then serves one request at a time until the
 * supervisor says quit, goes away (EOF), or a limit says this process has
 * served enough.  Policy lives in the supervisor; the worker only reports
 * (slot table, CTL_DONE flags) and exits when asked or when it must.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "private.h"
#include "request.h"
#include "response.h"
#include "sapi.h"
#include "slots.h"
#include "slowlog.h"
#include "warm.h"

#if defined(__SANITIZE_ADDRESS__)
/*
 * PHP loads its extensions with RTLD_DEEPBIND, which the ASan runtime
 * refuses (it aborts the process).  In sanitizer builds only, this
 * definition interposes libphp's dlopen and drops the flag; it keeps
 * extensions' symbols apart from the host program's, which mwworker does
 * not need.
 */
void *
dlopen(const char *file, int mode)
{
	static void *(*real_dlopen)(const char *, int);

	if (real_dlopen == NULL)
		real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT,
		    "dlopen");
	return real_dlopen(file, mode & ~RTLD_DEEPBIND);
}
#endif

/* This worker process as its main loop sees it (the supervisor's view of a
 * worker is struct worker in supervisor/pool.h). */
struct worker_self {
	struct config	 cfg;
	char		*cfg_buf;
	struct slot	*slot;
	uint32_t	 generation;
	uint64_t	 requests;
	sigset_t	 stop_set;	/* SIGTERM, SIGINT */
	sigset_t	 wait_mask;	/* the mask inside ppoll: stop_set open */
	bool		 replace_asked;	/* CTL_DONE_REPLACE sent */
};

/*
 * SIGTERM/SIGINT only set a flag: a request in progress always finishes,
 * then the worker reports CTL_DONE_RECYCLE and exits.  They are blocked
 * only around the wait for the next message (so none is lost between the
 * check and ppoll), never while PHP runs: a blocked mask would be
 * inherited by the commands MediaWiki executes.
 */
static volatile sig_atomic_t worker_stop;

static void
worker_on_signal(int sig)
{
	worker_stop = 1;
}

/* SIGPIPE is caught rather than ignored: writes still fail with EPIPE,
 * and the commands PHP runs start with the default disposition (an
 * ignored signal would stay ignored across exec). */
static void
worker_on_sigpipe(int sig)
{
}

static void
worker_usage(FILE *out)
{
	fprintf(out,
	    "usage: mwworker --slot N --generation G --config-name PATH "
	    "[--site NAME] [--verbose]\n"
	    "       mwworker --help | --version\n"
	    "\n"
	    "PHP worker of mwsup, started by the supervisor only: descriptor 3\n"
	    "is the control socket, 4 the slot table, 5 the configuration.\n"
	    "See mwworker(8).\n");
}

static unsigned long
worker_number(const char *opt, const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > max) {
		log_err("%s %s: not a number in 0..%lu", opt, s, max);
		exit(2);
	}
	return v;
}

static void
worker_signals(struct worker_self *w)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = worker_on_sigpipe;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = worker_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	sigemptyset(&w->stop_set);
	sigaddset(&w->stop_set, SIGTERM);
	sigaddset(&w->stop_set, SIGINT);
	if (sigprocmask(SIG_SETMASK, NULL, &w->wait_mask) < 0)
		fatal("sigprocmask: %s", strerror(errno));
	sigdelset(&w->wait_mask, SIGTERM);
	sigdelset(&w->wait_mask, SIGINT);

	/* The supervisor's death must not leave workers behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		log_warn("prctl PR_SET_PDEATHSIG: %s", strerror(errno));
}

static void
worker_load_config(struct worker_self *w, const char *name)
{
	struct stat st;
	size_t len = 0;

	if (fstat(CTL_FD_CONFIG, &st) < 0)
		fatal("config %s: descriptor %d: %s", name, CTL_FD_CONFIG,
		    strerror(errno));
	if ((w->cfg_buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("config %s: %s", name, strerror(errno));
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(CTL_FD_CONFIG, w->cfg_buf + len,
		    (size_t)st.st_size - len, (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("config %s: read descriptor %d: %s", name,
			    CTL_FD_CONFIG, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	w->cfg_buf[len] = '\0';
	close(CTL_FD_CONFIG);
	if (config_parse(&w->cfg, name, w->cfg_buf, len) < 0)
		exit(2);	/* config_parse said what is wrong */
}

/*
 * A farm's worker serves one site: MediaWiki reads that site's
 * LocalSettings.php, and the bootstrap's synthetic request is for its
 * host (warm.c).  The supervisor always names the site when mw.yaml has
 * sites:, and never without.
 */
static void
worker_pick_site(struct worker_self *w, const char *name)
{
	struct config_site *s = NULL;
	char *settings;

	if (name == NULL)
		fatal("config %s has sites: but no --site was given", w->cfg.path);
	for (int i = 0; i < w->cfg.nsites; i++)
		if (strcmp(w->cfg.sites[i].name, name) == 0)
			s = &w->cfg.sites[i];
	if (s == NULL)
		fatal("--site %s: config %s has no such site", name,
		    w->cfg.path);
	if ((settings = strdup(s->settings)) == NULL)
		fatal("--site %s: %s", name, strerror(errno));
	free(w->cfg.mw_settings);
	w->cfg.mw_settings = settings;
	w->cfg.site = s->name;
	log_set_site(s->name);
}

static void
worker_map_slot(struct worker_self *w, unsigned long slot)
{
	struct slot_table *tab;

	if (slots_map(CTL_FD_SLOTS, &tab) < 0)
		fatal("slot table on descriptor %d: %s", CTL_FD_SLOTS,
		    strerror(errno));
	close(CTL_FD_SLOTS);	/* the mapping stays */
	if (slot >= tab->nslots)
		fatal("slot %lu: the table has %u slots", slot, tab->nslots);
	w->slot = &tab->slots[slot];
}

static uint64_t
worker_rss_kb(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (f == NULL)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

static void
worker_send(const void *msg, size_t len)
{
	request_report(msg, len, -1);
}

static void __attribute__((noreturn))
worker_exit(struct worker_self *w, int code)
{
	slot_set_state(w->slot, SLOT_EXITING);
	warm_stop();
	mwsapi_shutdown();
	config_free(&w->cfg);
	free(w->cfg_buf);
	exit(code);
}

/* Serve one CTL_REQUEST; returns true when the worker must exit after. */
/*
 * recycle.max_requests or recycle.max_rss reached: ask the supervisor for
 * a successor (CTL_DONE_REPLACE) and go on serving until it is ready and
 * the supervisor says quit, so the pool is not a worker short while the
 * successor bootstraps.  A worker still serving at twice its request
 * limit, or at one and a half times its memory limit (its successor
 * cannot start), exits at once instead.  Returns true to exit now.
 */
static bool
worker_at_limit(struct worker_self *w, uint64_t rss, struct ctl_done *done)
{
	uint64_t maxr = w->cfg.max_requests, maxm = w->cfg.max_rss_kb;

	if (w->replace_asked) {
		if ((maxr && w->requests >= 2 * maxr) ||
		    (maxm && rss > maxm + maxm / 2)) {
			log_notice("still serving at %llu requests, %llu KiB "
			    "with no successor: recycling",
			    (unsigned long long)w->requests,
			    (unsigned long long)rss);
			return true;
		}
		return false;
	}
	if (maxr && w->requests >= maxr)
		log_info("served %llu requests: asking for a successor",
		    (unsigned long long)w->requests);
	else if (maxm && rss > maxm)
		log_notice("resident memory %llu KiB over %llu KiB: asking for "
		    "a successor", (unsigned long long)rss,
		    (unsigned long long)maxm);
	else
		return false;
	w->replace_asked = true;
	done->flags |= CTL_DONE_REPLACE;
	return false;
}

static bool
worker_serve(struct worker_self *w, const char *msg, size_t len, int *fds, int nfds)
{
	struct request rq;
	struct ctl_done done;
	struct slot *s = w->slot;
	uint64_t rss;
	bool recycle;
	int copy;

	memset(&done, 0, sizeof(done));
	done.type = CTL_DONE;
	if (request_open(&rq, msg, len, fds, nfds, s) < 0) {
		/* A malformed message is the supervisor's bug; the client
		 * still gets an answer, and this worker stays healthy. */
		if (rq.client_fd >= 0) {
			struct response r;

			response_init(&r, rq.client_fd, 0, 1, NULL);
			(void)response_fail(&r, 500);
			done.bytes_out = r.sent;
			response_free(&r);
			(void)shutdown(rq.client_fd, SHUT_WR);
			close(rq.client_fd);
		}
		done.id = rq.id;
		done.status = 500;
		worker_send(&done, sizeof(done));
		return false;
	}

	/* A client's answer never waits for the client; a job slice's
	 * answer goes to the supervisor, which reads it at once. */
	if (!(rq.flags & CTL_REQ_JOBS)) {
		response_spool_to(&rq.resp, w->cfg.temp_dir,
		    w->cfg.response_buffer);
		rq.resp.copy_max = w->cfg.cache_max_entry;
		response_compress(&rq.resp, &w->cfg, compress_choose(&w->cfg,
		    request_param(&rq, "HTTP_ACCEPT_ENCODING")));
	}
	atomic_store(&s->request_id, rq.id);
	atomic_store(&s->bytes_out, 0);
	atomic_store(&s->status, 0);
	slot_set_state(s, (rq.flags & CTL_REQ_JOBS) ? SLOT_JOBS : SLOT_BUSY);

	request_run(&rq);

	w->requests++;
	rss = worker_rss_kb();
	atomic_store(&s->status, (uint32_t)rq.resp.status);
	atomic_store(&s->bytes_out, rq.resp.sent);
	atomic_store(&s->requests, w->requests);
	atomic_store(&s->rss_kb, rss);

	done.id = rq.id;
	done.status = (uint32_t)rq.resp.status;
	done.bytes_out = rq.resp.sent;
	if (!rq.handed_back && (rq.flags & CTL_REQ_KEEPALIVE) &&
	    response_keepalive(&rq.resp))
		done.flags |= CTL_DONE_KEEPALIVE;

	recycle = rq.fatal || rq.recycle;
	if (rq.fatal)
		log_notice("request %llu ended in a fatal error: recycling",
		    (unsigned long long)rq.id);
	else if (rq.recycle)
		log_notice("request %llu ended with exit(), an uncaught "
		    "exception or a failed restore: recycling",
		    (unsigned long long)rq.id);
	if (!recycle)
		recycle = worker_at_limit(w, rss, &done);
	if (worker_stop)
		recycle = true;
	if (recycle)
		done.flags |= CTL_DONE_RECYCLE;
	if (private_report_due()) {
		done.flags |= CTL_DONE_PRIVATE;
		done.pad = (uint32_t)private_uploads_mapping();
	}

	/* The connection goes back with this message unless it went
	 * already: then with the page cache's copy of the answer. */
	copy = rq.handed_back ? -1 : response_take_copy(&rq.resp, &done);
	request_close(&rq);
	atomic_store(&s->request_id, 0);
	slot_set_state(s, recycle ? SLOT_EXITING : SLOT_IDLE);
	request_report_copy(&done, -1, copy);
	return recycle;
}

static void __attribute__((noreturn))
worker_loop(struct worker_self *w)
{
	static union {
		char buf[CTL_MSG_MAX];
		struct ctl_request align;
	} m;

	for (;;) {
		struct pollfd p = { CTL_FD_CONTROL, POLLIN, 0 };
		int fds[2], nfds = 2;
		uint32_t type;
		ssize_t n;

		sigprocmask(SIG_BLOCK, &w->stop_set, NULL);
		if (worker_stop)
			worker_exit(w, 0);
		if (ppoll(&p, 1, NULL, &w->wait_mask) < 0) {
			if (errno == EINTR)
				continue;	/* still blocked: checked above */
			fatal("control socket: poll: %s", strerror(errno));
		}
		sigprocmask(SIG_UNBLOCK, &w->stop_set, NULL);
		n = ctl_recv(CTL_FD_CONTROL, m.buf, sizeof(m.buf), fds, &nfds);
		if (n == 0)
			worker_exit(w, 0);	/* supervisor gone */
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			if (errno == ECONNRESET)
				worker_exit(w, 0);
			fatal("control socket: receive: %s", strerror(errno));
		}
		if ((size_t)n < sizeof(type)) {
			log_err("control message of %zd bytes: too short", n);
			while (nfds > 0)
				close(fds[--nfds]);
			continue;
		}
		memcpy(&type, m.buf, sizeof(type));
		switch (type) {
		case CTL_REQUEST:
			if (worker_serve(w, m.buf, (size_t)n, fds, nfds))
				worker_exit(w, 0);
			break;
		case CTL_QUIT:
			while (nfds > 0)
				close(fds[--nfds]);
			worker_exit(w, 0);
		default:
			log_err("control message type %u: unknown, ignored",
			    type);
			while (nfds > 0)
				close(fds[--nfds]);
			break;
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "slot",		required_argument, NULL, 's' },
		{ "generation",		required_argument, NULL, 'g' },
		{ "config-name",	required_argument, NULL, 'c' },
		{ "site",		required_argument, NULL, 'S' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct worker_self w;
	const char *cfg_name = "config", *site = NULL;
	unsigned long slot = 0;
	bool have_slot = false;
	struct ctl_ready ready;
	int c;

	log_init("mwworker");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			slot = worker_number("--slot", optarg, UINT32_MAX);
			have_slot = true;
			break;
		case 'g':
			w.generation = (uint32_t)worker_number("--generation",
			    optarg, UINT32_MAX);
			break;
		case 'c':
			cfg_name = optarg;
			break;
		case 'S':
			site = optarg;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 'h':
			worker_usage(stdout);
			return 0;
		case 'V':
			printf("mwworker (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return 0;
		default:
			worker_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !have_slot) {
		worker_usage(stderr);
		return 2;
	}

	/* Descriptors 3-5 arrive inheritable: the supervisor passed them
	 * across exec on purpose. */
	request_cloexec_all();
	worker_signals(&w);
	worker_load_config(&w, cfg_name);
	if (site != NULL || w.cfg.nsites > 0)
		worker_pick_site(&w, site);
	worker_map_slot(&w, slot);
	atomic_store(&w.slot->pid, (uint32_t)getpid());
	atomic_store(&w.slot->generation, w.generation);
	atomic_store(&w.slot->requests, 0);
	atomic_store(&w.slot->request_id, 0);
	slot_set_state(w.slot, SLOT_STARTING);

	/* MediaWiki finds LocalSettings.php through this (getenv falls
	 * back to the process environment). */
	if (w.cfg.mw_settings &&
	    setenv("MW_CONFIG_FILE", w.cfg.mw_settings, 1) < 0)
		fatal("setenv MW_CONFIG_FILE: %s", strerror(errno));
	if (w.cfg.mw_root && chdir(w.cfg.mw_root) < 0)
		log_warn("chdir %s: %s", w.cfg.mw_root, strerror(errno));

	private_init(&w.cfg);
	if (mwsapi_init(&w.cfg) < 0) {
		slot_set_state(w.slot, SLOT_EXITING);
		return 1;
	}
	if (w.cfg.slow_log_ms > 0)
		slowlog_start(w.slot);

	if (w.cfg.snapshot_enabled && warm_init(&w.cfg) < 0)
		log_err("warm mode off in this worker: requests run cold");

	memset(&ready, 0, sizeof(ready));
	ready.type = CTL_READY;
	ready.pid = (uint32_t)getpid();
	if (private_report_due()) {
		ready.flags |= CTL_DONE_PRIVATE;
		ready.mapping = (uint32_t)private_uploads_mapping();
	}
	slot_set_state(w.slot, SLOT_IDLE);
	worker_send(&ready, sizeof(ready));
	worker_loop(&w);
}
