#!/usr/bin/perl
# The warm leak verifier reports what it is there to find.
#
# MWSUP_WARM_VERIFY makes a warm worker search every kept service's object
# graph after every request for anything of a request (t0510 and t0540 run
# with it and expect silence).  Here a site's own service, kept across
# requests (snapshot.exclude "service:MwsupTestHolder" beside the
# defaults), is made clean by a first page view and passes that check;
# then a page view with ?mwsup_test_hold=request makes a hook put that
# request's WebRequest into it, and one with ?mwsup_test_hold=user the
# request's User into another.  After each, once the worker's slot is idle
# again (its post-request work, the check included, is done), the log must
# name the service and what it holds, and the next request must get the
# service made anew, empty: a kept service found holding a request is not
# kept after all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my (undef, $dump) = run_cmd(mwsup_bin(), '--dump', '-c', '/dev/null');
my @defaults = $dump =~ /^    - (service:\S+)$/mg;
ok(scalar(grep { $_ eq 'service:MainConfig' } @defaults),
    'the default kept services are read from mwsup --dump') or diag("@defaults");
my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'jobs.enabled' => 'false',
    'snapshot.exclude' => [@defaults, 'service:MwsupTestHolder', 'service:MwsupTestUserHolder']);
append_settings($w, <<'PHP');
if ( !class_exists( 'MwsupTestHolder' ) ) {
	/** What a kept service may end up holding: anything put in it. */
	final class MwsupTestHolder {
		/** @var array */
		public $held = [];
	}
}
$wgHooks['MediaWikiServices'][] = static function ( $services ) {
	foreach ( [ 'MwsupTestHolder', 'MwsupTestUserHolder' ] as $name ) {
		$services->defineService( $name, static function () {
			return new MwsupTestHolder();
		} );
	}
};
// Every page view uses both services (so they are made, and kept, by the
// first one) and says how much they hold; ?mwsup_test_hold=request or
// =user puts this request's WebRequest or User into one of them.
$wgHooks['BeforePageDisplay'][] = static function ( $out ) {
	$services = MediaWiki\MediaWikiServices::getInstance();
	$req = $services->getService( 'MwsupTestHolder' );
	$user = $services->getService( 'MwsupTestUserHolder' );
	$hold = $out->getRequest()->getVal( 'mwsup_test_hold' );
	if ( $hold === 'request' ) {
		$req->held[] = $out->getRequest();
	} elseif ( $hold === 'user' ) {
		$user->held[] = $out->getUser();
	}
	$out->getRequest()->response()->header(
		'X-Mwsup-Test-Held: ' . count( $req->held ) . ' ' . count( $user->held ) );
};
PHP
my $srv = start_mwsup($w->{config}, env => { MWSUP_WARM_VERIFY => 1 },
    args => ['-v']);	# -v: the workers list their kept services

# The worker's requests served, once its slot is idle again (its check
# after the request is done then), or undef.
sub idle_after {
	my ($n) = @_;
	my $j;
	wait_until(sub {
		my ($rc, $out) = run_cmd(mwsup_bin(), 'status', '-c', $w->{config}, '--json');
		$j = eval { decode_json($out) } or return 0;
		my @s = @{ $j->{slots} // [] };
		return @s == 1 && $s[0]{state} eq 'idle' && $s[0]{requests} >= $n;
	}, 30) or return;
	return $j->{slots}[0]{requests};
}

sub view {
	my ($query) = @_;
	my $r = http(GET => "/wiki/Main_Page$query");
	return "$r->{status} " . ($r->{headers}{'x-mwsup-test-held'} // 'none');
}

# start_mwsup's probe was request 1.
is(view(''), '200 0 0', 'a page view makes both services, which hold nothing');
is(view(''), '200 0 0', 'and the next page view uses them as they were');
my $served = idle_after(3);
is($served, 3, 'the worker is idle after three requests');
my ($kept) = log_text($srv) =~ /services kept across requests: ([^\n]*)/;
like($kept // '', qr/(?:^| )MwsupTestHolder(?: |$)/, 'MwsupTestHolder is a kept service');
like($kept // '', qr/(?:^| )MwsupTestUserHolder(?: |$)/, 'so is MwsupTestUserHolder');
log_unlike($srv, qr/is not kept across requests/,
    'the verifier finds nothing of a request in the services while they hold none');

is(view('?mwsup_test_hold=request'), '200 1 0', 'a page view puts its WebRequest into MwsupTestHolder');
is(idle_after(4), 4, 'the worker is idle again after it');
log_like($srv, qr/warm mode: service MwsupTestHolder is not kept across requests: it holds MwsupTestHolder -> a WebRequest\b/,
    'the verifier reports the kept service holding the request, and what it holds');
is(view(''), '200 0 0', 'the next page view gets a new MwsupTestHolder, empty');

is(view('?mwsup_test_hold=user'), '200 0 1', 'a page view puts its User into MwsupTestUserHolder');
is(idle_after(6), 6, 'the worker is idle again after it');
log_like($srv, qr/warm mode: service MwsupTestUserHolder is not kept across requests: it holds MwsupTestHolder -> a User\b/,
    'the verifier reports the kept service holding the user');
is(view(''), '200 0 0', 'the next page view gets a new MwsupTestUserHolder, empty');

my @reports = log_text($srv) =~ /(service \S+ is not kept across requests)/g;
is_deeply(\@reports, ['service MwsupTestHolder is not kept across requests',
    'service MwsupTestUserHolder is not kept across requests'],
    'no other service is reported, and each of these once');
my @pids = worker_pids($srv);
is(scalar(@pids), 1, 'one worker served it all');
log_unlike($srv, qr/recycling|warm mode off|PHP (?:Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($srv);
done_testing();
