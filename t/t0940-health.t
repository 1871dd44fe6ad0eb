#!/usr/bin/perl
# status.health: the answer a load balancer checks.  200 "ready" while
# workers serve; 503 "starting" before the first worker is ready; 503 "no
# worker can start" when every worker dies at start; from SIGTERM on, 503
# "draining" while timeouts.drain lasts, during which new connections are
# still taken and served (each closed after its answer) and a request in
# flight ends whole; then the listener closes, connections idle between
# requests are closed, and mwsup exits 0.  Without
# timeouts.drain the listener closes at once, as before.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $dir = test_dir();
my $w = wiki('pool.workers' => 2, 'status.health' => '/healthz',
    'timeouts.drain' => 3, 'timeouts.shutdown' => 30,
    'timeouts.keepalive' => 30);
append_settings($w, <<'EOF2');
$wgHooks['ApiBeforeMain'][] = static function () {
	if ( isset( $_GET['mwsup_test_sleep'] ) ) {
		sleep( (int)$_GET['mwsup_test_sleep'] );
	}
};
EOF2
my $API = '/api.php?action=query&meta=siteinfo&format=json';

# --- starting: a worker that takes 3 s to exec --------------------------
my $slow = "$dir/slow-worker";
write_file($slow, "#!/bin/sh\nsleep 3\nexec " . mwworker_bin() . " \"\$@\"\n");
chmod(0755, $slow);
set_yaml($w, 'pool.worker' => $slow);
my $srv = start_mwsup($w->{config}, wait => 0);
my $r = wait_until(sub { my $x = http(GET => '/healthz'); $x->{status} == 599 ? undef : $x }, 10);
is($r->{status}, 503, 'before a worker is ready: 503');
is($r->{body}, "starting\n", 'saying "starting"');
is($r->{headers}{'cache-control'}, 'no-store', 'never cached');
ok(wait_until(sub { http(GET => '/healthz')->{status} == 200 }, 30),
    'once the worker is ready: 200');
stop_mwsup($srv);

# --- crash loop ------------------------------------------------------------
set_yaml($w, 'pool.worker' => '/bin/false');
$srv = start_mwsup($w->{config});
$r = wait_until(sub { my $x = http(GET => '/healthz');
	$x->{body} =~ /no worker/ ? $x : undef }, 10) // http(GET => '/healthz');
is($r->{status}, 503, 'every worker dies at start: 503');
is($r->{body}, "no worker can start\n", 'saying "no worker can start"');
stop_mwsup($srv);

# --- ready, then a stop with timeouts.drain ---------------------------------
set_yaml($w, 'pool.worker' => undef);
$srv = start_mwsup($w->{config});
$r = http(GET => '/healthz');
is($r->{status}, 200, 'ready: 200');
is($r->{body}, "ready\n", 'saying "ready"');
is(http(GET => '/healthz?x=1')->{status}, 200, 'a query string is ignored');
is(http(HEAD => '/healthz')->{body}, '', 'HEAD: no body');
is(http(GET => '/healthzz')->{status}, 404, 'only the exact path answers');

# A keep-alive connection opened before the stop, a request in flight.
my $ka = raw_begin($srv->{port}, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
my $idle = raw_begin($srv->{port}, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
sleep(0.3);
my $busy = raw_begin($srv->{port}, "GET $API&mwsup_test_sleep=4 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
sleep(0.5);
my $t0 = time();
kill 'TERM', $srv->{pid};
log_like($srv, qr/draining: still serving for 3000 ms/, 'SIGTERM begins the drain');
$r = http(GET => '/healthz');
is($r->{status}, 503, 'draining: the health answer is 503');
is($r->{body}, "draining\n", 'saying "draining"');
$r = http(GET => '/index.php?title=Main_Page', {}, undef, { ua => HTTP::Tiny->new(keep_alive => 1, timeout => 30) });
is($r->{status}, 200, 'a new connection during the drain is still served');
is(lc($r->{headers}{connection} // ''), 'close', 'and closed after its answer');
syswrite($ka, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
my $both = raw_end($ka, timeout => 10);
like($both, qr{\A HTTP/1\.1\ 200 .*? ready\n HTTP/1\.1\ 503 .*? Connection:\ close\r\n .* draining\n \z}xs,
    'a kept-alive connection: the next answer says draining and closes it');
ok(wait_until(sub { !defined raw($srv->{port}, "GET /healthz HTTP/1.0\r\n\r\n", timeout => 2) }, 10),
    'after the drain the listener is closed');
my $took = time() - $t0;
cmp_ok($took, '>=', 2.5, sprintf('not before timeouts.drain (%.1f s)', $took));
my $left = raw_end($idle, timeout => 20);
my $idle_took = time() - $t0;
like($left, qr{\AHTTP/1\.1 200 .*ready\n\z}s, 'a connection kept alive and idle since before the stop got its one answer');
cmp_ok($idle_took, '<', 10, sprintf('and is closed when the drain ends (%.1f s), not after timeouts.keepalive (30 s)', $idle_took));
my $out = raw_end($busy, timeout => 30);
like($out, qr{\AHTTP/1\.1 200 .*"sitename"}s, 'the request in flight ends with a whole 200');
is(MwTest::_wstat(waitpid($srv->{pid}, 0) && $?), 'exit 0', 'mwsup exits 0');
$srv->{stopped} = 1;

# --- without timeouts.drain the listener closes at once --------------------
set_yaml($w, 'timeouts.drain' => undef);
$srv = start_mwsup($w->{config});
$busy = raw_begin($srv->{port}, "GET $API&mwsup_test_sleep=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
sleep(0.5);
kill 'TERM', $srv->{pid};
ok(wait_until(sub { !defined raw($srv->{port}, "GET /healthz HTTP/1.0\r\n\r\n", timeout => 2) }, 1),
    'timeouts.drain 0: no new connection after SIGTERM');
like(raw_end($busy, timeout => 30), qr{\AHTTP/1\.1 200 }, 'the request in flight still ends with a 200');
stopped_cleanly($srv);
done_testing();
