/*
 * sup.c - the process-wide state, defined apart from main() so that test
 * and fuzz programs can link the supervisor's modules without it.
 */
#include "sup.h"

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

struct sup sup;

void
sup_observe_latency(uint64_t us)
{
	struct slot_counters *k;

	if (sup.slots == NULL)
		return;
	k = &sup.slots->counters;
	for (int i = 0; i < SLOT_LATENCY_BUCKETS; i++)
		if (us <= slot_latency_bounds_us[i])
			atomic_fetch_add(&k->latency_le[i], 1);
	atomic_fetch_add(&k->latency_count, 1);
	atomic_fetch_add(&k->latency_sum_us, us);
}

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

int
sup_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
