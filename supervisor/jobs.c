/*
 * jobs.c - the job runner: slices of MediaWiki's job queue in idle workers.
 *
 * With $wgJobRunRate = 0 nothing runs MediaWiki's deferred work unless a
 * runner does; this is that runner, replacing runJobs.php cron jobs and
 * the Redis job runner and chron services.  A slice is a request the
 * supervisor makes: the worker runs worker/php/jobs.php with the slice's
 * group, limits and whether to do the queue upkeep ("chron": due delayed
 * jobs released, claims past claimTTL re-queued or abandoned, old
 * abandoned jobs pruned) and answers "name value" lines on a
 * socketpair.  Web requests win: a slice starts only when no request
 * waits and more than jobs.reserve workers are idle, and a slice takes no
 * new job after its max_time.
 *
 * Knowing when there is work: with jobs.sqlite (a JobQueueDB wiki on
 * SQLite) the supervisor counts the job table itself, read-only, so an
 * idle wiki costs nothing; otherwise a group is polled with a slice every
 * jobs.poll, and a slice that stopped at a limit says there is more.
 *
 * A farm (sites:) has a job queue per wiki: each site's groups are
 * scheduled on their own and its slices go to its own workers, whose
 * MediaWiki is that wiki's.
 */
#include "jobs.h"
#include "ctl.h"
#include "dispatch.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "reqbuild.h"
#include "site.h"
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define JOBS_REPLY_MAX	(16 * 1024)	/* the answer is a few hundred bytes */
#define JOBS_SCRIPT	"jobs.php"

enum jobs_work { JOBS_UNKNOWN, JOBS_NONE, JOBS_SOME };

/* The statements of the SQLite look (jobs_look()). */
enum { JOBS_Q_FIRST, JOBS_Q_NEXT, JOBS_Q_READY, JOBS_Q_CLAIMED, JOBS_NQ };

struct jobs_group {
	int		 running;	/* slices out now */
	enum jobs_work	 work;
	uint64_t	 ready;		/* jobs waiting, when ready_known */
	int		 ready_known;
	uint64_t	 not_before;	/* ms: next slice or poll */
};

/* The queue figures an upkeep slice reports, per site (summed). */
enum { JOBS_F_READY, JOBS_F_DELAYED, JOBS_F_CLAIMED, JOBS_F_ABANDONED,
       JOBS_NF };

/* One wiki's queue: its groups and its upkeep. */
struct jobs_site {
	struct jobs_group g[CONFIG_MAX_JOB_GROUPS];
	uint64_t	 next_chron;	/* ms */
	int		 chron_running;
	uint64_t	 seen[JOBS_NF];	/* as its last slice said */
};

struct jobs_slice {
	struct loop_ev	 ev;		/* the supervisor's end of the socketpair */
	uint64_t	 id;
	int		 site;		/* site.h */
	int		 group;		/* -1: upkeep only */
	int		 chron;
	unsigned	 epoch;		/* of jobs_reload(); groups may have moved */
	uint64_t	 started;	/* ms */
	size_t		 len;
	char		 buf[JOBS_REPLY_MAX];
};

static struct {
	struct jobs_site s[CONFIG_MAX_SITES];	/* [0] without sites */
	unsigned	 epoch;
	uint64_t	 next_look;	/* ms: next count of the SQLite job table */
	uint64_t	 claimed;	/* SQLite: claimed with attempts left */
	int		 max_tries;	/* the queue's, as the upkeep reports it */
	sqlite3		*db;
	sqlite3_stmt	*q[JOBS_NQ];	/* the look's statements */
	int		 look_capped;	/* its counts reached a bound */
	unsigned	 look_steps;	/* thousands of VM steps, this look */
	int		 slow_warned;
	char		 db_path[PATH_MAX];
	int		 db_warned;
	char		 script[PATH_MAX];
} jobs;

static struct ctl_params jobs_params;

/* The state of site's queue (SITE_NONE: the one wiki's). */
static struct jobs_site *
jobs_site(int site)
{
	return &jobs.s[site >= 0 && site < CONFIG_MAX_SITES ? site : 0];
}

/* A figure of the queue as site's last slice said: the counter is the
 * sum over the sites. */
