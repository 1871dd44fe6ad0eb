#!/usr/bin/perl
# The HTTP status endpoint: off unless status.path is set; JSON at the path
# and Prometheus text at PATH/metrics; the counts match what was served (N
# requests in, N counted, the latency histogram consistent); a client not in
# status.allow gets 403 and the refusal is logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1);
my $srv = start_mwsup($w->{config});
my $r = http(GET => '/mwsup-status');
is($r->{status}, 404, 'without status.path there is no status endpoint');
stop_mwsup($srv);

set_yaml($w, 'status.path' => '/mwsup-status', 'status.allow' => [ '127.0.0.1', '::1/128' ]);
$srv = start_mwsup($w->{config});
# start_mwsup's probe ("GET /", answered by the worker) is counted when the
# worker reports done, which may trail its answer: wait for it.
my $base = wait_until(sub {
	my $x = decode_json(http(GET => '/mwsup-status')->{body});
	$x->{php} >= 1 ? $x : undef;
}, 10);
ok($base, 'GET /mwsup-status answers JSON');
my $n = 0;
for (1 .. 4) { $n++ if http(GET => '/api.php?action=query&meta=siteinfo&format=json')->{status} == 200 }
for (1 .. 3) { $n++ if http(GET => '/resources/assets/poweredby_mediawiki_88x31.png')->{status} == 200 }
is($n, 7, 'seven requests answered 200');
my $calls = 0;	# status requests after the base one (each is a 2xx)
my $j = wait_until(sub {
	$calls++;
	my $x = decode_json(http(GET => '/mwsup-status')->{body});
	$x->{php} - $base->{php} >= 4 ? $x : undef;
}, 10);
# the first status request itself counts too (answered by the supervisor)
is($j->{php} - $base->{php}, 4, 'JSON: four answered by the worker');
# A status response is counted once it is written, so the one that read
# $j is not in it, the base one and the others in between are.
is($j->{by_class}{'2xx'} - $base->{by_class}{'2xx'}, 7 + $calls, 'JSON: the 2xx count grew by the seven and the status requests in between');
is($j->{workers}, 1, 'JSON: the pool size');

$r = http(GET => '/mwsup-status/metrics');
is($r->{status}, 200, 'GET /mwsup-status/metrics answers');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in the Prometheus text format');
my %m;
for (split /\n/, $r->{body}) {
	next if /^#/;
	my ($k, $v) = /^(\S+) (\S+)$/ or do { fail("a metrics line parses: $_"); next };
	$m{$k} = $v;
}
ok(exists $m{'mwsup_php_responses_total'}, 'it has the worker response counter');
is($m{'mwsup_php_responses_total'}, $j->{php}, 'which agrees with the JSON');
is($m{'mwsup_workers{state="idle"}'}, 1, 'one worker idle');
is($m{'mwsup_queue_length'}, 0, 'nothing queued');
my $count = $m{'mwsup_request_duration_seconds_count'};
cmp_ok($count // 0, '>=', 7, 'the duration histogram counts the requests so far');
is($m{'mwsup_request_duration_seconds_bucket{le="+Inf"}'} // 'missing', $count // 'no count',
    'the histogram\'s +Inf bucket equals its count');
my $resp = 0;
$resp += $m{$_} for grep { /^mwsup_responses_total/ } keys %m;
cmp_ok($count, '<=', $resp, 'every observed duration belongs to a counted response');
my @le = map { $m{"mwsup_request_duration_seconds_bucket{le=\"$_\"}"} } qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30);
is(scalar(grep { defined } @le), 12, 'the histogram has its twelve buckets');
ok(!grep({ ($le[$_] // 0) > ($le[$_ + 1] // -1) } 0 .. $#le - 1), 'the buckets are cumulative');

stop_mwsup($srv);
set_yaml($w, 'status.allow' => [ '10.0.0.0/8' ]);
$srv = start_mwsup($w->{config});
$r = http(GET => '/mwsup-status');
is($r->{status}, 403, 'a client outside status.allow gets 403');
unlike($r->{body}, qr/"pid"/, 'and no figures');
is(http(GET => '/mwsup-status/metrics')->{status}, 403, 'the metrics too');
log_like($srv, qr/status endpoint refused to 127\.0\.0\.1/, 'the refusal is logged with the client address');
stopped_cleanly($srv);
done_testing();
