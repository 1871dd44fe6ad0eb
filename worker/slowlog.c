/*
 * slowlog.c - log the PHP stack of a request still running past log.slow.
 *
 * The supervisor decides a request is slow and asks through the worker's
 * slot (slot_ask_stack: a request id and a futex).  A thread of this file
 * waits on that futex and, when the id is the request being served, only
 * raises PHP's VM interrupt; at its next safe point (a call, a return, a
 * loop's back edge) PHP's own thread runs our zend_interrupt_function and
 * walks EG(current_execute_data).  No signal is involved: a signal handler
 * run on PHP's thread makes nanosleep, poll, select and epoll_wait fail
 * with EINTR even under SA_RESTART (a sleep(3) would end after log.slow),
 * and PHP's zend_signal layer re-arms its own handlers each request.  The
 * cost: a request blocked inside one C call (a long SQL query) shows its
 * stack when that call returns, not before.
 */
#include "slowlog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <main/php.h>
#include <Zend/zend_atomic.h>

#include "log.h"
#include "slots.h"

#define SLOWLOG_FRAMES		30
#define SLOWLOG_STACK_SIZE	(256 * 1024)

static struct slot *slowlog_slot;
/* The request whose stack the watcher asked PHP's thread for. */
static _Atomic uint64_t slowlog_pending;
static void (*slowlog_prev_interrupt)(zend_execute_data *);

/* The request line the supervisor put in the slot, safe to log. */
static void
slowlog_request_line(char *out, size_t cap)
{
	size_t i;

	memcpy(out, slowlog_slot->request, cap - 1);
	out[cap - 1] = '\0';
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

static void
slowlog_frame(int n, zend_execute_data *ex)
{
	zend_function *f = ex->func;
	const char *cls = "", *sep = "", *name, *parens = "()";

	if (f->common.function_name != NULL) {
		name = ZSTR_VAL(f->common.function_name);
		if (f->common.scope != NULL) {
			cls = ZSTR_VAL(f->common.scope->name);
			sep = Z_TYPE(ex->This) == IS_OBJECT ? "->" : "::";
		}
	} else {
		/* A file's top-level code: the script, or an include. */
		name = ex->prev_execute_data ? "{include}" : "{main}";
		parens = "";
	}
	if (!ZEND_USER_CODE(f->type)) {
		log_warn("  #%d %s%s%s%s", n, cls, sep, name, parens);
		return;
	}
	log_warn("  #%d %s%s%s%s %s:%u", n, cls, sep, name, parens,
	    ZSTR_VAL(f->op_array.filename),
	    ex->opline ? ex->opline->lineno : f->op_array.line_start);
}

static void
slowlog_dump(uint64_t id, zend_execute_data *ex)
{
	char what[SLOT_REQUEST_MAX];
	uint64_t started = atomic_load(&slowlog_slot->req_started);
	int n = 0;

	slowlog_request_line(what, sizeof(what));
	log_warn("slow request %llu (%s, pid %d) still running after %.1f s; "
	    "PHP stack:", (unsigned long long)id, what, (int)getpid(),
	    (double)(slots_now() - started) / 1e9);
	for (; ex != NULL; ex = ex->prev_execute_data) {
		if (ex->func == NULL)
			continue;
		if (n == SLOWLOG_FRAMES) {
			log_warn("  ... (deeper frames not shown)");
			break;
		}
		slowlog_frame(n++, ex);
	}
	if (n == 0)
		log_warn("  (no PHP code running: in the worker's own code)");
}

/*
 * PHP's thread, at a safe point.  The interrupt may also be someone
 * else's (pcntl's async signals, for one), or ours arriving late, after
 * its request ended: only a pending ask for the current request logs.
 */
static void
slowlog_interrupt(zend_execute_data *ex)
{
	uint64_t id = atomic_exchange(&slowlog_pending, 0);

	if (id != 0 && id == atomic_load(&slowlog_slot->request_id))
		slowlog_dump(id, ex);
	if (slowlog_prev_interrupt != NULL)
		slowlog_prev_interrupt(ex);
}

static void *
slowlog_watch(void *arg)
{
	uint32_t seen = atomic_load(&slowlog_slot->stack_seq);

	(void)arg;
	for (;;) {
		uint64_t id;

		seen = slot_wait_stack(slowlog_slot, seen);
		id = atomic_load(&slowlog_slot->stack_id);
		if (id == 0 || id != atomic_load(&slowlog_slot->request_id))
			continue;	/* that request is over */
		atomic_store(&slowlog_pending, id);
		zend_atomic_bool_store(&EG(vm_interrupt), true);
	}
	return NULL;
}

void
slowlog_start(struct slot *slot)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int err;

	slowlog_slot = slot;
	slowlog_prev_interrupt = zend_interrupt_function;
	zend_interrupt_function = slowlog_interrupt;

	/* Every signal stays with PHP's thread: the watcher blocks them all
	 * (a new thread inherits the mask it is created with). */
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SLOWLOG_STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &attr, slowlog_watch, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		zend_interrupt_function = slowlog_prev_interrupt;
		log_err("slow-request stacks: watcher thread: %s; none will "
		    "be logged", strerror(err));
		return;
	}
	(void)pthread_setname_np(t, "slowlog");
}