static void
jobs_seen(int site, int f, uint64_t v)
{
	static const size_t off[JOBS_NF] = {
		offsetof(struct slot_counters, jobs_ready),
		offsetof(struct slot_counters, jobs_delayed),
		offsetof(struct slot_counters, jobs_claimed),
		offsetof(struct slot_counters, jobs_abandoned),
	};
	uint64_t sum = 0;

	jobs_site(site)->seen[f] = v;
	for (int i = 0; i < site_count(sup.cfg); i++)
		sum += jobs_site(site_at(sup.cfg, i))->seen[f];
	if (sup.slots)
		atomic_store((_Atomic uint64_t *)(void *)
		    ((char *)&sup.slots->counters + off[f]), sum);
}

/* ---- the configured groups (one implicit group when none is) ---- */

static int
jobs_ngroups(void)
{
	return sup.cfg->njob_groups > 0 ? sup.cfg->njob_groups : 1;
}

static const struct config_job_group *
jobs_group_cfg(int i)
{
	static const struct config_job_group all = { .name = "default" };

	return sup.cfg->njob_groups > 0 ? &sup.cfg->job_groups[i] : &all;
}

static int
jobs_group_max_jobs(int i)
{
	const struct config_job_group *g = jobs_group_cfg(i);

	return g->max_jobs > 0 ? g->max_jobs : sup.cfg->jobs_max_jobs;
}

static int
jobs_group_max_time(int i)
{
	const struct config_job_group *g = jobs_group_cfg(i);

	return g->max_time_ms > 0 ? g->max_time_ms : sup.cfg->jobs_max_time_ms;
}

/* The group that runs job type t, or -1. */
static int
jobs_group_of(const char *t)
{
	int n = jobs_ngroups(), catchall = -1;

	for (int i = 0; i < n; i++) {
		const struct config_job_group *g = jobs_group_cfg(i);

		if (g->ntypes == 0)
			catchall = i;
		for (int j = 0; j < g->ntypes; j++)
			if (strcmp(g->types[j], t) == 0)
				return i;
	}
	return catchall;
}

/* ---- where jobs.php is: beside the worker's own PHP files ---- */

static void
jobs_find_script(void)
{
	const char *worker = pool_worker_path(), *slash = strrchr(worker, '/');
	const char *dir = MW_SRCDIR "/worker/php";

	if (slash && (size_t)(slash - worker) == strlen(MW_LIBEXECDIR) &&
	    strncmp(worker, MW_LIBEXECDIR, strlen(MW_LIBEXECDIR)) == 0)
		dir = MW_PKGDATADIR "/php";
	snprintf(jobs.script, sizeof(jobs.script), "%s/%s", dir, JOBS_SCRIPT);
	if (sup.cfg->jobs_enabled && access(jobs.script, R_OK) < 0)
		log_err("jobs: %s: %s; job slices will fail", jobs.script,
		    strerror(errno));
}

/* ---- SQLite: counting the job table without waking a worker ---- */

/*
 * The look runs on the supervisor's loop, so its cost must not grow with
 * the table: a GROUP BY over every row took 0.9 s with 1.2 million rows.
 * It walks MediaWiki's (job_cmd, job_token, ...) index instead: one seek
 * per job type to find the types, and per type at most JOBS_LOOK_CLAIMED
 * claimed rows and as many ready ones as the scheduling can use (a few
 * slices' worth).  Counts that reach a bound are "at least"; the exact
 * figures then come from the upkeep slice, which counts in a worker.
 *
 * Without that index (MediaWiki 1.39's installer makes the separate job
 * queue file without any: it hands SQLite its CREATE statements in one
 * query, and only the first one runs) every query scans the table.  A
 * look that takes more than JOBS_LOOK_BUDGET steps is interrupted, said
 * once, and the groups are polled with slices for a while instead, as
 * when jobs.sqlite is not set: the worker that polls may block, the loop
 * may not.
 */
#define JOBS_LOOK_TYPES		256	/* job types looked at, at most */
#define JOBS_LOOK_CLAIMED	64	/* claimed rows read per type */
#define JOBS_LOOK_BUDGET	2000	/* thousands of SQLite VM steps */
#define JOBS_LOOK_RETRY_MS	(10 * 60 * 1000)

static const char *const jobs_sql[JOBS_NQ] = {
	[JOBS_Q_FIRST] = "SELECT job_cmd FROM job ORDER BY job_cmd LIMIT 1",
	[JOBS_Q_NEXT] = "SELECT job_cmd FROM job WHERE job_cmd > ?1 "
	    "ORDER BY job_cmd LIMIT 1",
	[JOBS_Q_READY] = "SELECT COUNT(*) FROM (SELECT 1 FROM job "
	    "WHERE job_cmd = ?1 AND job_token = '' LIMIT ?2)",
	[JOBS_Q_CLAIMED] = "SELECT job_attempts >= ?2 FROM job "
	    "WHERE job_cmd = ?1 AND job_token > '' LIMIT ?3",
};

