/*
 * status.c - `mwsup status`: what a running supervisor and its workers do.
 *
 * Reads the shared slot table of a running mwsup, found without any
 * configuration: its memfd is named "mwsup-slots" and is reachable as
 * /proc/PID/fd/N by the same user or root, exactly the people who may
 * look.  Nothing is asked of the supervisor, so a stuck supervisor can
 * still be inspected.
 *
 * The same figures are served over HTTP by the supervisor itself
 * (status_http(): status.path as JSON, status.path/metrics for
 * Prometheus, status.health), rendered by the same functions: one a
 * format (status_text, status_json, status_prometheus).
 */
#include "status.h"
#include "conn.h"
#include "log.h"
#include "pool.h"
#include "site.h"
#include "slots.h"
#include "sup.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STATUS_MAX_FOUND	16

/*
 * The plain counters, once each: their key in --json, their label in the
 * text summary, and their Prometheus name and help.  All three renderings
 * walk this table, so a new counter is one line here.
 */
#define K(field)	offsetof(struct slot_counters, field)
static const struct status_counter {
	const char	*json;
	const char	*text;
	const char	*prom;		/* without the mwsup_ prefix */
	const char	*help;
	int		 gauge;
	size_t		 off;
} status_counters[] = {
	{ "php", "by workers", "php_responses_total",
	  "Responses from workers.", 0, K(php_served) },
	{ "static", "by the supervisor", "static_responses_total",
	  "Responses from the supervisor itself (files, errors, status).",
	  0, K(static_served) },
	{ "worker_starts", "workers started", "worker_starts_total",
	  "Worker processes started.", 0, K(worker_starts) },
	{ "worker_deaths", "died", "worker_deaths_total",
	  "Workers that exited unasked (crash, kill).", 0, K(worker_deaths) },
	{ "recycles", "recycled", "worker_recycles_total",
	  "Workers replaced after their limits.", 0, K(worker_recycles) },
	{ "timeouts", "timeouts", "timeouts_total",
	  "Requests killed past timeouts.request.", 0, K(timeouts) },
	{ "rejected", "rejected", "rejected_total",
	  "Requests refused with 503 (queue full, no worker).", 0, K(rejected) },
	{ "reloads", "reloads", "reloads_total",
	  "Configuration reloads.", 0, K(reloads) },
	{ "jobs_run", NULL, "jobs_run_total",
	  "Jobs run to success.", 0, K(jobs_run) },
	{ "jobs_failed", NULL, "jobs_failed_total",
	  "Jobs that failed (retried until their attempts run out).", 0,
	  K(jobs_failed) },
	{ "job_slices", NULL, "job_slices_total",
	  "Job slices handed to workers.", 0, K(job_slices) },
	{ "job_slice_errors", NULL, "job_slice_errors_total",
	  "Job slices that died, timed out or failed as a whole.", 0,
	  K(job_slice_errors) },
	{ "jobs_recycled", NULL, "jobs_recycled_total",
	  "Claimed jobs re-queued after claimTTL.", 0, K(jobs_recycled) },
	{ "jobs_abandoned_now", NULL, "jobs_abandoned_total",
	  "Jobs given up after their attempts.", 0, K(jobs_abandoned_now) },
	{ "jobs_ready", NULL, "jobs_queued",
	  "Jobs waiting to run (last seen).", 1, K(jobs_ready) },
	{ "jobs_claimed", NULL, "jobs_claimed",
	  "Jobs claimed by a runner or failed (last seen).", 1,
	  K(jobs_claimed) },
	{ "jobs_delayed", NULL, "jobs_delayed",
	  "Jobs not due yet (last seen).", 1, K(jobs_delayed) },
	{ "jobs_abandoned", NULL, "jobs_abandoned",
	  "Jobs past their attempts, kept until pruned (last seen).", 1,
	  K(jobs_abandoned) },
	{ "queued", NULL, "queue_length",
	  "Requests waiting for a worker.", 1, K(queued) },
	{ "connections", NULL, "connections",
	  "Open client connections.", 1, K(connections) },
	{ "generation", NULL, "generation",
	  "Worker generation (one more per reload).", 1, K(generation) },
	{ "workers", NULL, "workers_configured",
	  "Configured pool size.", 1, K(workers) },
	{ "cache_hits", NULL, "cache_hits_total",
	  "Requests answered from the page cache.", 0, K(cache_hits) },
	{ "cache_misses", NULL, "cache_misses_total",
	  "Cacheable requests not in the page cache (a worker answered).", 0,
	  K(cache_misses) },
	{ "cache_pass_method", NULL, "cache_pass_method_total",
	  "Requests the page cache passed: not GET (or a HEAD miss).", 0,
	  K(cache_pass_method) },
	{ "cache_pass_auth", NULL, "cache_pass_auth_total",
	  "Requests the page cache passed: Authorization.", 0,
	  K(cache_pass_auth) },
	{ "cache_pass_cookie", NULL, "cache_pass_cookie_total",
	  "Requests the page cache passed: a session or login cookie.", 0,
	  K(cache_pass_cookie) },
	{ "cache_pass_scheme", NULL, "cache_pass_scheme_total",
	  "Requests the page cache passed: an X-Forwarded-Proto: https "
	  "MediaWiki would believe and mwsup does not.", 0,
	  K(cache_pass_scheme) },
	{ "cache_stored", NULL, "cache_stored_total",
	  "Answers stored in the page cache.", 0, K(cache_stored) },
	{ "cache_not_stored", NULL, "cache_not_stored_total",
	  "Storable answers the page cache did not keep (larger than "
	  "max_entry, purged meanwhile).", 0,
	  K(cache_not_stored) },
	{ "cache_purges", NULL, "cache_purges_total",
	  "PURGE requests accepted.", 0, K(cache_purges) },
	{ "cache_purged", NULL, "cache_purged_total",
	  "Page cache entries removed by PURGE.", 0, K(cache_purged) },
	{ "cache_evictions", NULL, "cache_evictions_total",
	  "Page cache entries dropped for room.", 0, K(cache_evictions) },
	{ "cache_coalesced", NULL, "cache_coalesced_total",
	  "Misses that waited for the same URL's answer instead of a worker.",
	  0, K(cache_coalesced) },
	{ "cache_entries", NULL, "cache_entries",
	  "Entries in the page cache.", 1, K(cache_entries) },
	{ "cache_bytes", NULL, "cache_bytes",
	  "Bytes the page cache entries take.", 1, K(cache_bytes) },
	{ "cache_size", NULL, "cache_size_bytes",
	  "The page cache's bound (cache.size; 0: off).", 1, K(cache_size) },
	{ "zcache_hits", NULL, "zcache_hits_total",
	  "Static files sent compressed from the compressed-file cache.", 0,
	  K(zcache_hits) },
	{ "zcache_misses", NULL, "zcache_misses_total",
	  "Static files to compress not in that cache (compressed then, or "
	  "sent as they are).", 0, K(zcache_misses) },
	{ "zcache_entries", NULL, "zcache_entries",
	  "Compressed forms of static files in memory.", 1, K(zcache_entries) },
	{ "zcache_bytes", NULL, "zcache_bytes",
	  "Bytes those compressed forms take.", 1, K(zcache_bytes) },
};
#undef K

