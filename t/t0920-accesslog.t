#!/usr/bin/perl
# The access log: one line per response in the combined format (plus the
# request time in microseconds and the worker pid), N requests in, N lines
# out, each naming what the client saw.  Rotation: after the file is moved
# away, SIGUSR1 makes mwsup write a new one.  The slow-request log names
# requests over log.slow.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use MwTest;

my $w = wiki('pool.workers' => 1);
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
cmp_ok($us // 0, '>=', 2_000_000, 'the request time of the 2 s request is at least 2,000,000 us');
log_like($srv, qr{slow request: [\d.]+ s for GET /wiki/Main_Page\?mwsup_test_sleep=2 \(status 200, worker \d+\)},
    'the slow-request log names the request over log.slow');
unlike(log_text($srv), qr{slow request: .*siteinfo}, 'and not the fast ones');

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
done_testing();
