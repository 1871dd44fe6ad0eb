#!/usr/bin/perl
# The access log: one line per response in the combined format (plus the
# request time in microseconds and the worker pid), N requests in, N lines
# out, each naming what the client saw.  Rotation: after the file is moved
# away, SIGUSR1 makes mwsup write a new one.  The slow-request log names
# requests over log.slow, and while such a request still runs its worker
# logs the PHP stack (cold and warm mode).
use strict;
use warnings;
use FindBin;
use IO::Socket::IP;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use MwTest;

# Cold mode first (every request a PHP request of its own, so the stack
# ends in the entry script); warm mode is checked at the end.
my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'false');
# The directory must be writable by the user mwsup runs as, so that it can
# make a new file after rotation (www-data when the tests run as root).
my $logdir = "$w->{dir}/logs";
mkdir $logdir or die "mkdir $logdir: $!\n";
chmod 0777, $logdir;
my $log = "$logdir/access.log";
set_yaml($w, 'log.access' => $log, 'log.slow' => 1);
my $run = "$w->{dir}/run";
mkdir $run; chmod 0777, $run;
append_settings($w, <<'EOF2');
$wgHooks['BeforeInitialize'][] = static function () {
	if ( isset( $_GET['mwsup_test_sleep'] ) ) {
		sleep( (int)$_GET['mwsup_test_sleep'] );
	}
	// PHP code running all along (not one long C call).
	for ( $i = 0; $i < 10 * (int)( $_GET['mwsup_test_nap'] ?? 0 ); $i++ ) {
		usleep( 100000 );
	}
};
EOF2
my $srv = start_mwsup($w->{config});

