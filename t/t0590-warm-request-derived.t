#!/usr/bin/perl
# What MediaWiki or LocalSettings.php derives from the request while it
# bootstraps must come from each request in a warm worker, as it does
# under PHP-FPM or cold: the request id (X-Request-Id, wgRequestId; an
# incoming one with $wgAllowExternalReqID), the session cookie's secure
# flag behind a TLS proxy ($wgCookieSecure 'detect').  A worker compares
# what two bootstraps for different synthetic requests leave in the
# globals: a LocalSettings.php that makes $wgSitename from the Host header
# is logged, named, and served cold, so each host gets its own name.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
my $warm = start_mwsup($w->{config});
my $cold = start_mwsup(cold_config($w));
log_like($warm, qr/warm mode: two bootstraps for different synthetic requests left the same globals/,
    'the worker compares two bootstraps and finds them alike');
log_unlike($warm, qr/depends on the request/, 'and names nothing');

# B: one request id per request.
sub ids {
	my ($srv, $n, %h) = @_;
	my (@hdr, @js);
	for (1 .. $n) {
		my $r = http(GET => '/wiki/Main_Page', {%h}, undef, { port => $srv->{port} });
		push @hdr, $r->{headers}{'x-request-id'} // '';
		push @js, ($r->{body} =~ /"wgRequestId":"([^"]*)"/)[0] // '';
	}
	return (\@hdr, \@js);
}
sub distinct { my %s = map { $_ => 1 } grep { length } @{ $_[0] }; scalar keys %s }

my ($hdr, $js) = ids($warm, 5);
is(distinct($hdr), 5, 'five requests to one warm worker carry five X-Request-Id')
	or diag("@$hdr");
is(distinct($js), 5, 'and five wgRequestId in the page');
is_deeply($js, $hdr, 'each page\'s wgRequestId is its X-Request-Id');
($hdr) = ids($cold, 3);
is(distinct($hdr), 3, 'as cold: three requests, three ids');
($hdr) = ids($warm, 2, 'X-Request-Id' => 'client-chosen-id');
isnt($hdr->[0], 'client-chosen-id', 'an incoming X-Request-Id is not used by default');

# C: the session cookie's secure flag follows each request's protocol.
sub session_cookie {
	my ($srv, $proto) = @_;
	my $r = http(GET => '/api.php?action=query&meta=tokens&type=login&format=json',
	    { 'X-Forwarded-Proto' => $proto }, undef, { port => $srv->{port} });
	my ($c) = grep { /^\w+_session=/ } @{ $r->{headers}{'set-cookie'} };
	return $c // '';
}
for my $proto (qw(https http https http)) {
	my ($c, $wc) = (session_cookie($cold, $proto), session_cookie($warm, $proto));
	like($c, qr/^\w+_session=/, "cold, $proto: a session cookie");
	like($wc, qr/^\w+_session=/, "warm, $proto: a session cookie");
	my $secure = $proto eq 'https' ? 'secure' : 'not secure';
	is($wc =~ /;\s*secure\b/i ? 'secure' : 'not secure', $secure, "warm, $proto: it is $secure");
	is($c =~ /;\s*secure\b/i ? 'secure' : 'not secure', $secure, "cold, $proto: it is $secure");
}

my @pids = worker_pids($warm);
is(scalar(@pids), 1, 'one warm worker served all of it');
log_unlike($warm, qr/recycling|PHP (?:Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($warm);
stopped_cleanly($cold);

# B with $wgAllowExternalReqID: the client's id, as cold takes it.
append_settings($w, '$wgAllowExternalReqID = true;');
$warm = start_mwsup($w->{config});
$cold = start_mwsup(cold_config($w));
for my $srv ([warm => $warm], [cold => $cold]) {
	my ($h1, $j1) = ids($srv->[1], 2, 'X-Request-Id' => 'client-chosen-id');
	is_deeply($h1, ['client-chosen-id', 'client-chosen-id'],
	    "$srv->[0], \$wgAllowExternalReqID: the incoming X-Request-Id is the request's");
	is($j1->[1], 'client-chosen-id', "$srv->[0]: and the page's wgRequestId");
	my ($h2) = ids($srv->[1], 3);
	is(distinct($h2), 3, "$srv->[0]: requests without one still get their own")
		or diag("@$h2");
	ok(!grep({ $_ eq 'client-chosen-id' } @$h2), "$srv->[0]: not the one an earlier request brought");
}
stopped_cleanly($warm);
stopped_cleanly($cold);

# D: a setting made from the request.
my $w2 = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
append_settings($w2, q{$wgSitename = 'Wiki of ' . ( $_SERVER['HTTP_HOST'] ?? 'nobody' );});
$warm = start_mwsup($w2->{config});
log_like($warm, qr/warm mode: LocalSettings\.php depends on the request: \$wgSitename differs between two synthetic requests/,
    'a $wgSitename made from the Host header is named at the start');
log_like($warm, qr/warm mode off in this worker: requests run cold/, 'and the worker serves cold');
for my $host (qw(alpha.example beta.example alpha.example)) {
	# (HTTP::Tiny makes its own Host header)
	my $r = parse_response(raw($warm->{port}, "GET /api.php?action=query&meta=siteinfo&format=json "
	    . "HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n"));
	like($r->{body}, qr/"sitename":"Wiki of \Q$host\E"/, "a request for $host gets its own sitename");
}
stopped_cleanly($warm);
done_testing();