static uint64_t
status_counter_value(const struct slot_table *t, const struct status_counter *c)
{
	const _Atomic uint64_t *v = (const _Atomic uint64_t *)(const void *)
	    ((const char *)&t->counters + c->off);

	return atomic_load(v);
}

#define STATUS_NCOUNTERS (sizeof(status_counters) / sizeof(status_counters[0]))

/* Open the slot table of supervisor pid, or -1. */
static int
status_open_table(pid_t pid)
{
	char dir[64], path[320], target[256];
	struct dirent *de;
	DIR *d;
	int fd = -1;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	errno = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "/memfd:mwsup-slots", 18) == 0) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			break;
		}
	}
	closedir(d);
	if (fd < 0 && errno == 0)
		errno = ENOENT;
	return fd;
}

/* Was pid started with "-c config" (or --config)? */
static int
status_has_config(pid_t pid, const char *config)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd, prev_c = 0;

	if (config == NULL)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
		if (prev_c && strcmp(a, config) == 0)
			return 1;
		if (strncmp(a, "--config=", 9) == 0 && strcmp(a + 9, config) == 0)
			return 1;
		prev_c = strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0;
	}
	return 0;
}

/* Supervisors: mwsup processes holding a slot table. */
static int
status_find(pid_t *pids, int max, int *denied, const char *config)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char path[64], comm[32];
		pid_t pid;
		FILE *f;
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		if (strcmp(comm, "mwsup\n") != 0 || pid == getpid() ||
		    !status_has_config(pid, config))
			continue;
		fd = status_open_table(pid);
		if (fd < 0) {
			if (errno == EACCES || errno == EPERM)
				(*denied)++;
			continue;
		}
		close(fd);
		pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static void
