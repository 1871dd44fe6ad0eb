/*
 * pool.h - the worker processes: spawn, watch, time out, reap, respawn.
 */
#ifndef MW_POOL_H
#define MW_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct config;
struct conn;
struct jobs_slice;

enum worker_state {
	WORKER_DOWN,		/* no process; respawn_at says when */
	WORKER_STARTING,	/* exec'd, not ready yet */
	WORKER_IDLE,
	WORKER_BUSY,
	WORKER_EXITING,		/* told to quit or recycling; await SIGCHLD */
};

struct worker {
	struct loop_ev	 ev;		/* control socket */
	int		 index;		/* slot index */
	int		 site;		/* of sup.cfg (site.h): SITE_NONE without sites */
	pid_t		 pid;
	enum worker_state state;
	uint32_t	 generation;
	struct conn	*conn;		/* until the answer is handed back */
	uint64_t	 req_id;	/* web request being served, or 0 */
	uint64_t	 deadline;	/* ms: startup or request deadline */
	uint64_t	 busy_since;	/* ms */
	uint64_t	 idle_seq;	/* order in which workers became idle */
	uint64_t	 started;	/* ms */
	uint64_t	 respawn_at;	/* ms, WORKER_DOWN only */
	int		 fails;		/* consecutive early deaths */
	int		 killed_status;	/* 504 when we killed it for time */
	int		 stack_asked;	/* this request's PHP stack (log.slow) */
	struct conn	*pending;	/* longest-busy: next request */
	struct jobs_slice *job;		/* WORKER_BUSY with a job slice, not a conn */
	int		 used;		/* this place of the table is taken */
	int		 member;	/* of the current generation */
	int		 quitting;	/* asked to exit, or said it would */
	int		 fd_starved;	/* last start failed: out of descriptors */
	/* 1 + the index of the member starting in this worker's place
	 * (CTL_DONE_REPLACE); this worker serves until that one is ready. */
	int		 replaced_by;
};

#define POOL_MAX	2048		/* two generations of the largest pool */

/* "worker 3 (pid 1234)", with ", site NAME" in a farm: how log lines
 * name w (a static buffer, one use per line). */
const char *pool_who(const struct worker *w);

int	 pool_init(void);
int	 pool_start(void);
/* SIGHUP with a valid new config (already in sup.cfg): start a new
 * generation; the old one retires once the new one is ready. */
int	 pool_reload(void);
/* Every current member is ready (retires the old generation once). */
int	 pool_generation_ready(void);
void	 pool_on_sigchld(void);
void	 pool_tick(void);
/* The idle worker of site that became idle last, or NULL. */
struct worker *pool_pick_idle(int site);
struct worker *pool_pick_longest_busy(int site);
/* Hand c to w (which must be idle); 0 or -1 (w failed, c untouched). */
int	 pool_assign(struct worker *w, struct conn *c);
/* Hand w (idle) a job slice: msg is its CTL_REQUEST, fd the worker's end
 * of the answer's socketpair; what is shown in the slot table.  0, or -1
 * (w failed; nothing kept). */
int	 pool_assign_slice(struct worker *w, const void *msg, size_t len,
	    int fd, struct jobs_slice *js, const char *what,
	    uint64_t timeout_ms);
/* Ready workers of site (current generation). */
int	 pool_ready_count(int site);
/* Some worker of site takes requests now: a ready member, or one of the
 * old generation still serving through a reload. */
int	 pool_can_serve(int site);
/* Idle workers of site, of the current generation. */
int	 pool_idle_count(int site);
int	 pool_busy_count(void);
/* Idle workers of the current generation, of every site. */
int	 pool_idle_total(void);
int	 pool_alive_count(void);
/* Every worker of site has failed to start repeatedly. */
int	 pool_crash_looping(int site);
/* Reload, before the old configuration is freed: the site of each worker
 * is its site of the same name in sup.cfg, or SITE_GONE. */
void	 pool_reload_sites(const struct config *old);
/* Ask every worker to exit once idle. */
void	 pool_quit_all(void);
void	 pool_kill_all(void);
const char *pool_worker_path(void);
/* The soft RLIMIT_NOFILE workers start with (the supervisor raised its
 * own above it). */
void	 pool_set_worker_nofile(uint64_t soft);

#endif
