#!/usr/bin/perl
# Warm workers keep some MediaWiki services across requests as they are
# (snapshot.exclude "service:Name", defaults in mwsup --dump), make the others
# once and set them back after every request (snapshot.reset, default: all
# of core's but five), and make the rest anew per request.  With one worker
# and MWSUP_WARM_VERIFY set, the worker searches the object graph of every
# kept service after every request for anything of a request (a service not
# kept, a User, a WebRequest, a session, a database connection), and that of
# every reset service, once set back, for a user, a request or a session:
# none of the defaults may hold one.  Around that:
# rights, interface language and preferences of a sysop do not reach an
# anonymous request; writes (POST) and reads alternate on SQLite; the
# client address an edit records is that request's; a hook handler that an
# extension function registers per request does not pile up; on a Serbian
# wiki, a page view in the Latin variant leaves the next in the default.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
append_settings($w, <<'PHP');
$wgGroupPermissions['*']['edit'] = true;
$wgExtensionFunctions[] = static function () {
	MediaWiki\MediaWikiServices::getInstance()->getHookContainer()->register(
		'BeforePageDisplay', static function ( $out ) {
			$out->addMeta( 'mwsup-dynamic-hook', 'ran' );
		} );
};
// ?mwsup_test_grant: the request's user gets the delete right in
// PermissionManager for as long as that object lives (the revoking
// callback is cancelled).
$wgHooks['ApiBeforeMain'][] = static function () {
	if ( RequestContext::getMain()->getRequest()->getCheck( 'mwsup_test_grant' ) ) {
		$scope = MediaWiki\MediaWikiServices::getInstance()->getPermissionManager()
			->addTemporaryUserRights( RequestContext::getMain()->getUser(), 'delete' );
		Wikimedia\ScopedCallback::cancel( $scope );
	}
};
PHP
# -v: the lists of kept and reset services are logged at debug level.
my $srv = start_mwsup($w->{config}, env => { MWSUP_WARM_VERIFY => 1 }, args => ['-v']);
my $jar = cookie_jar();

sub api {
	my ($method, $jar, %p) = @_;
	$p{format} = 'json';
	my $q = form(%p);
	my $r = $method eq 'GET'
	    ? http(GET => "/api.php?$q", undef, undef, { $jar ? (jar => $jar) : () })
	    : http(POST => '/api.php',
		{ 'Content-Type' => 'application/x-www-form-urlencoded' }, $q,
		{ $jar ? (jar => $jar) : () });
	return eval { decode_json($r->{body}) } // {};
}

