/*
 * proxy_fuzz.c - libFuzzer target for the PROXY protocol header parser.
 *
 * Whatever connects to a proxy_protocol listener sends these bytes first.
 * Besides the sanitizers' checks, the promises proxy.h makes are checked:
 * a header taken is at most the input and PROXY_HDR_MAX long, names an
 * address inet_pton reads and a port of 0-65535 (unless LOCAL), and every
 * shorter prefix of a header taken asks for more bytes, so where reads
 * split the header does not matter.
 */
#include "proxy.h"
#include "sup.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* proxy.c's other half reads the running supervisor's config (and
 * matches proxy.trusted with config.c) */
struct sup sup;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *why;
	struct proxy_hdr h, p;
	unsigned char a[16];
	int n = proxy_parse(buf, size, &h, &why);

	if (n < 0 && why == NULL)
		abort();
	if (n <= 0)
		return 0;
	if ((size_t)n > size || n > PROXY_HDR_MAX)
		abort();
	if (!h.local) {
		char *end;
		long port = strtol(h.port, &end, 10);

		if ((inet_pton(AF_INET, h.addr, a) != 1 &&
		    inet_pton(AF_INET6, h.addr, a) != 1) || *end != '\0' ||
		    end == h.port || port < 0 || port > 65535)
			abort();
	}
	for (size_t k = 0; k < (size_t)n; k++)
		if (proxy_parse(buf, k, &p, &why) != 0)
			abort();
	return 0;
}
