/*
 * sup.c - the process-wide state, defined apart from main() so that test
 * and fuzz programs can link the supervisor's modules without it.
 */
#include "sup.h"

#include <stdatomic.h>

struct sup sup;

void
sup_count_response(int status, int by_worker)
{
	struct slot_counters *k;
	int cls = status / 100;

	if (sup.slots == NULL)
		return;
	k = &sup.slots->counters;
	atomic_fetch_add(&k->responses[cls >= 1 && cls <= 5 ? cls : 0], 1);
	atomic_fetch_add(by_worker ? &k->php_served : &k->static_served, 1);
}