status_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

/* A slot's site name, NUL-terminated in buf ("" without sites). */
static const char *
status_site(const struct slot *s, char *buf)
{
	memcpy(buf, s->site, SLOT_SITE_MAX);
	buf[SLOT_SITE_MAX - 1] = '\0';
	return buf;
}

/* mwsup_site_workers{site,state}: a farm's workers by site and state.
 * Nothing without sites. */
static void
status_prometheus_sites(FILE *out, const struct slot_table *t)
{
	char seen[64][SLOT_SITE_MAX], name[SLOT_SITE_MAX];
	int nseen = 0;

	for (uint32_t i = 0; i < t->nslots && nseen < 64; i++) {
		const struct slot *sl = &t->slots[i];
		int known = 0;

		if (atomic_load(&sl->state) == SLOT_EMPTY ||
		    status_site(sl, name)[0] == '\0')
			continue;
		for (int j = 0; j < nseen && !known; j++)
			known = strcmp(seen[j], name) == 0;
		if (!known)
			memcpy(seen[nseen++], name, sizeof(name));
	}
	if (nseen == 0)
		return;
	fprintf(out, "# HELP mwsup_site_workers Worker processes of each site "
	    "(mw.yaml sites:) by state.\n# TYPE mwsup_site_workers gauge\n");
	for (int j = 0; j < nseen; j++) {
		int by_state[SLOT_EXITING + 1] = { 0 };

		for (uint32_t i = 0; i < t->nslots; i++) {
			const struct slot *sl = &t->slots[i];
			uint32_t st = atomic_load(&sl->state);

			if (st <= SLOT_EXITING &&
			    strcmp(status_site(sl, name), seen[j]) == 0)
				by_state[st]++;
		}
		for (int st = SLOT_STARTING; st <= SLOT_EXITING; st++)
			fprintf(out, "mwsup_site_workers{site=\"%s\",state="
			    "\"%s\"} %d\n", seen[j],
			    slot_state_name((enum slot_state)st), by_state[st]);
	}
}

/* Is any worker of a farm's site (sites:)?  Its status names them. */
static int
status_farm(const struct slot_table *t)
{
	char site[SLOT_SITE_MAX];

	for (uint32_t i = 0; i < t->nslots; i++)
		if (atomic_load(&t->slots[i].state) != SLOT_EMPTY &&
		    status_site(&t->slots[i], site)[0])
			return 1;
	return 0;
}

/* Workers by state (index: enum slot_state). */
static void
status_by_state(const struct slot_table *t, int by_state[SLOT_EXITING + 1])
{
	for (int s = 0; s <= SLOT_EXITING; s++)
		by_state[s] = 0;
	for (uint32_t i = 0; i < t->nslots; i++) {
		uint32_t st = atomic_load(&t->slots[i].state);

		if (st <= SLOT_EXITING)
			by_state[st]++;
	}
}