static void
jobs_db_close(void)
{
	for (int i = 0; i < JOBS_NQ; i++) {
		if (jobs.q[i])
			sqlite3_finalize(jobs.q[i]);
		jobs.q[i] = NULL;
	}
	if (jobs.db)
		sqlite3_close(jobs.db);
	jobs.db = NULL;
}

/* SQLite's progress callback: non-zero interrupts the statement. */
static int
jobs_look_progress(void *unused)
{
	(void)unused;
	return ++jobs.look_steps > JOBS_LOOK_BUDGET;
}

/* The look took too long: poll with slices, try again later. */
static void
jobs_look_too_slow(void)
{
	sqlite3_stmt *st;
	int indexed = 0;

	sqlite3_progress_handler(jobs.db, 0, NULL, NULL);
	if (sqlite3_prepare_v2(jobs.db, "SELECT 1 FROM sqlite_master WHERE "
	    "type = 'index' AND tbl_name = 'job' AND name = 'job_cmd_token'",
	    -1, &st, NULL) == SQLITE_OK) {
		indexed = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
	}
	if (!jobs.slow_warned++) {
		if (indexed)
			log_warn("jobs.sqlite %s: counting jobs takes too long "
			    "for the supervisor; polling with slices instead, "
			    "counting again in %d minutes", jobs.db_path,
			    JOBS_LOOK_RETRY_MS / 60000);
		else
			log_warn("jobs.sqlite %s: the job table has no index "
			    "job_cmd_token, so counting jobs would scan it; "
			    "polling with slices instead (make it with: "
			    "sqlite3 %s 'CREATE INDEX job_cmd_token ON job "
			    "(job_cmd, job_token, job_random)')", jobs.db_path,
			    jobs.db_path);
	}
	jobs_db_close();
	jobs.next_look = loop_now_ms() + JOBS_LOOK_RETRY_MS;
}

