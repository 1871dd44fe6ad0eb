/*
 * cachectl.h - what a shared HTTP cache (RFC 9111) may do with an answer,
 * read from its header lines.  The worker asks before it sends the page
 * cache a copy of an answer; the supervisor asks again as it stores it.
 */
#ifndef MW_CACHECTL_H
#define MW_CACHECTL_H

#include <stddef.h>
#include <stdint.h>

/*
 * head holds header lines "Name: value\r\n" (a status line first is
 * skipped: it has no colon before its first space).  Returns the seconds
 * a shared cache may serve the answer for, from s-maxage, else max-age
 * with public, less the answer's Age; -1 when it may not be stored:
 * private, no-store, no-cache, a Set-Cookie, a Vary on anything but
 * Accept-Encoding and Cookie (or "*"), no freshness a shared cache may
 * use, or a lifetime already spent.
 */
long	cachectl_ttl(const char *head, size_t len);

/* Is this status one the page cache keeps (a full, final answer)? */
int	cachectl_status_ok(int status);

#endif