static uint64_t
status_responses(const struct slot_table *t)
{
	uint64_t total = 0;

	for (int c = 0; c < 6; c++)
		total += atomic_load(&t->counters.responses[c]);
	return total;
}

/*
 * What a slot's request is shown as: nothing unless the worker is busy
 * with a request or a job slice.  The slot holds the whole request-target
 * (the worker's slow log names it so, like the access log); the path is
 * shown, the query (tokens...) only if mw.yaml says so.
 */
static void
status_slot_request(const struct slot_table *t, const struct slot *s,
    uint32_t st, char req[SLOT_REQUEST_MAX])
{
	memcpy(req, s->request, SLOT_REQUEST_MAX);
	req[SLOT_REQUEST_MAX - 1] = '\0';
	if (st != SLOT_BUSY && st != SLOT_JOBS)
		req[0] = '\0';
	if (st == SLOT_BUSY && !(atomic_load(&t->flags) & SLOTS_SHOW_QUERY))
		req[strcspn(req, "?")] = '\0';
}

static void
status_prometheus(FILE *out, const struct slot_table *t)
{
	const struct slot_counters *k = &t->counters;
	static const char *const cls[6] = { "other", "1xx", "2xx", "3xx",
	    "4xx", "5xx" };
	int by_state[SLOT_EXITING + 1];

	status_by_state(t, by_state);
	fprintf(out, "# HELP mwsup_responses_total Responses sent, by status class.\n"
	    "# TYPE mwsup_responses_total counter\n");
	for (int c = 1; c <= 6; c++)
		fprintf(out, "mwsup_responses_total{class=\"%s\"} %llu\n",
		    cls[c % 6], (unsigned long long)atomic_load(&k->responses[c % 6]));
	fprintf(out, "# HELP mwsup_request_duration_seconds Time from the "
	    "first byte of a request to its complete response.\n"
	    "# TYPE mwsup_request_duration_seconds histogram\n");
	for (int i = 0; i < SLOT_LATENCY_BUCKETS; i++)
		fprintf(out, "mwsup_request_duration_seconds_bucket{le=\"%g\"} "
		    "%llu\n", (double)slot_latency_bounds_us[i] / 1e6,
		    (unsigned long long)atomic_load(&k->latency_le[i]));
	fprintf(out, "mwsup_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "mwsup_request_duration_seconds_sum %.6f\n"
	    "mwsup_request_duration_seconds_count %llu\n",
	    (unsigned long long)atomic_load(&k->latency_count),
	    (double)atomic_load(&k->latency_sum_us) / 1e6,
	    (unsigned long long)atomic_load(&k->latency_count));
	fprintf(out, "# HELP mwsup_workers Worker processes by state.\n"
	    "# TYPE mwsup_workers gauge\n");
	for (int s = SLOT_STARTING; s <= SLOT_EXITING; s++)
		fprintf(out, "mwsup_workers{state=\"%s\"} %d\n",
		    slot_state_name((enum slot_state)s), by_state[s]);
	status_prometheus_sites(out, t);
	for (size_t i = 0; i < STATUS_NCOUNTERS; i++) {
		const struct status_counter *c = &status_counters[i];

		fprintf(out, "# HELP mwsup_%s %s\n# TYPE mwsup_%s %s\n"
		    "mwsup_%s %llu\n", c->prom, c->help, c->prom,
		    c->gauge ? "gauge" : "counter", c->prom,
		    (unsigned long long)status_counter_value(t, c));
	}
	fprintf(out, "# HELP mwsup_uptime_seconds Seconds since the supervisor started.\n"
	    "# TYPE mwsup_uptime_seconds gauge\nmwsup_uptime_seconds %.1f\n",
	    (double)(slots_now() - atomic_load(&t->started)) / 1e9);
}