my @sent = (
	[ '/wiki/Main_Page', 200 ],
	[ '/api.php?action=query&meta=siteinfo&format=json', 200 ],
	[ '/resources/assets/poweredby_mediawiki_88x31.png', 200 ],
	[ '/no/such/file.png', 404 ],
	[ '/wiki/Main_Page?mwsup_test_sleep=2', 200 ],
);
for my $s (@sent) {
	my $r = http(GET => $s->[0], { 'User-Agent' => 'test "agent"', Referer => 'http://example.org/' });
	is($r->{status}, $s->[1], "GET $s->[0] answers $s->[1]");
}
my $combined = qr{^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "(\S+) (\S+) (HTTP/1\.[01])" (\d{3}) (\d+) "([^"]*)" "([^"]*)" (\d+) (\d+|-)$};
# Lines other than the readiness probe's ("GET /"), once all have come.
sub ours { grep { !m{"GET / HTTP/} } split /\n/, read_file($log) }
wait_until(sub { ours() >= @sent }, 10);
my @lines = ours();
is(scalar @lines, scalar @sent, 'one line per request');
my @pids = worker_pids($srv);
# A worker's line is written when it reports done, which may come after the
# client already has its answer (and after the next request's line).
for my $i (0 .. $#sent) {
	my ($l) = grep { m{"GET \Q$sent[$i][0]\E HTTP/} } @lines;
	$l //= '';
	my @f = $l =~ $combined;
	ok(@f, "line " . ($i + 1) . " is in the combined format with time and worker fields") or diag($l);
	next unless @f;
	is($f[3], $sent[$i][0], "it names the request target $sent[$i][0]");
	is($f[5], $sent[$i][1], "and the status the client got ($sent[$i][1])");
	is($f[8], 'test \x22agent\x22', 'the user agent is there, quotes escaped');
	is($f[7], 'http://example.org/', 'so is the referer');
	my $php = $sent[$i][0] !~ m{^/(resources|no)/};
	if ($php) {
		is($f[10], $pids[0], 'a PHP request names the worker that served it');
	} else {
		is($f[10], '-', 'a file answered by the supervisor has no worker');
	}
}
my ($us) = ((grep { /mwsup_test_sleep/ } @lines)[0] // '') =~ / (\d+) \S+$/;
cmp_ok($us // 0, '>=', 2_000_000, 'the request time of the 2 s request is at least 2,000,000 us '
    . '(asking for its stack at 1 s did not cut its sleep() short)');
log_like($srv, qr{slow request: [\d.]+ s for GET /wiki/Main_Page\?mwsup_test_sleep=2 \(status 200, worker \d+\)},
    'the slow-request log names the request over log.slow');
unlike(log_text($srv), qr{slow request: .*siteinfo}, 'and not the fast ones');
my $text = log_text($srv);
my $stack_at = index($text, ' (GET /wiki/Main_Page?mwsup_test_sleep=2, pid ');
ok($stack_at >= 0 && $stack_at < index($text, 'for GET /wiki/Main_Page?mwsup_test_sleep=2 (status') &&
    substr($text, $stack_at) =~ /\A[^\n]*PHP stack:\n[^\n]*  #0 \{closure\}\(\) \S+LocalSettings\.php:\d+\n/,
    'the slow request had its PHP stack logged before its response (the hook closure on top, '
    . 'once sleep() returned)') or diag($text);
unlike($text, qr{slow request \d+ \(GET /api\.php}, 'and the fast API request had no stack logged');

# A request running PHP code past log.slow: its stack is logged while the
# client still waits, every frame with its file and line.
# The nap is long enough that the stack shows well before it ends, even
# on a loaded machine: the check waits for the log line, not a sleep.
my $nap = '/wiki/Main_Page?mwsup_test_nap=8';
my $stack_re = qr{slow request \d+ \(GET \Q$nap\E, pid $pids[0]\) still running after ([\d.]+) s; PHP stack:\n((?:.*  #\d+ .*\n)+)};
my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->{port})
    or die "connect: $!\n";
syswrite($sock, "GET $nap HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
ok(wait_until(sub { log_text($srv) =~ $stack_re }, 7),
    'a request still running past log.slow has its PHP stack logged by its worker');
my $rin = '';
vec($rin, fileno($sock), 1) = 1;
is(select(my $rout = $rin, undef, undef, 0), 0, 'while the client is still waiting for the answer');
my $answer = '';
while (sysread($sock, my $buf, 65536)) { $answer .= $buf }
close($sock);
like($answer, qr{^HTTP/1\.1 200 }, 'the request then completes normally');
my ($after, $frames) = log_text($srv) =~ $stack_re;
$frames //= '';
cmp_ok($after // 0, '<', 7, 'the log says how long it had been running (past log.slow, before the nap ended)');
like($frames, qr{\A.*  #0 \{closure\}\(\) \S+/LocalSettings\.php:\d+\n}, 'the top frame is the hook closure, at its file and line')
    or diag($frames);
like($frames, qr{  #\d+ MediaWiki->run\(\) \S+/MediaWiki\.php:\d+\n}, "MediaWiki's entry is in it, a method with its class");
like($frames, qr{  #\d+ \{main\} \S+/index\.php:\d+\n\z}, 'and the bottom frame is the entry point script');

# Rotation.
rename($log, "$log.1") or die "rename: $!\n";
kill 'USR1', $srv->{pid};
wait_until(sub { -e $log }, 5);
http(GET => '/no/such/other.png');
ok(wait_until(sub { -e $log && read_file($log) =~ m{"GET /no/such/other\.png HTTP/1\.1" 404 } }, 5),
    'after SIGUSR1 a new file is opened and gets the next line');
unlike(read_file("$log.1"), qr{other\.png}, 'the rotated file does not');
stopped_cleanly($srv);

# Under systemd stderr is the journal (JOURNAL_STREAM is set): each line
# carries its priority as "<N>" so journalctl shows levels.
$srv = start_mwsup($w->{config}, env => { JOURNAL_STREAM => '8:12345' });
http(GET => '/wiki/Main_Page?mwsup_test_sleep=2');
log_like($srv, qr/^<5>ready: 1 workers/m, 'notices carry priority 5 for the journal');
log_like($srv, qr/^<4>slow request: /m, 'warnings carry priority 4');
unlike(log_text($srv), qr/^mwsup\[\d+\]: /m, 'and no line has the terminal-style prefix');
stopped_cleanly($srv);

# Warm mode: the stack of a request in the one long PHP request.
set_yaml($w, 'snapshot.enabled' => 'true');
$srv = start_mwsup($w->{config});
is(http(GET => '/wiki/Main_Page?mwsup_test_nap=2')->{status}, 200, 'warm mode: a 2 s request answers 200');
my $head = qr{slow request \d+ \(GET /wiki/Main_Page\?mwsup_test_nap=2, pid \d+\) still running after [\d.]+ s; PHP stack:\n};
log_like($srv, qr{$head.*  #0 \{closure\}\(\) \S+/LocalSettings\.php:\d+\n(?:.*  #\d+ .*\n)*?.*  #\d+ MediaWiki->run\(\)},
    'and its PHP stack is logged as in cold mode');
stopped_cleanly($srv);
done_testing();