static int
jobs_db_open(void)
{
	const char *path = sup.cfg->jobs_sqlite;
	int rc;

	if (jobs.db && strcmp(jobs.db_path, path) == 0)
		return 0;
	jobs_db_close();
	snprintf(jobs.db_path, sizeof(jobs.db_path), "%s", path);
	rc = sqlite3_open_v2(path, &jobs.db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL);
	for (int i = 0; i < JOBS_NQ && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v3(jobs.db, jobs_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &jobs.q[i], NULL);
	if (rc != SQLITE_OK) {
		if (!jobs.db_warned++)
			log_warn("jobs.sqlite %s: %s; polling with slices "
			    "until it can be read", path, jobs.db ?
			    sqlite3_errmsg(jobs.db) : sqlite3_errstr(rc));
		jobs_db_close();
		return -1;
	}
	/* Never wait for a writer: the loop must not stop; the next look
	 * comes soon enough. */
	sqlite3_busy_timeout(jobs.db, 0);
	sqlite3_progress_handler(jobs.db, 1000, jobs_look_progress, NULL);
	if (jobs.db_warned) {
		log_info("jobs.sqlite %s: readable now", path);
		jobs.db_warned = 0;
	}
	return 0;
}

/* Ready rows worth counting per type: enough to tell how many slices
 * of max_jobs the workers could take at once, and one more. */
static int
jobs_ready_bound(void)
{
	int most = 1;

	for (int i = 0; i < jobs_ngroups(); i++)
		if (jobs_group_max_jobs(i) > most)
			most = jobs_group_max_jobs(i);
	return most * sup.cfg->workers_total + 1;
}

/*
 * Count ready jobs per group, and claimed ones: with attempts left (a
 * runner has them, or they failed and come back after claimTTL) or
 * without (abandoned: JobQueueDB keeps them a week).  0, or -1 when the
 * table could not be read this time.
 */
static int
jobs_look(void)
{
	uint64_t ready[CONFIG_MAX_JOB_GROUPS] = { 0 }, total = 0, claimed = 0,
	    abandoned = 0;
	sqlite3_value *type = NULL;
	int rc = SQLITE_DONE, n = jobs_ngroups(), bound = jobs_ready_bound();
	int ntypes = 0, capped = 0;

	if (jobs_db_open() < 0)
		return -1;
	jobs.look_steps = 0;
	for (;;) {
		sqlite3_stmt *st = jobs.q[type ? JOBS_Q_NEXT : JOBS_Q_FIRST];
		sqlite3_value *next;
		const char *t;
		uint64_t cnt;
		int g;

		if (type)
			sqlite3_bind_value(st, 1, type);
		rc = sqlite3_step(st);
		next = rc == SQLITE_ROW ?
		    sqlite3_value_dup(sqlite3_column_value(st, 0)) : NULL;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		sqlite3_value_free(type);
		type = next;
		if (rc == SQLITE_ROW && type == NULL)
			rc = SQLITE_NOMEM;
		if (rc != SQLITE_ROW)
			break;
		if (++ntypes > JOBS_LOOK_TYPES) {
			capped = 1;
			rc = SQLITE_DONE;
			break;
		}

		st = jobs.q[JOBS_Q_READY];
		sqlite3_bind_value(st, 1, type);
		sqlite3_bind_int(st, 2, bound);
		if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
			sqlite3_reset(st);
			break;
		}
		cnt = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		t = (const char *)sqlite3_value_text(type);
		if (cnt >= (uint64_t)bound)
			capped = 1;
		total += cnt;
		if (t && (g = jobs_group_of(t)) >= 0)
			ready[g] += cnt;

		st = jobs.q[JOBS_Q_CLAIMED];
		sqlite3_bind_value(st, 1, type);
		sqlite3_bind_int(st, 2, jobs.max_tries);
		sqlite3_bind_int(st, 3, JOBS_LOOK_CLAIMED);
		cnt = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			cnt++;
			if (sqlite3_column_int(st, 0))
				abandoned++;
			else
				claimed++;
		}
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			break;
		/* Rows left unread may be claims about to expire: the
		 * upkeep finds out, so it must run. */
		if (cnt >= JOBS_LOOK_CLAIMED) {
			capped = 1;
			if (claimed == 0)
				claimed = 1;
		}
	}
	sqlite3_value_free(type);
	if (rc == SQLITE_INTERRUPT) {
		jobs_look_too_slow();
		return -1;
	}
	if (rc != SQLITE_DONE) {
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
			log_warn("jobs.sqlite %s: counting jobs: %s",
			    jobs.db_path, sqlite3_errmsg(jobs.db));
			jobs_db_close();	/* open it again next time */
		}
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct jobs_group *g = &jobs.s[0].g[i];

		g->ready = ready[i];
		g->ready_known = 1;
		g->work = ready[i] > 0 ? JOBS_SOME : JOBS_NONE;
	}
	jobs.claimed = claimed;
	jobs.look_capped = capped;
	if (!capped) {
		SUP_SET(jobs_ready, total);
		SUP_SET(jobs_claimed, claimed);
		SUP_SET(jobs_abandoned, abandoned);
	}
	return 0;
}

/* ---- starting a slice ---- */

/* A comma-separated list of the types of group i, or of every other
 * group's types (what a group without types must leave alone), into
 * list[cap]; its length, or -1 if it does not fit. */
static int
jobs_types(int i, int others, char *list, size_t cap)
{
	size_t len = 0;
	int n = jobs_ngroups();

	list[0] = '\0';
	for (int k = 0; k < n; k++) {
		const struct config_job_group *g = jobs_group_cfg(k);

		if ((k == i) == (others != 0))
			continue;
		for (int j = 0; j < g->ntypes; j++) {
			int w = snprintf(list + len, cap - len, "%s%s",
			    len ? "," : "", g->types[j]);

			if (w < 0 || (size_t)w >= cap - len)
				return -1;
			len += (size_t)w;
		}
	}
	return (int)len;
}

#define JOBS_TYPES_MAX	(CONFIG_MAX_JOB_GROUPS * CONFIG_MAX_JOB_TYPES * 8)

/* A slice's request (reqbuild.c): a POST of jobs.php, its limits in
 * MWSUP_* parameters.  POST: MediaWiki opens SQLite transactions for
 * writing then.  -1 with errno: EMSGSIZE when the type lists or the
 * message are too large, ENOMEM. */