static void
status_json(FILE *out, pid_t pid, const struct slot_table *t)
{
	const struct slot_counters *k = &t->counters;
	uint64_t now = slots_now();
	int by_state[SLOT_EXITING + 1], first = 1, farm = status_farm(t);
	char site[SLOT_SITE_MAX];

	status_by_state(t, by_state);
	fprintf(out, "{\"pid\":%d,\"uptime_s\":%.1f,\"idle\":%d,"
	    "\"busy\":%d,\"starting\":%d,\"jobs\":%d,"
	    "\"responses\":%llu,\"by_class\":{\"1xx\":%llu,"
	    "\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu}",
	    (int)pid, (double)(now - atomic_load(&t->started)) / 1e9,
	    by_state[SLOT_IDLE], by_state[SLOT_BUSY],
	    by_state[SLOT_STARTING], by_state[SLOT_JOBS],
	    (unsigned long long)status_responses(t),
	    (unsigned long long)atomic_load(&k->responses[1]),
	    (unsigned long long)atomic_load(&k->responses[2]),
	    (unsigned long long)atomic_load(&k->responses[3]),
	    (unsigned long long)atomic_load(&k->responses[4]),
	    (unsigned long long)atomic_load(&k->responses[5]));
	for (size_t i = 0; i < STATUS_NCOUNTERS; i++)
		fprintf(out, ",\"%s\":%llu", status_counters[i].json,
		    (unsigned long long)status_counter_value(t,
		    &status_counters[i]));
	fprintf(out, ",\"slots\":[");
	for (uint32_t i = 0; i < t->nslots; i++) {
		const struct slot *s = &t->slots[i];
		uint32_t st = atomic_load(&s->state);
		char req[SLOT_REQUEST_MAX];

		if (st == SLOT_EMPTY)
			continue;
		status_slot_request(t, s, st, req);
		fprintf(out, "%s{\"slot\":%u,\"pid\":%u,\"generation\":%u,"
		    "\"state\":\"%s\",\"since_s\":%.3f,\"requests\":%llu,"
		    "\"rss_kb\":%llu,\"request\":", first ? "" : ",", i,
		    atomic_load(&s->pid), atomic_load(&s->generation),
		    slot_state_name((enum slot_state)st),
		    (double)(now - atomic_load(&s->since)) / 1e9,
		    (unsigned long long)atomic_load(&s->requests),
		    (unsigned long long)atomic_load(&s->rss_kb));
		status_json_string(out, req);
		if (farm) {
			fprintf(out, ",\"site\":");
			status_json_string(out, status_site(s, site));
		}
		fputc('}', out);
		first = 0;
	}
	fprintf(out, "]}\n");
}

