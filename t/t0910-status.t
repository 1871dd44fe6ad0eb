#!/usr/bin/perl
# `mwsup status`: the figures match what was served (N requests in, N
# counted, by class and by who answered), every worker is listed with its
# state, a busy worker shows the request it is serving (its path: the query
# string, which may hold a token, only with status.show_query), --json is
# valid JSON with the same figures, and it works as the service user.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $w = wiki('pool.workers' => 2, 'timeouts.request' => 60, 'status.path' => '/mwsup-status');
my $run = "$w->{dir}/run";
mkdir $run; chmod 0777, $run;
append_settings($w, <<"EOF2");
\$wgHooks['BeforeInitialize'][] = static function () {
	if ( isset( \$_GET['mwsup_test_sleep'] ) ) {
		touch( '$run/busy' );
		sleep( (int)\$_GET['mwsup_test_sleep'] );
	}
};
EOF2
my $srv = start_mwsup($w->{config});
my @sc = ('status', '-c', $w->{config});

# start_mwsup's readiness probe asked for "/" once; count from a snapshot
# taken once that answer is counted (a worker reports it done after the
# client has it, and after its restore).
my ($rc, $out, $err) = run_cmd(mwsup_bin(), @sc, '--json');
is($rc, 0, 'mwsup status --json exits 0') or diag($err);
ok(eval { decode_json($out) }, 'its output is JSON') or diag($out);
my $before = wait_until(sub {
	my (undef, $o) = run_cmd(mwsup_bin(), @sc, '--json');
	my $j = eval { decode_json($o) } or return;
	return $j->{responses} >= 1 ? $j : undef;
}, 10) // decode_json($out);

my %want = (php => 0, static => 0, '2xx' => 0, '4xx' => 0);
for (1 .. 5) { my $r = http(GET => '/api.php?action=query&meta=siteinfo&format=json'); $want{php}++; $want{'2xx'}++ if $r->{status} == 200 }
for (1 .. 3) { my $r = http(GET => '/resources/assets/poweredby_mediawiki_88x31.png'); $want{static}++; $want{'2xx'}++ if $r->{status} == 200 }
for (1 .. 2) { my $r = http(GET => '/no/such/file.css'); $want{static}++; $want{'4xx'}++ if $r->{status} == 404 }
is($want{'2xx'}, 8, 'the eight good requests got 200');
is($want{'4xx'}, 2, 'the two missing files got 404');

# A worker reports "done" after the client has its answer (MediaWiki sends
# it early with fastcgi_finish_request), so give the last report a moment.
my $after = wait_until(sub {
	my (undef, $o) = run_cmd(mwsup_bin(), @sc, '--json');
	my $j = eval { decode_json($o) } or return;
	return $j->{responses} - $before->{responses} >= 10
	    && !grep({ $_->{state} ne 'idle' } @{ $j->{slots} }) ? $j : undef;
}, 10) // decode_json((run_cmd(mwsup_bin(), @sc, '--json'))[1]);
is($after->{responses} - $before->{responses}, 10, 'ten requests in, ten responses counted');
is($after->{php} - $before->{php}, 5, 'five answered by workers');
is($after->{static} - $before->{static}, 5, 'five answered by the supervisor (files and 404s)');
is($after->{by_class}{'2xx'} - $before->{by_class}{'2xx'}, 8, '2xx counted: 8');
is($after->{by_class}{'4xx'} - $before->{by_class}{'4xx'}, 2, '4xx counted: 2');
is($after->{workers}, 2, 'the configured pool size is shown');
is($after->{pid}, $srv->{pid}, 'the supervisor pid is shown');
my @slots = @{ $after->{slots} };
is(scalar @slots, 2, 'both workers have a slot');
is_deeply([sort map { $_->{pid} } @slots], [sort { $a <=> $b } worker_pids($srv)], 'the slots name the worker processes');
ok(!grep({ $_->{state} ne 'idle' } @slots), 'with nothing to do, both are idle');

