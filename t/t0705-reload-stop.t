#!/usr/bin/perl
# A reload followed at once by SIGTERM: the old generation's worker is
# still busy with a request when the new generation is ready and the stop
# begins, and another request waits in the queue.  The busy request ends
# with a full answer; the old worker then takes nothing more (it is
# retired, as it would be without the stop) and the waiting request is
# served by the new generation; every client gets a whole 200 and mwsup
# exits 0.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $w = wiki('pool.workers' => 1, 'timeouts.shutdown' => 60,
    'log.access' => 'stderr');
append_settings($w, <<'EOF2');
$wgHooks['ApiBeforeMain'][] = static function () {
	if ( isset( $_GET['mwsup_test_sleep'] ) ) {
		sleep( (int)$_GET['mwsup_test_sleep'] );
	}
};
EOF2
my $srv = start_mwsup($w->{config});
my $dir = test_dir();
my $API = '/api.php?action=query&meta=siteinfo&format=json';

sub bg_get {	# fork a client; returns pid; what it got goes to $file
	my ($path, $file) = @_;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		my $out = raw($srv->{port}, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout => 90);
		write_file($file, $out // '');
		POSIX::_exit(0);
	}
	return $pid;
}

my ($old) = worker_pids($srv);
my $a = bg_get("$API&client=old&mwsup_test_sleep=10", "$dir/old.out");
sleep(1);	# the old worker is busy with it
kill 'HUP', $srv->{pid};
ok(wait_until(sub { log_text($srv) =~ /generation 2 ready/ }, 30),
    'the reload starts generation 2, which becomes ready');
my ($new) = grep { $_ != $old } worker_pids($srv);
ok(defined $new && !-s "$dir/old.out",
    "the old worker ($old) is still busy when the new one (" . ($new // 'none') . ') is ready');
# The new worker is kept busy too, for longer than the old one, so the
# next request waits in the queue when the old worker finishes.
my $c = bg_get("$API&client=new&mwsup_test_sleep=12", "$dir/new.out");
sleep(1);
my $b = bg_get("$API&client=queued", "$dir/queued.out");
sleep(1);
kill 'TERM', $srv->{pid};
log_like($srv, qr/stopping: finishing 2 busy worker\(s\), 1 queued/,
    'SIGTERM: both workers busy, one request queued');
waitpid($srv->{pid}, 0);
my $st = $?;
$srv->{stopped} = 1;	# reaped above
waitpid($_, 0) for $a, $b, $c;

for my $k (qw(old new queued)) {
	my $out = read_file("$dir/$k.out");
	is(judge($out), 'complete', "the $k request gets a whole answer");
	like($out, qr{\AHTTP/1\.1 200 .*"sitename"}s, "and it is the 200 with the site info");
}
is($st, 0, 'mwsup exits 0 once all are answered');

# The access log names the worker that answered each request.
my $log = log_text($srv);
my %by;
while ($log =~ m{"GET /api\.php\?[^"]*client=(\w+)[^"]* HTTP/1\.1" (\d{3}) .* (\d+)$}mg) {
	$by{$1} = "$2 $3";
}
is($by{old}, "200 $old", 'the old worker answered the request it had');
is($by{new}, "200 $new", 'the new worker answered its own');
is($by{queued}, "200 $new",
    'the queued request went to the new generation, not to the old worker that became idle first');
unlike($log, qr/exited with status|killing|unexpected/,
    'no worker died or was killed on the way');
like($log, qr/reload: starting generation 2/, 'the log tells of the reload');
my @reports = $log =~ /^(.*(?:ERROR: \w+Sanitizer|runtime error:|SUMMARY: \w+Sanitizer).*)$/mg;
ok(!@reports, 'no sanitizer report in the log') or diag(join("\n", @reports));
done_testing();