static void
status_text(FILE *out, pid_t pid, const struct slot_table *t)
{
	const struct slot_counters *k = &t->counters;
	uint64_t now = slots_now();
	int by_state[SLOT_EXITING + 1], farm = status_farm(t);
	const char *sep = "";
	char site[SLOT_SITE_MAX];

	status_by_state(t, by_state);
	fprintf(out, "mwsup pid %d, up %.0f s, generation %llu\n"
	    "workers: %llu configured, %d idle, %d busy, %d starting, "
	    "%d running jobs\n"
	    "queue: %llu waiting; connections: %llu open\n"
	    "responses: %llu (2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu)\n",
	    (int)pid, (double)(now - atomic_load(&t->started)) / 1e9,
	    (unsigned long long)atomic_load(&k->generation),
	    (unsigned long long)atomic_load(&k->workers),
	    by_state[SLOT_IDLE], by_state[SLOT_BUSY],
	    by_state[SLOT_STARTING], by_state[SLOT_JOBS],
	    (unsigned long long)atomic_load(&k->queued),
	    (unsigned long long)atomic_load(&k->connections),
	    (unsigned long long)status_responses(t),
	    (unsigned long long)atomic_load(&k->responses[2]),
	    (unsigned long long)atomic_load(&k->responses[3]),
	    (unsigned long long)atomic_load(&k->responses[4]),
	    (unsigned long long)atomic_load(&k->responses[5]));
	for (size_t i = 0; i < STATUS_NCOUNTERS; i++) {
		if (status_counters[i].text == NULL)
			continue;
		fprintf(out, "%s%s %llu", sep, status_counters[i].text,
		    (unsigned long long)status_counter_value(t,
		    &status_counters[i]));
		sep = ", ";
	}
	fprintf(out, "\njobs: %llu run, %llu failed, %llu slices (%llu "
	    "failed); queue: %llu ready, %llu claimed, %llu delayed, "
	    "%llu abandoned",
	    (unsigned long long)atomic_load(&k->jobs_run),
	    (unsigned long long)atomic_load(&k->jobs_failed),
	    (unsigned long long)atomic_load(&k->job_slices),
	    (unsigned long long)atomic_load(&k->job_slice_errors),
	    (unsigned long long)atomic_load(&k->jobs_ready),
	    (unsigned long long)atomic_load(&k->jobs_claimed),
	    (unsigned long long)atomic_load(&k->jobs_delayed),
	    (unsigned long long)atomic_load(&k->jobs_abandoned));
	if (atomic_load(&k->cache_size) > 0)
		fprintf(out, "\ncache: %llu hits, %llu misses, %llu passes "
		    "(method %llu, auth %llu, cookie %llu, scheme %llu), %llu "
		    "stored, %llu "
		    "not stored, %llu purges (%llu entries), %llu evictions; "
		    "%llu coalesced; %llu entries, %llu of %llu bytes",
		    (unsigned long long)atomic_load(&k->cache_hits),
		    (unsigned long long)atomic_load(&k->cache_misses),
		    (unsigned long long)(atomic_load(&k->cache_pass_method) +
		    atomic_load(&k->cache_pass_auth) +
		    atomic_load(&k->cache_pass_cookie) +
		    atomic_load(&k->cache_pass_scheme)),
		    (unsigned long long)atomic_load(&k->cache_pass_method),
		    (unsigned long long)atomic_load(&k->cache_pass_auth),
		    (unsigned long long)atomic_load(&k->cache_pass_cookie),
		    (unsigned long long)atomic_load(&k->cache_pass_scheme),
		    (unsigned long long)atomic_load(&k->cache_stored),
		    (unsigned long long)atomic_load(&k->cache_not_stored),
		    (unsigned long long)atomic_load(&k->cache_purges),
		    (unsigned long long)atomic_load(&k->cache_purged),
		    (unsigned long long)atomic_load(&k->cache_evictions),
		    (unsigned long long)atomic_load(&k->cache_coalesced),
		    (unsigned long long)atomic_load(&k->cache_entries),
		    (unsigned long long)atomic_load(&k->cache_bytes),
		    (unsigned long long)atomic_load(&k->cache_size));
	fprintf(out, "\nstatic compression: %llu hits, %llu misses; %llu "
	    "entries, %llu bytes",
	    (unsigned long long)atomic_load(&k->zcache_hits),
	    (unsigned long long)atomic_load(&k->zcache_misses),
	    (unsigned long long)atomic_load(&k->zcache_entries),
	    (unsigned long long)atomic_load(&k->zcache_bytes));
	fprintf(out, "\n\n%-5s %-8s %-4s %-9s %10s %9s %8s  %s%s\n",
	    "SLOT", "PID", "GEN", "STATE", "FOR(s)", "REQUESTS",
	    "RSS(MB)", farm ? "SITE                 " : "", "REQUEST");
	for (uint32_t i = 0; i < t->nslots; i++) {
		const struct slot *s = &t->slots[i];
		uint32_t st = atomic_load(&s->state);
		char req[SLOT_REQUEST_MAX];

		if (st == SLOT_EMPTY)
			continue;
		status_slot_request(t, s, st, req);
		fprintf(out, "%-5u %-8u %-4u %-9s %10.1f %9llu %8.1f  ",
		    i, atomic_load(&s->pid), atomic_load(&s->generation),
		    slot_state_name((enum slot_state)st),
		    (double)(now - atomic_load(&s->since)) / 1e9,
		    (unsigned long long)atomic_load(&s->requests),
		    (double)atomic_load(&s->rss_kb) / 1024.0);
		if (farm)
			fprintf(out, "%-20s ", status_site(s, site));
		fprintf(out, "%s\n", req);
	}
}

