#!/usr/bin/perl
# A worker that dies in the middle of a request: its client gets a 502 at
# once (not a hang, not a reset), the other worker keeps serving, the
# supervisor logs the death and starts a replacement, so the pool is back to
# its size.
#
# To kill the right worker the test wiki gets a hook that, for a request
# carrying mwsup_test_sleep=N, writes the worker's own pid (getmypid() in the
# embedded PHP) to a file and sleeps N seconds.  The test thus knows exactly
# which worker is busy with the slow request, without guessing from timing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $SLEEP = 30;
my $w = wiki('pool.workers' => 2, 'timeouts.request' => 120);
my $run = "$w->{dir}/run";
mkdir $run or die "mkdir $run: $!\n";
chmod 0777, $run;	# the workers may run as www-data
append_settings($w, <<"EOF");
\$mwsupTestSleep = static function () {
	if ( isset( \$_GET['mwsup_test_sleep'] ) ) {
		file_put_contents( '$run/busy.tmp', (string)getmypid() );
		rename( '$run/busy.tmp', '$run/busy' );
		sleep( (int)\$_GET['mwsup_test_sleep'] );
	}
};
\$wgHooks['BeforeInitialize'][] = \$mwsupTestSleep;
\$wgHooks['ApiBeforeMain'][] = \$mwsupTestSleep;
EOF

my $srv = start_mwsup($w->{config});

my @before = @{ wait_until(sub { my @p = worker_pids($srv); @p == 2 ? \@p : undef }, 30) // [] };
is(scalar @before, 2, 'mwsup runs a pool of two mwworker processes');

# The slow request, from a child process; its answer goes to a file.
my $answer = test_dir() . '/slow-answer';
my $client = fork() // die "fork: $!\n";
if ($client == 0) {
	# raw(), not http(): HTTP::Tiny silently repeats a GET whose connection
	# closed without an answer, which would hide exactly what is tested.
	my $r = parse_response(raw($w->{port},
	    "GET /index.php?title=Main_Page&mwsup_test_sleep=$SLEEP HTTP/1.1\r\n" .
	    "Host: 127.0.0.1:$w->{port}\r\nConnection: close\r\n\r\n",
	    timeout => $SLEEP + 30));
	write_file($answer, "$r->{status}\n$r->{body}");
	POSIX::_exit(0);
}

my $busy = wait_until(sub { -s "$run/busy" && read_file("$run/busy") }, 60);
ok($busy, 'the slow request reached a worker') or diag(log_text($srv));
$busy ||= 0;
ok((grep { $_ == $busy } @before), "the busy process ($busy) is one of mwsup's workers");

my $r = http(GET => '/wiki/Main_Page', undef, undef, { timeout => 20 });
is($r->{status}, 200, 'while one worker is busy, the other answers a request');

kill('KILL', $busy) if $busy;
my $killed_at = time();
my $done = wait_until(sub { waitpid($client, WNOHANG) == $client }, $SLEEP + 30);
my $waited = time() - $killed_at;
my ($status, $body) = -e $answer ? split(/\n/, read_file($answer), 2) : ('', '');
is($status, 502, 'the client of the killed worker gets 502 Bad Gateway');
ok($done && $waited < $SLEEP / 2,
    sprintf('and gets it soon after the kill (%.1f s), not when the request would have ended', $waited));

$r = http(GET => '/wiki/Main_Page', undef, undef, { timeout => 20 });
is($r->{status}, 200, 'the next request is answered (200)');
like($r->{body}, qr/MediaWiki has been installed/, 'with the Main Page');

my @after = @{ wait_until(sub {
	my @p = worker_pids($srv);
	(@p == 2 && !grep { $_ == $busy } @p) ? \@p : undef
}, 30) // [] };
is(scalar @after, 2, 'the pool is back to two workers');
ok(!(grep { $_ == $busy } @after), 'the killed worker is gone (reaped, not a zombie)');
my @new = grep { my $p = $_; !grep { $_ == $p } @before } @after;
is(scalar @new, 1, 'exactly one new worker was started') or diag("before @before, after @after");

# The supervisor's own line about that pid: the worker's lines carry its
# pid too, so "the pid is in the log" would prove nothing.
log_like($srv, qr/^mwsup\[\d+\]: (?:warning: )?worker \d+ \(pid $busy\): killed by signal 9\b/m,
    "the supervisor logs that worker $busy was killed by signal 9");

# Both workers serve again: enough requests that the new one takes some.
my $ok = 0;
for (1 .. 6) {
	my $rr = http(GET => '/api.php?action=query&meta=siteinfo&format=json', undef, undef, { timeout => 20 });
	$ok++ if $rr->{status} == 200;
}
is($ok, 6, 'requests after the respawn all succeed');
is(waitpid($srv->{pid}, WNOHANG), 0, 'mwsup itself kept running (not exited, not a zombie)');

stopped_cleanly($srv);

done_testing();
