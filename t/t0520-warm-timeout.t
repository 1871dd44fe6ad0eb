#!/usr/bin/perl
# PHP's CPU-time limit in warm workers.  PHP arms one timer per PHP
# request (max_input_time at startup, max_execution_time when the script
# starts, and nothing for a max_execution_time of 0); a warm worker's PHP
# request lasts for thousands of HTTP requests, so the limit must be
# re-armed per HTTP request or it counts them all together ("Maximum
# execution time of 0 seconds exceeded" after ~10,000 requests with the
# stock max_input_time of 60).  Here max_input_time is 1 s and requests
# burn 0.7 s of CPU each: none may die of the sum.  Then with
# max_execution_time 2: each request gets its own 2 s, a set_time_limit()
# holds for its request only, and a request over its limit still dies.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true',
    'php.max_input_time' => 1, 'php.max_execution_time' => 0);
# ?burn=S spends S seconds of CPU (what the limit counts) in a page view;
# ?limit=N calls set_time_limit(N) first.  The header shows the limit the
# request started with.
append_settings($w, <<'PHP');
$wgHooks['BeforePageDisplay'][] = static function ( $out ) {
	$req = $out->getRequest();
	$req->response()->header( 'X-Time-Limit: ' . ini_get( 'max_execution_time' ) );
	if ( $req->getVal( 'limit' ) !== null ) {
		set_time_limit( (int)$req->getVal( 'limit' ) );
	}
	$cpu = static function () {
		$r = getrusage();
		return $r['ru_utime.tv_sec'] + $r['ru_stime.tv_sec'] +
			( $r['ru_utime.tv_usec'] + $r['ru_stime.tv_usec'] ) / 1e6;
	};
	$burn = (float)$req->getVal( 'burn', 0 );
	$start = $cpu();
	while ( $cpu() - $start < $burn ) {
	}
};
PHP

sub view {
	my ($q) = @_;
	return http(GET => "/index.php?title=Main_Page&$q");
}

my $srv = start_mwsup($w->{config});
for my $n (1 .. 3) {
	my $r = view('burn=0.7');
	is($r->{status}, 200, "max_input_time 1 s, request $n burns 0.7 s of CPU: 200");
}
my $r = view('limit=1&burn=0.3');
is($r->{status}, 200, 'a request that calls set_time_limit(1) and stays under it: 200');
for my $n (1 .. 2) {
	$r = view('burn=0.7');
	is($r->{status}, 200, "request $n after it burns 0.7 s: 200");
	is($r->{headers}{'x-time-limit'}, '0', '  and starts with max_execution_time 0, not 1');
}
is(scalar(my @p = worker_pids($srv)), 1, 'all served by one warm worker');
log_like($srv, qr/checkpoint: \d+ globals/, 'which bootstrapped once');
log_unlike($srv, qr/Maximum execution time|recycling|warm mode off/,
    'and no request died of a time limit');
stop_mwsup($srv);

set_yaml($w, 'php.max_execution_time' => 2);
$srv = start_mwsup($w->{config});
for my $n (1 .. 3) {
	$r = view('burn=1.2');
	is($r->{status}, 200, "max_execution_time 2 s, request $n burns 1.2 s: 200 (its own 2 s)");
	is($r->{headers}{'x-time-limit'}, '2', '  and starts with the configured limit');
}
$r = view('limit=1&burn=1.5');
is($r->{status}, 500, 'set_time_limit(1) then 1.5 s of CPU: 500');
log_like($srv, qr/Maximum execution time of 1 second exceeded/, '  PHP says the 1 s limit ran out');
$r = view('burn=1.2');
is($r->{status}, 200, 'the next request has 2 s again');
$r = view('burn=3');
is($r->{status}, 500, 'a request burning 3 s is stopped');
log_like($srv, qr/Maximum execution time of 2 seconds exceeded/, '  by the 2 s limit');
$r = view('burn=0');
is($r->{status}, 200, 'and the (recycled) worker serves the next');
stopped_cleanly($srv);
done_testing();
