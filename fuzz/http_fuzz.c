/*
 * http_fuzz.c - libFuzzer target for the supervisor's request handling.
 *
 * Each input is what one client sends on one connection.  It goes through
 * the real code path: a socketpair adopted by conn.c, the epoll loop,
 * libhttp-parser with mwsup's callbacks and limits, routing, static files
 * the page cache's lookups, passes and PURGE (no entry is ever stored)
 * and the CGI parameters built for a worker.  There are no workers, so
 * PHP requests end in the supervisor's own 503; what is checked is that
 * no input crashes, leaks, or leaves a connection behind.  The pieces the
 * input is written in vary with the input, so folds, CRs and chunk
 * boundaries land on read boundaries too.
 *
 * Each input is also read as a head followed by a chunked body by
 * frame.c's checks alone, once whole and once a byte at a time: the
 * verdict, the bytes consumed and the decoded body must be the same.
 */
#include "cache.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "loop.h"
#include "static.h"
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char fuzz_yaml[] =
	"listen: [\"127.0.0.1:8080\"]\n"
	"mediawiki:\n"
	"  root: /usr/share/mediawiki\n"
	"  settings: /nonexistent/LocalSettings.php\n"
	"  short_urls: /wiki/\n"
	"limits:\n"
	"  head: 4k\n"
	"  body: 16k\n"
	"  headers: 20\n"
	"static:\n"
	"  /images/: /usr/share/mediawiki/resources/assets\n"
	"cache:\n"
	"  size: 64k\n"
	"  max_entry: 16k\n"
	"  purge_allow: [unix]\n";

static struct config fuzz_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("http_fuzz");
	if (config_parse(&fuzz_cfg, "fuzz.yaml", fuzz_yaml,
	    sizeof(fuzz_yaml) - 1) < 0)
		abort();
	sup.cfg = &fuzz_cfg;
	/* media types as mwsup has them, so text files are compressed */
	if (static_types_load(&fuzz_cfg) < 0)
		abort();
	if (loop_init() < 0)
		abort();
	conn_init_parser_settings();
	cache_configure();	/* lookups, PURGE (the socketpair is "unix") */
	return 0;
}

/* The decoded body of fuzz_frame(), up to 16k (the body limit). */
struct fuzz_body {
	char	buf[16384];
	size_t	len;
};

static int
fuzz_body_add(void *arg, const char *p, size_t n)
{
	struct fuzz_body *b = arg;

	if (n > sizeof(b->buf) - b->len)
		abort();	/* frame_chunked() passed its body limit */
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	return 0;
}

/* Run data through frame_head() then frame_chunked(), step bytes at a
 * time (0: all at once); returns the last verdict (plus 100 once in the
 * body) and the bytes used. */
static int
fuzz_frame(const uint8_t *data, size_t size, size_t step, size_t *usedp,
    struct fuzz_body *body)
{
	struct frame f;
	enum frame_result r = FRAME_MORE;
	size_t off = 0, used;
	int in_body = 0;

	frame_head_init(&f);
	body->len = 0;
	while (off < size) {
		size_t n = step && size - off > step ? step : size - off;

		if (!in_body)
			r = frame_head(&f, (const char *)data + off, n, &used);
		else
			r = frame_chunked(&f, (const char *)data + off, n, &used,
			    fuzz_body_add, body);
		if (used > n)
			abort();
		off += used;
		if (r == FRAME_DONE && !in_body) {
			in_body = 1;
			frame_chunked_init(&f, sizeof(body->buf), 4096);
			r = FRAME_MORE;
			continue;
		}
		if (r != FRAME_MORE)
			break;
		if (used < n)
			abort();	/* "more" must take every byte */
	}
	*usedp = off;
	return (int)r + (in_body ? 100 : 0);
}

static void
fuzz_frame_split(const uint8_t *data, size_t size)
{
	static struct fuzz_body whole, bytes;
	size_t used_whole, used_bytes;
	int a, b;

	a = fuzz_frame(data, size, 0, &used_whole, &whole);
	b = fuzz_frame(data, size, 1, &used_bytes, &bytes);
	if (a != b || used_whole != used_bytes || whole.len != bytes.len ||
	    memcmp(whole.buf, bytes.buf, whole.len) != 0)
		abort();	/* the split of the bytes changed a verdict */
}

static void
fuzz_drain(int fd)
{
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage peer;
	int sv[2], i;
	size_t off = 0;
	uint32_t h = 2166136261u;

	fuzz_frame_split(data, size);
	for (off = 0; off < size; off++)
		h = (h ^ data[off]) * 16777619u;
	off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		return 0;
	memset(&peer, 0, sizeof(peer));
	peer.ss_family = AF_UNIX;
	if (conn_adopt(sv[0], 1, 0, &peer) < 0) {
		close(sv[1]);
		return 0;
	}
	/* Feed the input in pieces, turning the loop in between, so the
	 * parser also sees requests split across reads; the piece sizes
	 * (1 to 997 bytes) follow from a hash of the input. */
	for (i = 0; i < 10000 && (off < size || i < 4); i++) {
		if (off < size) {
			size_t piece = 1 + (h >> 7) % 997;
			ssize_t w;

			h = h * 1103515245u + 12345u;
			if (piece > size - off)
				piece = size - off;
			w = write(sv[1], data + off, piece);

			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				break;
		} else if (i == 4 || off == size) {
			shutdown(sv[1], SHUT_WR);
		}
		loop_run_once(0);
		dispatch_fail_all(503);
		fuzz_drain(sv[1]);
		loop_reap();
		if (conn_count() == 0)
			break;
	}
	close(sv[1]);
	for (i = 0; i < 100 && conn_count() > 0; i++) {
		loop_run_once(0);
		dispatch_fail_all(503);
		loop_reap();
	}
	if (conn_count() != 0)
		abort();	/* a connection outlived its client */
	return 0;
}