static int
jobs_build(struct jobs_slice *js, char **msgp, size_t *lenp)
{
	const struct config_job_group *g = js->group >= 0 ?
	    jobs_group_cfg(js->group) : NULL;
	char types[JOBS_TYPES_MAX], exclude[JOBS_TYPES_MAX];
	char num[32], tm[32], mem[32];
	const char *name = js->site >= 0 ? site_name(sup.cfg, js->site) :
	    sup.cfg->server_name ? sup.cfg->server_name : "localhost";
	int ntypes = jobs_types(js->group, 0, types, sizeof(types));
	int nexclude = jobs_types(js->group, 1, exclude, sizeof(exclude));
	struct reqbuild rb;

	if (ntypes < 0 || nexclude < 0) {
		errno = EMSGSIZE;	/* the groups' type lists */
		return -1;
	}
	snprintf(num, sizeof(num), "%d", g ? jobs_group_max_jobs(js->group) : 0);
	snprintf(tm, sizeof(tm), "%.3f", g ?
	    jobs_group_max_time(js->group) / 1000.0 : 0.0);
	snprintf(mem, sizeof(mem), "%zu", sup.cfg->jobs_memory_limit);
#define X(n, v, l)	{ n, sizeof(n) - 1, v, l }
	const struct reqbuild_field extra[] = {
		X("MWSUP_MW_ROOT", sup.cfg->mw_root, strlen(sup.cfg->mw_root)),
		X("MWSUP_JOBS_GROUP", g ? g->name : "", g ? strlen(g->name) : 0),
		X("MWSUP_JOBS_TYPES", types, (size_t)ntypes),
		X("MWSUP_JOBS_EXCLUDE", exclude, (size_t)nexclude),
		X("MWSUP_JOBS_MAX", num, strlen(num)),
		X("MWSUP_JOBS_TIME", tm, strlen(tm)),
		X("MWSUP_JOBS_MEMORY", mem, strlen(mem)),
		X("MWSUP_JOBS_CHRON", js->chron ? "1" : "0", 1),
	};
#undef X

	memset(&rb, 0, sizeof(rb));
	rb.id = js->id;
	rb.flags = CTL_REQ_JOBS;
	rb.http_minor = 0;
	rb.method = "POST";
	rb.target = "/mwsup-jobs";
	rb.target_len = strlen(rb.target);
	rb.script_filename = jobs.script;
	rb.script_name = "/mwsup-jobs";
	rb.document_root = sup.cfg->mw_root;
	rb.server_name = name;
	rb.server_name_len = strlen(name);
	rb.server_addr = rb.remote_addr = "127.0.0.1";
	rb.server_port = rb.remote_port = "0";
	rb.content_length = 1;
	rb.extra = extra;
	rb.nextra = (int)(sizeof(extra) / sizeof(extra[0]));
	if (reqbuild_params(&rb, &jobs_params) < 0)
		return -1;
	return reqbuild_message(&rb, &jobs_params, msgp, lenp);
}

static void jobs_on_reply(struct loop_ev *ev, uint32_t events);

static void
jobs_slice_free(struct jobs_slice *js)
{
	if (js->ev.fd >= 0) {
		loop_watch(&js->ev, 0);
		close(js->ev.fd);
	}
	if (js->epoch == jobs.epoch) {
		struct jobs_site *st = jobs_site(js->site);

		if (js->group >= 0 && st->g[js->group].running > 0)
			st->g[js->group].running--;
		if (js->chron)
			st->chron_running = 0;
	}
	/* Its reply socket may have an event later in this loop batch. */
	loop_free_later(&js->ev, free);
}

