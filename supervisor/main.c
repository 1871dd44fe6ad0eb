/*
 * main.c - mwsup: command line, start-up, signals and the main loop.
 *
 * Start-up order matters: parse the config (exit 2 on any error), bind
 * the sockets while still privileged, drop to the configured user, then
 * start workers.  Signals arrive through a signalfd so every handler runs
 * in the loop, never asynchronously.
 */
#include "accesslog.h"
#include "cache.h"
#include "conn.h"
#include "dispatch.h"
#include "errpage.h"
#include "jobs.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "pathcache.h"
#include "pool.h"
#include "spool.h"
#include "static.h"
#include "zcache.h"
#include "status.h"
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>


static struct loop_ev main_sig_ev;
static int main_ready_sent;
static int main_terms;
static uint64_t main_stop_deadline;
static uint64_t main_drain_end;		/* draining: the listener closes */
static uint64_t main_watchdog_ms;	/* 0: systemd watchdog off */
static uint64_t main_watchdog_next;
static uint64_t main_status_next;
static const char *main_config_path = MW_SYSCONFDIR "/mw.yaml";

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: mwsup [-t] [-v] [-c FILE]\n"
	    "       mwsup --dump [-c FILE]\n"
	    "       mwsup status [--json | --prometheus] [-c CONFIG | --pid PID]\n"
	    "  -c, --config FILE  configuration (default %s/mw.yaml)\n"
	    "  -t, --test         check the configuration and exit\n"
	    "      --dump         print the effective configuration (every key,\n"
	    "                     defaults filled in) as mw.yaml and exit\n"
	    "  -v, --verbose      log debug messages\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "mwsup status --help lists the options of status.\n"
	    "See mwsup(8) and mw.yaml(5).\n", MW_SYSCONFDIR);
}

/*
 * Started as root, mwsup runs the wiki as mw.yaml's user:.  Without one,
 * MediaWiki and every program PHP starts would run as root, unnoticed.
 * Like PHP-FPM, which refuses a root pool unless started with
 * --allow-to-run-as-root, mwsup refuses unless mw.yaml says so in words:
 * "user: root".  Checked by -t too, so a unit's ExecStartPre catches it.
 */
static int
main_check_root(const struct config *cfg)
{
	if (geteuid() != 0 || cfg->user != NULL)
		return 0;
	log_err("%s: started as root, but no \"user:\" is set: set user: to "
	    "the account that runs the wiki (such as user: www-data), or "
	    "user: root to run MediaWiki as root on purpose", cfg->path);
	return -1;
}