# An API POST from a given loopback address (127.0.0.N): the supervisor
# passes the peer address as REMOTE_ADDR.
sub post_from {
	my ($ip, %p) = @_;
	my $body = form(%p, format => 'json');
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $w->{port},
	    LocalAddr => $ip, Proto => 'tcp', Timeout => 30) or return {};
	print $s "POST /api.php HTTP/1.1\r\nHost: 127.0.0.1:$w->{port}\r\n" .
	    "Content-Type: application/x-www-form-urlencoded\r\n" .
	    "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
	local $/;
	my $resp = <$s> // '';
	close $s;
	my (undef, $json) = split /\r\n\r\n/, $resp, 2;
	$json =~ s/^[0-9a-f]+\r\n//i if $resp =~ /chunked/i;
	return eval { decode_json($json =~ s/\r\n0\r\n.*//sr) } // {};
}

my $anon = api(GET => undef, action => 'query', meta => 'userinfo', uiprop => 'rights');
ok(exists $anon->{query}{userinfo}{anon}, 'an anonymous request first');
my $j = api(GET => $jar, action => 'query', meta => 'tokens', type => 'login');
$j = api(POST => $jar, action => 'clientlogin', username => $w->{admin_user},
    password => $w->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://127.0.0.1:$w->{port}/");
is($j->{clientlogin}{status}, 'PASS', 'the sysop logs in');
$j = api(GET => $jar, action => 'query', meta => 'userinfo', uiprop => 'rights|groups');
ok((grep { $_ eq 'delete' } @{ $j->{query}{userinfo}{rights} // [] }),
    'the sysop has the delete right (PermissionManager filled its rights cache)');
$anon = api(GET => undef, action => 'query', meta => 'userinfo', uiprop => 'rights|groups');
ok(exists $anon->{query}{userinfo}{anon}, 'the next request is anonymous');
ok(!(grep { $_ eq 'delete' } @{ $anon->{query}{userinfo}{rights} // [] }),
    'without the sysop\'s rights');
ok(!(grep { $_ eq 'sysop' } @{ $anon->{query}{userinfo}{groups} // [] }),
    'or groups');
# PermissionManager is made once and set back after each request: what a
# request leaves in it (here a right granted to the anonymous user for the
# object's life) is gone for the next.
my $granted = api(GET => undef, action => 'query', meta => 'userinfo', uiprop => 'rights',
    mwsup_test_grant => 1);
ok((grep { $_ eq 'delete' } @{ $granted->{query}{userinfo}{rights} // [] }),
    'an anonymous request granted the delete right in PermissionManager has it');
$anon = api(GET => undef, action => 'query', meta => 'userinfo', uiprop => 'rights');
ok(exists $anon->{query}{userinfo}{anon} &&
    !(grep { $_ eq 'delete' } @{ $anon->{query}{userinfo}{rights} // [] }),
    'the next anonymous request does not');

$j = api(GET => $jar, action => 'query', meta => 'tokens', type => 'csrf');
my $csrf = $j->{query}{tokens}{csrftoken} // '';
$j = api(POST => $jar, action => 'options', change => 'language=de|skin=monobook', token => $csrf);
is($j->{options}, 'success', 'the sysop chooses German and another skin');
my $r = http(GET => '/wiki/Main_Page', undef, undef, { jar => $jar });
like($r->{body}, qr/<html[^>]* lang="de"/, 'the sysop sees German');
$r = http(GET => '/wiki/Main_Page');
like($r->{body}, qr/<html[^>]* lang="en"/, 'the anonymous request after it is English');
like($r->{body}, qr/skin-vector/, 'with the default skin');
$anon = api(GET => undef, action => 'query', meta => 'userinfo', uiprop => 'options');
is($anon->{query}{userinfo}{options}{language}, 'en', 'and default preferences');
$r = http(GET => '/wiki/Main_Page', undef, undef, { jar => $jar });
like($r->{body}, qr/<html[^>]* lang="de"/, 'German again for the sysop after English');

my $title = sprintf('Warm services %d %d', time, $$);
for my $n (1 .. 3) {
	$j = api(POST => $jar, action => 'edit', title => $title, text => "Revision $n.", token => $csrf);
	is($j->{edit}{result}, 'Success', "edit $n (a POST: a write transaction)");
	$r = http(GET => '/wiki/' . ($title =~ s/ /_/gr));
	like($r->{body}, qr/Revision $n\./, "the GET after it shows revision $n");
}

for my $ip ('127.0.0.2', '127.0.0.3') {
	$j = post_from($ip, action => 'edit', title => "$title by IP", appendtext => "\nFrom $ip.",
	    token => '+\\');
	is($j->{edit}{result}, 'Success', "an anonymous edit from $ip");
}
$j = api(GET => undef, action => 'query', list => 'recentchanges',
    rctitle => "$title by IP", rcprop => 'user', rclimit => 10);
is_deeply([ sort map { $_->{user} } @{ $j->{query}{recentchanges} // [] } ],
    [ '127.0.0.2', '127.0.0.3' ], 'each edit records its own client address');

for (1 .. 3) {
	$r = http(GET => '/wiki/Main_Page');
}
my $hooks = () = $r->{body} =~ /name="mwsup-dynamic-hook"/g;
is($hooks, 1, 'a hook handler registered per request runs once, not once per earlier request');

my $log = log_text($srv);
my ($kept) = $log =~ /services kept across requests: ([^\n]*)/;
my ($nkept, $nreset, $nmade) =
    $log =~ /warm mode: services: (\d+) kept, (\d+) reset, (\d+) made per request\n/;
my @listed = map { scalar(() = join(' ', $log =~ /services $_: ([^\n]*)/g) =~ /\S+/g) }
    'kept across requests', 'reset after each request', 'made per request';
is_deeply(\@listed, [ $nkept // -1, $nreset // -1, $nmade // -1 ],
    'with -v, the one-line summary counts what the lists name');
ok(defined $kept && $kept =~ /\bLocalisationCache\b/ && $kept =~ /\bMainConfig\b/,
    'the worker keeps the default services') or diag($kept // 'no list logged');
for my $s (qw(LanguageConverterFactory LanguageFactory ContentLanguage MagicWordFactory)) {
	like($kept // '', qr/\b$s\b/, "$s is kept");
}
for my $s (qw(PermissionManager UserGroupManager UserGroupManagerFactory UserOptionsManager
    UserOptionsLookup DBLoadBalancerFactory LinkCache SpecialPageFactory)) {
	unlike($kept // '', qr/\b$s\b/, "$s is made anew for each request");
}
log_unlike($srv, qr/is not kept across requests/,
    'no kept service holds anything of a request after any of these requests');
my $reset = join ' ', $log =~ /services reset after each request: ([^\n]*)/g;
for my $s (qw(PermissionManager UserGroupManager UserOptionsManager LinkCache
    SpecialPageFactory Parser ParserFactory MessageCache MainWANObjectCache RevisionStore)) {
	like($reset // '', qr/(?:^| )\Q$s\E(?: |$)/, "$s is made once and set back after each request");
}
for my $s (qw(AuthManager CommentFormatter UrlUtils WRStatsFactory)) {
	unlike($reset // '', qr/(?:^| )\Q$s\E(?: |$)/, "$s (made from the request) is not");
}
log_unlike($srv, qr/is not reset but made for each request/,
    'no service of core is found holding anything of a request after being set back');
my @pids = worker_pids($srv);
is(scalar(@pids), 1, 'all of it served by one worker');
log_unlike($srv, qr/recycling|PHP (Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($srv);

# --- language variants: the converters do not outlive a request ------------
#
# A Serbian wiki (Cyrillic and Latin variants).  LanguageConverterFactory
# is kept, its converters are not: a converter remembers the variant it
# chose for its request (?variant=, a user's preference), so a request
# asking for sr-el must leave the next one the default.
my $sr = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
append_settings($sr, q{$wgLanguageCode = 'sr';});
my $srsrv = start_mwsup($sr->{config}, env => { MWSUP_WARM_VERIFY => 1 }, args => ['-v']);
sub user_variant {
	my ($query) = @_;
	my $r = http(GET => "/wiki/Main_Page$query");
	my ($v) = $r->{body} =~ /"wgUserVariant":"([^"]+)"/;
	return $v // "none (status $r->{status})";
}
is(user_variant(''), 'sr', 'a Serbian page view gets the default variant');
is(user_variant('?variant=sr-el'), 'sr-el', 'one asking for the Latin variant gets it');
is(user_variant(''), 'sr', 'the next one gets the default again');
is(user_variant('?variant=sr-ec'), 'sr-ec', 'one asking for Cyrillic gets it');
is(user_variant(''), 'sr', 'and the next the default');
like(http(GET => '/wiki/Main_Page?variant=sr-el')->{body}, qr/<html[^>]* lang="sr-Latn"/,
    'the Latin page is marked as Latin');
unlike(http(GET => '/wiki/Main_Page')->{body}, qr/<html[^>]* lang="sr-Latn"/,
    'the next page is not');
($kept) = log_text($srsrv) =~ /services kept across requests: ([^\n]*)/;
like($kept // '', qr/\bLanguageConverterFactory\b/, 'with the converter factory kept');
log_unlike($srsrv, qr/is not kept across requests/, 'and nothing of a request in what is kept');
log_unlike($srsrv, qr/recycling|PHP (Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($srsrv);

# --- each request's own protocol ------------------------------------------
#
# UrlUtils is kept, and is made with its request's protocol: the one
# MediaWiki gives URLs expanded "in the current protocol" (siteinfo's base)
# when $wgServer names none.  Behind a TLS proxy (X-Forwarded-Proto) and
# over plain HTTP on one wiki, each request gets its own.
my $pr = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true',
    'snapshot.reset' => [qw(core NoSuchService CommentFormatter)]);
append_settings($pr, q{$wgServer = preg_replace( '!^https?:!', '', $wgServer );});
my $prsrv = start_mwsup($pr->{config});
sub base_url {
	my (%h) = @_;
	my $r = http(GET => '/api.php?action=query&meta=siteinfo&format=json', \%h);
	my $j = eval { decode_json($r->{body}) } // {};
	return $j->{query}{general}{base} // "none (status $r->{status})";
}
like(base_url(), qr{^http://}, 'a plain request gets http URLs');
like(base_url('X-Forwarded-Proto' => 'https'), qr{^https://},
    'one through a TLS proxy right after it gets https URLs');
like(base_url(), qr{^http://}, 'and the next plain one http again');
# The snapshot.reset list of that wiki names a service that does not exist
# and one made from the request.
log_like($prsrv, qr/snapshot\.reset: no service NoSuchService/,
    'a name in snapshot.reset that is no service is logged');
log_like($prsrv, qr/service CommentFormatter is not reset but made for each request: it is made with the user's language/,
    'a service made from the request is made per request even when named, and why is logged');
log_unlike($prsrv, qr/recycling|PHP (Warning|Fatal)/, 'no warning, no recycling');
# Without -v a worker start logs one line about services, not the lists.
{
	my $l = log_text($prsrv);
	my $n = () = $l =~ /warm mode: services: \d+ kept, \d+ reset, \d+ made per request /g;
	is($n, 1, 'without -v: one summary line of the services');
	unlike($l, qr/services (?:kept across|reset after each|made per) request/,
	    'and no list of them');
}
stopped_cleanly($prsrv);

# --- a database that is not kept ------------------------------------------
#
# With a replica (here the same SQLite file again), the load balancer is
# made per request: then so are the reset services (they may hold it), and
# the worker says so once instead of making and recording them for
# nothing.  Logins and anonymous requests still alternate correctly.
my $lb = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
append_settings($lb, <<'PHP');
$wgDBservers = [];
foreach ( [ 1, 0 ] as $load ) {
	$wgDBservers[] = [ 'type' => 'sqlite', 'host' => '', 'dbname' => $wgDBname,
		'dbDirectory' => $wgSQLiteDataDir, 'user' => '', 'password' => '',
		'load' => $load, 'flags' => 0 ];
}
PHP
my $lbsrv = start_mwsup($lb->{config}, env => { MWSUP_WARM_VERIFY => 1 });
my $lbjar = cookie_jar();
$j = api(GET => $lbjar, action => 'query', meta => 'tokens', type => 'login');
$j = api(POST => $lbjar, action => 'clientlogin', username => $lb->{admin_user},
    password => $lb->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://127.0.0.1:$lb->{port}/");
is($j->{clientlogin}{status}, 'PASS', 'with a replica, the sysop logs in');
for (1 .. 2) {
	$j = api(GET => $lbjar, action => 'query', meta => 'userinfo');
	is($j->{query}{userinfo}{name}, $lb->{admin_user}, 'the sysop\'s requests are the sysop\'s');
	$anon = api(GET => undef, action => 'query', meta => 'userinfo');
	ok(exists $anon->{query}{userinfo}{anon}, 'and the anonymous ones anonymous');
}
log_like($lbsrv, qr/services of snapshot\.reset are made for each request: the database is not a single SQLite or MySQL server/,
    'the worker says the reset services are made per request, and why');
log_unlike($lbsrv, qr/is not (kept across requests|reset but)/, 'nothing of a request in what is kept');
log_unlike($lbsrv, qr/recycling|PHP (Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($lbsrv);
done_testing();