# Of two idle workers, the one that became idle last gets the request (its
# caches are warm): requests one after another (each after the last is
# done) are served by one worker, the other stays idle.
my %served = map { $_->{pid} => $_->{requests} } @slots;
for (1 .. 6) {
	http(GET => '/api.php?action=query&meta=siteinfo&format=json');
	wait_until(sub {
		my (undef, $o) = run_cmd(mwsup_bin(), @sc, '--json');
		my $j = eval { decode_json($o) } or return;
		return !grep({ $_->{state} ne 'idle' } @{ $j->{slots} });
	}, 10);
}
my $seq = decode_json((run_cmd(mwsup_bin(), @sc, '--json'))[1]);
my %grew = map { $_->{pid} => $_->{requests} - ($served{$_->{pid}} // 0) } @{ $seq->{slots} };
is_deeply([sort { $a <=> $b } values %grew], [0, 6],
    'six requests one after another: all six served by one worker')
	or diag(explain(\%grew));

# A busy worker shows its request: the path, not the query string with
# its token, in the plain table, in --json and at the status endpoint.
sub busy_views {
	unlink "$run/busy";
	my $pid = fork() // die;
	if ($pid == 0) {
		http(GET => '/wiki/Main_Page?mwsup_test_sleep=4&token=s3cr3t-t0k3n');
		POSIX::_exit(0);
	}
	wait_until(sub { -e "$run/busy" }, 30);
	my %v;
	(undef, $v{text}) = run_cmd(mwsup_bin(), @sc);
	(undef, $v{json}) = run_cmd(mwsup_bin(), @sc, '--json');
	$v{http} = http(GET => '/mwsup-status')->{body};
	waitpid($pid, 0);
	return %v;
}
my %busy = busy_views();
like($busy{text}, qr{^\d+\s+\d+\s+\d+\s+busy\s.*GET /wiki/Main_Page$}m,
    'the plain table shows the busy worker and its request line, path only');
like($busy{text}, qr{^workers: 2 configured, 1 idle, 1 busy}m, 'and the summary counts one busy, one idle');
my ($busy_slot) = grep { $_->{state} eq 'busy' } @{ (eval { decode_json($busy{json}) } // {})->{slots} // [] };
is($busy_slot->{request} // '', 'GET /wiki/Main_Page', '--json shows the busy request by its path');
like($busy{http}, qr{"request":"GET /wiki/Main_Page"}, 'so does the status endpoint');
for my $view (sort keys %busy) {
	unlike($busy{$view}, qr/s3cr3t|token=|mwsup_test_sleep/,
	    "the $view status does not show the query string (token) of a request in flight");
}

if ($> == 0 && getpwnam('www-data')) {
	my ($urc, $uout) = run_cmd('setpriv', '--reuid=www-data', '--regid=www-data', '--clear-groups',
	    mwsup_bin(), @sc);
	is($urc, 0, 'mwsup status works as the service user (www-data)');
	like($uout, qr/^mwsup pid $srv->{pid}\b/m, 'and shows the same supervisor');
}
($rc, undef, $err) = run_cmd(mwsup_bin(), 'status', '--pid', 1);
isnt($rc, 0, 'status of a process that is not mwsup fails');
like($err, qr/not a running mwsup supervisor|Permission denied|No such file/, 'with a message saying why');

stopped_cleanly($srv);

# status.show_query: true shows the whole request-target.
set_yaml($w, 'status.show_query' => 'true');
$srv = start_mwsup($w->{config});
%busy = busy_views();
for my $view (sort keys %busy) {
	like($busy{$view}, qr{GET /wiki/Main_Page\?mwsup_test_sleep=4&token=s3cr3t-t0k3n},
	    "with status.show_query: true the $view status shows the query string");
}
stopped_cleanly($srv);
done_testing();
