/*
 * http_fuzz.c - libFuzzer target for the supervisor's request handling.
 *
 * Each input is what one client sends on one connection.  It goes through
 * the real code path: a socketpair adopted by conn.c, the epoll loop,
 * libhttp-parser with mwsup's callbacks and limits, routing, static files
 * and the CGI parameters built for a worker.  There are no workers, so
 * PHP requests end in the supervisor's own 503; what is checked is that
 * no input crashes, leaks, or leaves a connection behind.
 */
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "loop.h"
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
	"  /images/: /usr/share/mediawiki/resources/assets\n";

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
	if (loop_init() < 0)
		abort();
	conn_init_parser_settings();
	return 0;
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

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0)
		return 0;
	memset(&peer, 0, sizeof(peer));
	peer.ss_family = AF_UNIX;
	if (conn_adopt(sv[0], 1, &peer) < 0) {
		close(sv[1]);
		return 0;
	}
	/* Feed the input in pieces, turning the loop in between, so the
	 * parser also sees requests split across reads. */
	for (i = 0; i < 10000 && (off < size || i < 4); i++) {
		if (off < size) {
			size_t piece = size - off > 997 ? 997 : size - off;
			ssize_t w = write(sv[1], data + off, piece);

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
		conn_reap();
		if (conn_count() == 0)
			break;
	}
	close(sv[1]);
	for (i = 0; i < 100 && conn_count() > 0; i++) {
		loop_run_once(0);
		dispatch_fail_all(503);
		conn_reap();
	}
	if (conn_count() != 0)
		abort();	/* a connection outlived its client */
	return 0;
}