static int
main_drop_privileges(void)
{
	struct passwd *pw;
	struct group *gr = NULL;
	gid_t gid;

	if (geteuid() != 0 || sup.cfg->user == NULL)
		return 0;
	if ((pw = getpwnam(sup.cfg->user)) == NULL) {
		log_err("%s: user %s: no such user", sup.cfg->path,
		    sup.cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (sup.cfg->group) {
		if ((gr = getgrnam(sup.cfg->group)) == NULL) {
			log_err("%s: group %s: no such group", sup.cfg->path,
			    sup.cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (initgroups(pw->pw_name, gid) < 0 || setgid(gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_err("dropping privileges to %s: %s", sup.cfg->user,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_warn("running as root: %s says \"user: %s\"",
		    sup.cfg->path, sup.cfg->user);
		return 0;
	}
	if (setuid(0) == 0) {
		log_err("dropping privileges to %s: still root", sup.cfg->user);
		return -1;
	}
	/* setuid() made us non-dumpable, which hides /proc/PID/fd from the
	 * service user; `mwsup status` as that user needs it, and it is what
	 * a process started as that user (under systemd) has anyway. */
	prctl(PR_SET_DUMPABLE, 1);
	log_info("running as %s", sup.cfg->user);
	return 0;
}

/*
 * Each connection holds a socket and, while it is served, a static file
 * or a body memfd; each worker a control socket (two generations during
 * a reload) and one more while it runs a job slice; 64 cover the listen
 * sockets, logs, SQLite and the like, and PATHCACHE_MAX the directories
 * static files are opened from.  The usual soft limit of 1024 is
 * too few for the default limits.connections, so raise it to the hard
 * limit, as nginx's worker_rlimit_nofile and PHP-FPM's rlimit_files do,
 * and say so.  Workers get the soft limit back (pool.c), for the programs
 * PHP starts that use select().  units/mediawiki.service sizes its
 * LimitNOFILE= by the same count.
 */
static void
main_raise_nofile(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t need = 2 * (uint64_t)cfg->connections_max +
	    4 * (uint64_t)cfg->workers_total + PATHCACHE_MAX + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("open files limit: %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
			log_info("open files limit raised from %llu to %llu "
			    "(the hard limit)", (unsigned long long)old,
			    (unsigned long long)rl.rlim_cur);
			pool_set_worker_nofile((uint64_t)old);
		} else {
			log_warn("open files limit: raising %llu to %llu: %s",
			    (unsigned long long)old,
			    (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = old;
		}
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn("open files limit %llu is below the %llu that "
		    "limits.connections %d may need: past it, requests get 503 "
		    "and accepting pauses (raise LimitNOFILE= or ulimit -n, "
		    "or lower limits.connections)",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
		    cfg->connections_max);
}

static int
main_config_memfd(const char *buf, size_t len)
{
	int fd = memfd_create("mwsup-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (sup_write_all(fd, buf, len) < 0) {
		close(fd);
		return -1;
	}
	/* Workers must read exactly what was validated. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL);
	return fd;
}

/* What readers of the slot table show, which mw.yaml decides. */
static void
main_set_slot_flags(void)
{
	atomic_store(&sup.slots->flags,
	    sup.cfg->status_show_query ? SLOTS_SHOW_QUERY : 0);
}

static void
main_begin_stop(void)
{
	if (sup.stopping)
		return;
	if (!sup.draining)
		sd_notify(0, "STOPPING=1");
	sup.draining = 1;
	sup.stopping = 1;
	main_stop_deadline = loop_now_ms() +
	    (uint64_t)sup.cfg->shutdown_timeout_ms;
	log_notice("stopping: finishing %d busy worker(s), %d queued",
	    pool_busy_count(), dispatch_queue_len());
	listen_stop();
	/* Idle workers quit once no accepted connection may need one
	 * (main loop). */
}

/*
 * A stop signal: with timeouts.drain, first a while in which the health
 * answer says "draining" and every connection closes after its answer,
 * while new connections are still taken and served, so that a load
 * balancer's checks see it before the listener goes.  Then the stop.
 */
static void
main_begin_drain(void)
{
	if (sup.draining || sup.cfg->drain_ms == 0) {
		main_begin_stop();
		return;
	}
	sup.draining = 1;
	main_drain_end = loop_now_ms() + (uint64_t)sup.cfg->drain_ms;
	sd_notify(0, "STOPPING=1");
	log_notice("draining: still serving for %d ms, then stopping",
	    sup.cfg->drain_ms);
}

static int
main_same_list(char *const *a, int na, char *const *b, int nb)
{
	if (na != nb)
		return 0;
	for (int i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int
main_same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/*
 * SIGHUP: read the file again; if it is valid, start a new generation of
 * workers with it and retire the old one once the new one is ready, so no
 * request is dropped.  A bad file changes nothing.  Sockets and the user
 * were set up before privileges were dropped and stay as they are.
 */
static void
main_reload(void)
{
	struct config *ncfg, *old = sup.cfg;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	if (sup.draining)
		return;
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)loop_now_ms() * 1000ULL);
	log_notice("reload: reading %s", main_config_path);
	if ((ncfg = calloc(1, sizeof(*ncfg))) == NULL ||
	    config_load(ncfg, main_config_path, &buf, &len) < 0) {
		free(ncfg);
		log_err("reload: %s is not valid; still running the previous "
		    "configuration", main_config_path);
		sd_notify(0, "READY=1\nSTATUS=reload failed: configuration "
		    "not valid");
		return;
	}
	if (spool_dir_prepare(ncfg->temp_dir, false) < 0) {
		log_err("reload: still running the previous configuration");
		free(buf);
		config_free(ncfg);
		free(ncfg);
		sd_notify(0, "READY=1\nSTATUS=reload failed: temp_dir not usable");
		return;
	}
	if ((fd = main_config_memfd(buf, len)) < 0) {
		log_err("reload: config memfd: %s", strerror(errno));
		free(buf);
		config_free(ncfg);
		free(ncfg);
		sd_notify(0, "READY=1");
		return;
	}
	free(buf);
	if (errpage_load(ncfg) < 0) {
		log_err("reload: still running the previous configuration");
		close(fd);
		config_free(ncfg);
		free(ncfg);
		sd_notify(0, "READY=1\nSTATUS=reload failed: error_pages");
		return;
	}
	/* the media types point into ncfg from here on */
	if (static_types_load(ncfg) < 0) {
		log_err("reload: still running the previous configuration");
		close(fd);
		config_free(ncfg);
		free(ncfg);
		sd_notify(0, "READY=1\nSTATUS=reload failed: out of memory");
		return;
	}
	zcache_clear();		/* the levels may have changed */
	if (!sup.socket_activated &&
	    !main_same_list(old->listen, old->nlisten, ncfg->listen,
	    ncfg->nlisten))
		log_warn("reload: listen addresses changed; that needs a "
		    "restart (keeping the current sockets)");
	if (!main_same_str(old->user, ncfg->user) ||
	    !main_same_str(old->group, ncfg->group))
		log_warn("reload: user/group changed; that needs a restart");
	sup.cfg = ncfg;
	pool_reload_sites(old);
	dispatch_reload_sites();
	pathcache_clear();	/* judged under the old mappings */
	close(sup.config_fd);
	sup.config_fd = fd;
	main_set_slot_flags();
	cache_configure();
	conn_init_parser_settings();
	accesslog_reopen();
	config_free(old);
	free(old);
	main_ready_sent = 0;
	if (pool_reload() < 0)
		log_err("reload: the new generation could not start in full");
	jobs_reload();
}

static void
main_on_signal(struct loop_ev *ev, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(ev->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			pool_on_sigchld();
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			if (++main_terms > 1 || si.ssi_signo == SIGQUIT) {
				log_notice("second stop signal: exiting now");
				main_begin_stop();
				main_stop_deadline = loop_now_ms();
			} else
				main_begin_drain();
			break;
		case SIGHUP:
			main_reload();
			break;
		case SIGUSR1:
			log_notice("SIGUSR1: reopening the access log");
			accesslog_reopen();
			break;
		}
	}
}

static int
main_setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	loop_ev_init(&main_sig_ev, fd, main_on_signal, NULL);
	return loop_watch(&main_sig_ev, EPOLLIN);
}

static void
main_check_ready(void)
{
	if (sup.draining || !pool_generation_ready() || main_ready_sent)
		return;
	main_ready_sent = 1;
	sd_notifyf(0, "READY=1\nSTATUS=%d workers ready",
	    sup.cfg->workers_total);
	if (sup.cfg->nsites > 0)
		log_notice("ready: %d workers for %d sites, listening on %d "
		    "socket(s)", sup.cfg->workers_total, sup.cfg->nsites,
		    listen_count());
	else
		log_notice("ready: %d workers, listening on %d socket(s)",
		    sup.cfg->workers, listen_count());
}

/* Keep systemd informed: the watchdog ping proves the loop turns, and
 * STATUS= is what `systemctl status` shows. */
static void
main_notify_tick(void)
{
	static char last[160];
	char status[160];
	uint64_t now = loop_now_ms();

	if (main_watchdog_ms && now >= main_watchdog_next) {
		sd_notify(0, "WATCHDOG=1");
		main_watchdog_next = now + main_watchdog_ms / 2;
	}
	if (now < main_status_next || !main_ready_sent)
		return;
	main_status_next = now + 1000;
	snprintf(status, sizeof(status),
	    "STATUS=%d idle, %d busy, %d queued, %llu served%s",
	    pool_idle_total(), pool_busy_count(),
	    dispatch_queue_len(), (unsigned long long)sup.served,
	    sup.stopping ? ", stopping" : sup.draining ? ", draining" : "");
	if (strcmp(status, last) != 0) {
		sd_notify(0, status);
		memcpy(last, status, sizeof(last));
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "test",	no_argument,	   NULL, 't' },
		{ "dump",	no_argument,	   NULL, 'D' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int test_only = 0, dump = 0, ch;
	struct config *cfg;
	char *buf = NULL;
	size_t len = 0;

	log_init("mwsup");
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "c:tvhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			main_config_path = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'D':
			dump = 1;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("mwsup %s\n", PACKAGE_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mwsup: unexpected argument: %s\n", argv[optind]);
		main_usage(stderr);
		return 2;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		fatal("out of memory");
	if (config_load(cfg, main_config_path, &buf, &len) < 0) {
		free(cfg);
		return 2;
	}
	if (dump) {
		/* what the file says, checked as -t does, defaults filled in */
		int rc = config_dump(cfg, stdout) == 0 ? 0 : 1;

		if (rc != 0)
			log_err("--dump: cannot write %s to standard output",
			    main_config_path);
		config_free(cfg);
		free(cfg);
		free(buf);
		return rc;
	}
	if (main_check_root(cfg) < 0) {
		config_free(cfg);
		free(cfg);
		free(buf);
		return 2;
	}
	if (errpage_load(cfg) < 0) {
		config_free(cfg);
		free(cfg);
		free(buf);
		return 2;
	}
	if (test_only) {
		errpage_free();
		printf("mwsup: configuration file %s is valid\n",
		    main_config_path);
		config_free(cfg);
		free(cfg);
		free(buf);
		return 0;
	}
	sup.cfg = cfg;
	if (static_types_load(cfg) < 0)
		fatal("media types: out of memory");
	{
		uint64_t usec;

		if (sd_watchdog_enabled(0, &usec) > 0)
			main_watchdog_ms = usec / 1000;
	}
	main_raise_nofile(cfg);
	if (loop_init() < 0)
		fatal("epoll: %s", strerror(errno));
	if (main_setup_signals() < 0)
		fatal("signals: %s", strerror(errno));
	conn_init_parser_settings();
	if (listen_open(cfg) < 0 || accesslog_open() < 0) {
		listen_cleanup();
		return 1;
	}
	if (listen_keep_unlinker(cfg) < 0 || main_drop_privileges() < 0) {
		listen_cleanup();
		return 1;
	}
	/* As the server's user: the directory must be its own. */
	if (spool_dir_prepare(cfg->temp_dir, true) < 0) {
		listen_cleanup();
		return 1;
	}
	if ((sup.config_fd = main_config_memfd(buf, len)) < 0)
		fatal("config memfd: %s", strerror(errno));
	free(buf);
	sup.slots_fd = slots_create(POOL_MAX, &sup.slots);
	if (sup.slots_fd < 0)
		fatal("slot table: %s", strerror(errno));
	main_set_slot_flags();
	cache_configure();
	if (pool_init() < 0 || pool_start() < 0)
		return 1;
	log_info("mwsup %s: starting %d workers (%s)", PACKAGE_VERSION,
	    cfg->workers_total, pool_worker_path());
	jobs_init();

	for (;;) {
		loop_run_once(LOOP_TICK_MS);
		conn_tick();
		dispatch_tick();
		pool_tick();
		jobs_tick();
		listen_tick();
		/* What the ticks closed, before the next batch. */
		loop_reap();
		main_check_ready();
		main_notify_tick();
		accesslog_flush();
		if (sup.draining && !sup.stopping &&
		    loop_now_ms() >= main_drain_end) {
			main_begin_stop();
			conn_close_idle();
		}
		if (sup.stopping) {
			if (conn_need_worker() == 0)
				pool_quit_all();
			if (conn_count() == 0 && pool_alive_count() == 0)
				break;
			if (loop_now_ms() >= main_stop_deadline) {
				log_warn("shutdown deadline: killing %d "
				    "worker(s)", pool_alive_count());
				pool_kill_all();
				break;
			}
		}
	}
	loop_reap();
	listen_cleanup();
	accesslog_flush();
	log_notice("stopped");
	jobs_cleanup();
	static_types_free();
	pathcache_clear();
	errpage_free();
	zcache_clear();
	cache_clear();
	config_free(sup.cfg);
	free(sup.cfg);
	return 0;
}