static int
jobs_start(struct worker *w, int site, int group, int chron)
{
	struct jobs_site *st = jobs_site(site);
	struct jobs_slice *js;
	char *msg = NULL, what[96];
	size_t len = 0;
	int sv[2];

	if ((js = calloc(1, sizeof(*js))) == NULL)
		return -1;
	js->id = ++sup.next_request_id;
	js->site = site;
	js->group = group;
	js->chron = chron;
	js->epoch = jobs.epoch;
	js->started = loop_now_ms();
	loop_ev_init(&js->ev, -1, jobs_on_reply, js);
	if (jobs_build(js, &msg, &len) < 0) {
		log_err("jobs: building a slice request: %s",
		    strerror(errno));
		free(js);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("jobs: socketpair: %s", strerror(errno));
		free(msg);
		free(js);
		return -1;
	}
	loop_ev_init(&js->ev, sv[0], jobs_on_reply, js);
	if (group >= 0)
		st->g[group].running++;
	if (chron)
		st->chron_running = 1;
	snprintf(what, sizeof(what), "%s%s", group >= 0 ?
	    jobs_group_cfg(group)->name : "", chron ? " +chron" : "");
	if (pool_assign_slice(w, msg, len, sv[1], js, what,
	    (uint64_t)sup.cfg->jobs_timeout_ms) < 0) {
		close(sv[1]);
		free(msg);
		jobs_slice_free(js);
		return -1;
	}
	close(sv[1]);
	free(msg);
	if (fcntl(js->ev.fd, F_SETFL, fcntl(js->ev.fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    loop_watch(&js->ev, EPOLLIN) < 0)
		log_warn("jobs: epoll: %s", strerror(errno));
	SUP_COUNT(job_slices, 1);
	log_debug("jobs: slice %llu (%s) to worker %d",
	    (unsigned long long)js->id, what, w->index);
	return 0;
}

/* ---- the answer ---- */

static void
jobs_read(struct jobs_slice *js)
{
	char scratch[4096];
	ssize_t n;

	while (js->ev.fd >= 0) {
		if (js->len < sizeof(js->buf) - 1)
			n = read(js->ev.fd, js->buf + js->len,
			    sizeof(js->buf) - 1 - js->len);
		else
			n = read(js->ev.fd, scratch, sizeof(scratch));
		if (n > 0) {
			if (js->len < sizeof(js->buf) - 1)
				js->len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF or an error: the answer is complete. */
		loop_watch(&js->ev, 0);
		close(js->ev.fd);
		js->ev.fd = -1;
	}
	js->buf[js->len] = '\0';
}

static void
jobs_on_reply(struct loop_ev *ev, uint32_t events)
{
	jobs_read(ev->data);
}

/*
 * A slice's answer (worker/php/jobs.php): text lines "NAME VALUE".  Each
 * name it knows is read into its field and marked in seen; other names
 * are skipped, so the worker may say more than this supervisor reads.
 */
enum {
	JA_RUN, JA_FAILED, JA_READY, JA_RELEASED, JA_RECYCLED,
	JA_ABANDONED_NOW, JA_PRUNED, JA_DELAYED, JA_ABANDONED, JA_CLAIMED,
	JA_MAX_TRIES, JA_NNUM
};

struct jobs_answer {
	uint64_t	 num[JA_NNUM];
	unsigned	 seen;		/* 1u << JA_* */
	char		 reached[32];
	char		 error[200];
};

static const char *const jobs_answer_names[JA_NNUM] = {
	"run", "failed", "ready", "released", "recycled", "abandoned_now",
	"pruned", "delayed", "abandoned", "claimed", "max_tries",
};

static void
jobs_answer_str(char *out, size_t size, const char *v, size_t n)
{
	if (n > size - 1)
		n = size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static void
jobs_answer_parse(const char *body, struct jobs_answer *a)
{
	memset(a, 0, sizeof(*a));
	while (*body) {
		size_t len = strcspn(body, "\n"), nl = strcspn(body, " \n");
		const char *v = body + nl + (nl < len);
		size_t vlen = len - (size_t)(v - body);

		for (int i = 0; i < JA_NNUM; i++)
			if (strlen(jobs_answer_names[i]) == nl &&
			    memcmp(body, jobs_answer_names[i], nl) == 0) {
				a->num[i] = strtoull(v, NULL, 10);
				a->seen |= 1u << i;
			}
		if (nl == 7 && memcmp(body, "reached", 7) == 0)
			jobs_answer_str(a->reached, sizeof(a->reached), v, vlen);
		else if (nl == 5 && memcmp(body, "error", 5) == 0)
			jobs_answer_str(a->error, sizeof(a->error), v, vlen);
		body += len + (body[len] == '\n');
	}
}

/* The body of a slice's answer: what follows the head the worker writes
 * first, as to any client (status line, PHP's header lines, an empty
 * line); "" without a complete head.  jobs_answer_parse() reads it. */
static const char *
jobs_answer_body(const char *reply)
{
	const char *end = strstr(reply, "\r\n\r\n");

	return end ? end + 4 : "";
}

/* The slice's group for messages, and its site in a farm. */
static const char *
jobs_slice_name(const struct jobs_slice *js)
{
	static char buf[400];
	const char *g;

	if (js->epoch != jobs.epoch || js->group < 0 ||
	    js->group >= jobs_ngroups())
		g = js->chron ? "upkeep" : "?";
	else
		g = jobs_group_cfg(js->group)->name;
	if (js->site < 0 || js->epoch != jobs.epoch)
		return g;
	snprintf(buf, sizeof(buf), "%s of site %s", g,
	    site_name(sup.cfg, js->site));
	return buf;
}

uint64_t
jobs_slice_id(const struct jobs_slice *js)
{
	return js->id;
}

/* A slice that failed as a whole: back off that group for a poll. */
static void
jobs_slice_failed(struct jobs_slice *js)
{
	uint64_t now = loop_now_ms();

	SUP_COUNT(job_slice_errors, 1);
	if (js->epoch != jobs.epoch)
		return;
	if (js->group >= 0)
		jobs_site(js->site)->g[js->group].not_before = now +
		    (uint64_t)sup.cfg->jobs_poll_ms;
	if (js->chron)
		jobs_site(js->site)->next_chron = now +
		    (uint64_t)sup.cfg->jobs_chron_ms;
}

void
jobs_slice_done(struct worker *w, const struct ctl_done *done)
{
	struct jobs_slice *js = w->job;
	uint64_t now = loop_now_ms(), run, failed;
	const char *body;
	struct jobs_answer a;
	int limit;

	w->job = NULL;
	jobs_read(js);
	body = jobs_answer_body(js->buf);
	jobs_answer_parse(body, &a);
	if (done->status != 200 || !(a.seen & 1u << JA_RUN)) {
		char *nl;

		if (a.error[0] == '\0') {
			snprintf(a.error, sizeof(a.error), "%.160s", body);
			while ((nl = strpbrk(a.error, "\r\n")) != NULL)
				*nl = ' ';
		}
		log_warn("jobs: slice %llu (%s) on %s: status "
		    "%u: %s", (unsigned long long)js->id, jobs_slice_name(js),
		    pool_who(w), done->status,
		    a.error[0] ? a.error : "no answer");
		jobs_slice_failed(js);
		jobs_slice_free(js);
		return;
	}
	run = a.num[JA_RUN];
	failed = a.num[JA_FAILED];
	SUP_COUNT(jobs_run, run);
	SUP_COUNT(jobs_failed, failed);
	if (failed)
		log_warn("jobs: %llu job(s) failed in group %s%s%s",
		    (unsigned long long)failed, jobs_slice_name(js),
		    a.error[0] ? ": " : "", a.error);
	if (js->chron) {
		uint64_t recycled = a.num[JA_RECYCLED],
		    abandoned = a.num[JA_ABANDONED_NOW],
		    released = a.num[JA_RELEASED],
		    pruned = a.num[JA_PRUNED];

		SUP_COUNT(jobs_recycled, recycled);
		SUP_COUNT(jobs_abandoned_now, abandoned);
		jobs_seen(js->site, JOBS_F_DELAYED, a.num[JA_DELAYED]);
		if (jobs.db == NULL || jobs.look_capped) {
			jobs_seen(js->site, JOBS_F_ABANDONED,
			    a.num[JA_ABANDONED]);
			jobs_seen(js->site, JOBS_F_CLAIMED, a.num[JA_CLAIMED]);
		}
		if (a.num[JA_MAX_TRIES] > 0)
			jobs.max_tries = (int)a.num[JA_MAX_TRIES];
		if (recycled || abandoned || released || pruned)
			log_info("jobs: upkeep: %llu delayed job(s) released, "
			    "%llu re-queued after claimTTL, %llu abandoned, "
			    "%llu pruned", (unsigned long long)released,
			    (unsigned long long)recycled,
			    (unsigned long long)abandoned,
			    (unsigned long long)pruned);
		if ((recycled || released) && js->epoch == jobs.epoch)
			for (int i = 0; i < jobs_ngroups(); i++) {
				struct jobs_group *g =
				    &jobs_site(js->site)->g[i];

				if (g->work != JOBS_SOME)	/* work for it */
					g->not_before = 0;
			}
	}
	if ((!jobs.db || jobs.look_capped) && (a.seen & 1u << JA_READY))
		jobs_seen(js->site, JOBS_F_READY, a.num[JA_READY]);
	log_debug("jobs: slice %llu (%s): %llu run, %llu failed, %s, %llu ms",
	    (unsigned long long)js->id, jobs_slice_name(js),
	    (unsigned long long)run, (unsigned long long)failed,
	    a.reached[0] ? a.reached : "-",
	    (unsigned long long)(now - js->started));
	if (js->epoch == jobs.epoch && js->group >= 0) {
		struct jobs_group *g = &jobs_site(js->site)->g[js->group];

		/* Stopped at a limit: there is more, go on at once. */
		limit = strcmp(a.reached, "job-limit") == 0 ||
		    strcmp(a.reached, "time-limit") == 0 ||
		    strcmp(a.reached, "memory-limit") == 0;
		g->work = limit ? JOBS_SOME : JOBS_UNKNOWN;
		g->not_before = limit ? 0 : now + (uint64_t)sup.cfg->jobs_poll_ms;
		if (jobs.db) {
			/* Count again now; but a slice that found nothing
			 * the table showed (throttled types) waits a poll. */
			jobs.next_look = now;
			if (run + failed > 0)
				g->not_before = 0;
		}
	}
	jobs_slice_free(js);
}

void
jobs_slice_lost(struct worker *w)
{
	struct jobs_slice *js = w->job;

	w->job = NULL;
	log_warn("jobs: %s ended during slice %llu (%s) "
	    "after %llu ms; a job it had claimed runs again after its "
	    "claimTTL", pool_who(w), (unsigned long long)js->id,
	    jobs_slice_name(js),
	    (unsigned long long)(loop_now_ms() - js->started));
	jobs_slice_failed(js);
	jobs_slice_free(js);
}

/* ---- scheduling ---- */

/* May group i of site get a slice now? */
static int
jobs_group_wants(int site, int i, uint64_t now)
{
	const struct config_job_group *c = jobs_group_cfg(i);
	struct jobs_group *g = &jobs_site(site)->g[i];

	if (c->workers > 0 && g->running >= c->workers)
		return 0;
	if (now < g->not_before)
		return 0;
	if (jobs.db && g->ready_known)	/* no more slices than work */
		return g->ready > (uint64_t)g->running *
		    (uint64_t)jobs_group_max_jobs(i);
	/* Polling: more slices at once only when one stopped at a limit. */
	return g->work == JOBS_SOME || g->running == 0;
}

/* Start slices of site's queue in its idle workers while there is room. */
static void
jobs_tick_site(int site, uint64_t now)
{
	const struct config *cfg = sup.cfg;
	struct jobs_site *st = jobs_site(site);
	int reserve, n = jobs_ngroups(), workers = site_workers(cfg, site);

	/* With one worker, jobs run in it between requests. */
	reserve = cfg->jobs_reserve < workers ? cfg->jobs_reserve :
	    workers - 1;
	for (;;) {
		struct worker *w;
		int g = -1, chron;

		if (dispatch_site_len(site) > 0 ||
		    pool_idle_count(site) <= reserve)
			return;
		/* With SQLite, upkeep only while some claim may expire:
		 * abandoned rows alone stay a week and need none. */
		chron = !st->chron_running && now >= st->next_chron &&
		    (!jobs.db || jobs.claimed > 0);
		for (int i = 0; i < n && g < 0; i++)
			if (jobs_group_wants(site, i, now))
				g = i;
		if (g < 0 && !chron)
			return;
		if ((w = pool_pick_idle(site)) == NULL)
			return;
		if (chron)
			st->next_chron = now + (uint64_t)cfg->jobs_chron_ms;
		if (jobs_start(w, site, g, chron) < 0) {
			if (g >= 0)
				st->g[g].not_before = now +
				    (uint64_t)cfg->jobs_poll_ms;
			return;
		}
	}
}

void
jobs_tick(void)
{
	const struct config *cfg = sup.cfg;
	uint64_t now = loop_now_ms();

	if (!cfg->jobs_enabled || sup.draining)
		return;
	if (cfg->jobs_sqlite && now >= jobs.next_look) {
		jobs.next_look = now + (uint64_t)cfg->jobs_poll_ms;
		(void)jobs_look();
	}
	for (int i = 0; i < site_count(cfg); i++)
		jobs_tick_site(site_at(cfg, i), now);
}

void
jobs_init(void)
{
	memset(jobs.s, 0, sizeof(jobs.s));
	jobs.next_look = 0;
	if (jobs.max_tries <= 0)
		jobs.max_tries = 3;	/* JobQueue's default until told */
	jobs_find_script();
	if (sup.cfg->jobs_enabled)
		log_info("jobs: running the job queue%s in idle workers (%s)",
		    sup.cfg->nsites > 0 ? " of each site" : "",
		    sup.cfg->jobs_sqlite ? "counting jobs in jobs.sqlite" :
		    "polling with slices");
}

void
jobs_reload(void)
{
	jobs.epoch++;
	jobs_init();
	if (sup.cfg->jobs_sqlite == NULL)
		jobs_db_close();
}

void
jobs_cleanup(void)
{
	jobs_db_close();
	ctl_params_free(&jobs_params);
}