void
status_render(FILE *out, pid_t pid, const struct slot_table *t,
    enum status_format fmt)
{
	switch (fmt) {
	case STATUS_PROMETHEUS:
		status_prometheus(out, t);
		break;
	case STATUS_JSON:
		status_json(out, pid, t);
		break;
	case STATUS_TEXT:
		status_text(out, pid, t);
		break;
	}
}

static void
status_usage(FILE *f)
{
	fprintf(f, "usage: mwsup status [--json | --prometheus] "
	    "[-c CONFIG | --pid PID]\n"
	    "Shows the workers and counters of a running mwsup.\n"
	    "  -j, --json           print them as JSON\n"
	    "  -P, --prometheus     print them as Prometheus metrics\n"
	    "  -c, --config CONFIG  the mwsup started with -c CONFIG\n"
	    "  -p, --pid PID        the mwsup with process id PID\n"
	    "  -h, --help           show this help\n"
	    "See mwsup(8).\n");
}

int
status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,	   NULL, 'j' },
		{ "prometheus",	no_argument,	   NULL, 'P' },
		{ "pid",	required_argument, NULL, 'p' },
		{ "config",	required_argument, NULL, 'c' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	pid_t pids[STATUS_MAX_FOUND], pid = 0;
	struct slot_table *t;
	const char *config = NULL;
	int json = 0, ch, n, denied = 0, fd;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jPp:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'P':
			json = 2;
			break;
		case 'p':
			pid = (pid_t)atoi(optarg);
			if (pid <= 0) {
				fprintf(stderr, "mwsup status: --pid %s: not a "
				    "process id\n", optarg);
				return 2;
			}
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return 2;
	}
	if (pid == 0) {
		n = status_find(pids, STATUS_MAX_FOUND, &denied, config);
		if (n == 0) {
			fprintf(stderr, "mwsup status: no running mwsup found%s\n",
			    denied ? " that this user may inspect (run as the "
			    "service user or root)" : "");
			return 1;
		}
		if (n > 1) {
			fprintf(stderr, "mwsup status: %d supervisors run; "
			    "choose one with -c CONFIG or --pid:", n);
			for (int i = 0; i < n; i++)
				fprintf(stderr, " %d", (int)pids[i]);
			fputc('\n', stderr);
			return 2;
		}
		pid = pids[0];
	}
	if ((fd = status_open_table(pid)) < 0) {
		fprintf(stderr, "mwsup status: pid %d: %s\n", (int)pid,
		    errno == ENOENT ? "not a running mwsup supervisor" :
		    strerror(errno));
		return 1;
	}
	if (slots_map_readonly(fd, &t) < 0) {
		fprintf(stderr, "mwsup status: pid %d: slot table: %s\n",
		    (int)pid, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	status_render(stdout, pid, t, json == 2 ? STATUS_PROMETHEUS :
	    json ? STATUS_JSON : STATUS_TEXT);
	slots_unmap(t);
	return 0;
}

/* ---- the HTTP endpoint, served by the supervisor itself ---- */

int
status_peer_allowed(const struct conn *c, const struct config_cidrs *list)
{
	uint8_t a[16];
	int fam;

	/* the client proxy.c found: behind a proxy on this host, the peer
	 * would be loopback for every client */
	if (c->client_unix)
		return config_cidr_match(list, AF_UNIX, NULL);
	if (inet_pton(AF_INET, c->client_addr, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, c->client_addr, a) == 1)
		fam = AF_INET6;
	else
		return 0;
	if (list->n == 0)	/* default: loopback only */
		return fam == AF_INET ? a[0] == 127 :
		    memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return config_cidr_match(list, fam, a);
}

/* What the health answer says, and its status. */
static const char *
status_health_state(int *code)
{
	int starting = 0;

	*code = 503;
	if (sup.draining)
		return "draining";
	for (int i = 0; i < site_count(sup.cfg); i++) {
		int site = site_at(sup.cfg, i);

		if (pool_can_serve(site))
			continue;
		if (pool_crash_looping(site))
			return "no worker can start";
		starting = 1;
	}
	if (starting)
		return "starting";
	*code = 200;
	return "ready";
}

/* status.health: one word for a load balancer, to anyone who asks. */
static int
status_health(struct conn *c)
{
	const char *path = sup.cfg->status_health, *url = c->hbuf, *q, *word;
	size_t ulen;
	int code;

	if (path == NULL)
		return 0;
	q = memchr(url, '?', c->url_len);
	ulen = q ? (size_t)(q - url) : c->url_len;
	if (ulen != strlen(path) || memcmp(url, path, ulen) != 0)
		return 0;
	word = status_health_state(&code);
	c->out_len = c->out_off = 0;
	c->status = code;
	sup_count_response(code, 0);
	conn_out_printf(c, "HTTP/1.1 %d %s\r\nServer: mwsup\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s\r\n",
	    code, code == 200 ? "OK" : "Service Unavailable",
	    strlen(word) + 1,
	    c->keepalive && !sup.draining ? "" : "Connection: close\r\n");
	if (c->parser.method != HTTP_HEAD)
		conn_out_printf(c, "%s\n", word);
	conn_start_write(c);
	return 1;
}

int
status_http(struct conn *c)
{
	const char *prefix = sup.cfg->status_path, *url = c->hbuf, *q;
	size_t plen, ulen;
	enum status_format fmt;
	char *body = NULL;
	size_t blen = 0;
	FILE *f;

	if (status_health(c))
		return 1;
	if (prefix == NULL)
		return 0;
	plen = strlen(prefix);		/* ends with '/' */
	q = memchr(url, '?', c->url_len);
	ulen = q ? (size_t)(q - url) : c->url_len;
	if (ulen == plen - 1 && memcmp(url, prefix, ulen) == 0)
		fmt = STATUS_JSON;
	else if (ulen == plen + 7 && memcmp(url, prefix, plen) == 0 &&
	    memcmp(url + plen, "metrics", 7) == 0)
		fmt = STATUS_PROMETHEUS;
	else
		return 0;
	if (!status_peer_allowed(c, &sup.cfg->status_allow)) {
		log_warn("%s: status endpoint refused to %s", sup.cfg->path,
		    c->client_unix ? "a unix socket client" : c->client_addr);
		conn_error_keep(c, 403);
		return 1;
	}
	if ((f = open_memstream(&body, &blen)) == NULL) {
		conn_error(c, 503);
		return 1;
	}
	status_render(f, getpid(), sup.slots, fmt);
	fclose(f);
	c->out_len = c->out_off = 0;
	c->status = 200;
	sup_count_response(200, 0);
	conn_out_printf(c, "HTTP/1.1 200 OK\r\nServer: mwsup\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s\r\n",
	    fmt == STATUS_JSON ? "application/json" :
	    "text/plain; version=0.0.4; charset=utf-8", blen,
	    c->keepalive && !sup.draining ? "" : "Connection: close\r\n");
	if (c->parser.method != HTTP_HEAD)
		conn_out_append(c, body, blen);
	free(body);
	conn_start_write(c);
	return 1;
}
