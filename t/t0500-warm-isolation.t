#!/usr/bin/perl
# Warm workers (snapshot.enabled) with a pool of one worker, so every request
# reuses the PHP state the previous one left: nothing of one request may
# reach the next.  A logged-in user with a German interface edits a page;
# the next anonymous request is English, anonymous and cookie-free.  A
# request that changes a global, a class static, the status, headers and
# cookies (through a hook in LocalSettings.php) leaves none of it behind.
# With MWSUP_TEST_CACHE=on (t0549) the page cache is on too: A is never
# answered from it, and what it keeps for anonymous readers has nothing
# of A.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
my $cache = test_cache_on();
append_settings($w, <<'PHP');
class MwsupLeakProbe {
	public static $state = 'clean';

	/** Counts its calls in a method's static variable. */
	public static function calls(): int {
		static $n = 0;
		return ++$n;
	}
}
/** The same in a plain function, with an object kept in it. */
function mwsupLeakProbeUser( $user ) {
	static $seen = null;
	$before = $seen;
	$seen = $user->getName();
	return $before ?? 'nobody';
}
/** Used once by the bootstrap: its value then is the starting point. */
function mwsupLeakProbeBoot() {
	static $v = 'declared';
	if ( func_num_args() ) {
		$v = func_get_arg( 0 );
	}
	return $v;
}
mwsupLeakProbeBoot( 'set at bootstrap' );
$wgHooks['BeforePageDisplay'][] = static function ( $out ) {
	$req = $out->getRequest();
	if ( $req->getVal( 'dirty' ) ) {
		global $wgSitename;
		$wgSitename = 'Hijacked Sitename';
		MwsupLeakProbe::$state = 'dirty';
		$req->response()->header( 'X-Mwsup-Dirty: yes' );
		$req->response()->setCookie( 'dirtycookie', 'yes' );
	}
	$out->addMeta( 'mwsup-probe', MwsupLeakProbe::$state );
	$out->addMeta( 'mwsup-calls', (string)MwsupLeakProbe::calls() );
	$out->addMeta( 'mwsup-previous-user', mwsupLeakProbeUser( $out->getUser() ) );
	$out->addMeta( 'mwsup-boot', mwsupLeakProbeBoot() );
	if ( $req->getVal( 'dirty' ) ) {
		mwsupLeakProbeBoot( 'changed by a request' );
	}
};
PHP
my $srv = start_mwsup($w->{config});
log_like($srv, qr/checkpoint: \d+ globals/, 'the worker bootstraps MediaWiki once and takes a checkpoint');
my $jar = cookie_jar();

sub api {
	my ($method, %p) = @_;
	$p{format} = 'json';
	my $q = form(%p);
	my $r = $method eq 'GET'
	    ? http(GET => "/api.php?$q", undef, undef, { jar => $jar })
	    : http(POST => '/api.php',
		{ 'Content-Type' => 'application/x-www-form-urlencoded' }, $q,
		{ jar => $jar });
	return (eval { decode_json($r->{body}) } // {}, $r);
}

sub anon_page {
	my $r = http(GET => '/wiki/Main_Page');
	is($r->{status}, 200, "$_[0]: status 200");
	return $r;
}

my ($j) = api(GET => action => 'query', meta => 'tokens', type => 'login');
($j) = api(POST => action => 'clientlogin', username => $w->{admin_user},
    password => $w->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://127.0.0.1:$w->{port}/");
is($j->{clientlogin}{status}, 'PASS', 'user A logs in');
($j) = api(GET => action => 'query', meta => 'tokens', type => 'csrf');
my $csrf = $j->{query}{tokens}{csrftoken} // '';
($j) = api(POST => action => 'options', change => 'language=de', token => $csrf);
is($j->{options}, 'success', 'user A chooses a German interface');
my $title = sprintf('Warm isolation %d %d', time, $$);
($j) = api(POST => action => 'edit', title => $title, text => 'Edited by A.', token => $csrf);
is($j->{edit}{result}, 'Success', 'user A edits a page');

my $r = http(GET => '/wiki/Main_Page', undef, undef, { jar => $jar });
like($r->{body}, qr/<html[^>]* lang="de"/, 'A sees the wiki in German');
like($r->{body}, qr/"wgUserName":"\Q$w->{admin_user}\E"/, 'A sees the page as A');
like($r->{body}, qr/name="mwsup-calls" content="1"/,
    'a function\'s static variable counts one call in this request');
is($r->{headers}{'x-cache'}, 'pass', 'the page cache passes A\'s request')
	if $cache;

$r = anon_page('the next request without cookies');
is($r->{headers}{'x-cache'}, 'miss',
    'it is made by the worker that served A (a miss), and stored') if $cache;
like($r->{body}, qr/<html[^>]* lang="en"/, 'is in the wiki default language, not A\'s');
unlike($r->{body}, qr/"wgUserName":"\Q$w->{admin_user}\E"/, 'is not shown as A');
like($r->{body}, qr/"wgUserName":null/, 'is anonymous');
unlike($r->{body}, qr/"wgUserGroups":\[[^\]]*sysop/, 'has none of A\'s groups');
like($r->{body}, qr/name="mwsup-calls" content="1"/,
    'a method\'s static variable starts again from its default');
like($r->{body}, qr/name="mwsup-previous-user" content="nobody"/,
    'a function\'s static variable does not remember A');
is(scalar(@{ $r->{headers}{'set-cookie'} }), 0, 'and gets no cookie (no session of A)');
($j) = (decode_json(http(GET => '/api.php?action=query&meta=userinfo&uiprop=rights|options&format=json')->{body}));
ok(exists $j->{query}{userinfo}{anon}, 'the API sees an anonymous user after A');
ok(!grep({ $_ eq 'delete' } @{ $j->{query}{userinfo}{rights} // [] }), 'without A\'s rights');
is($j->{query}{userinfo}{options}{language}, 'en', 'with default preferences');

$r = http(GET => '/wiki/Main_Page?dirty=1');
is($r->{headers}{'x-mwsup-dirty'}, 'yes', 'a request can set a header through a hook');
like($r->{body}, qr/content="dirty"/, 'and change a class static');
$r = anon_page('the request after it');
ok(!exists $r->{headers}{'x-mwsup-dirty'}, 'does not get the header of the one before');
is(scalar(@{ $r->{headers}{'set-cookie'} }), 0, 'nor its cookie');
like($r->{body}, qr/content="clean"/, 'sees the class static as declared');
like($r->{body}, qr{<title>\Q$w->{sitename}\E</title>}, 'and $wgSitename as configured');
like($r->{body}, qr/name="mwsup-boot" content="set at bootstrap"/,
    'and a function static as the bootstrap left it, not as the request before changed it');

$r = http(GET => '/wiki/No_such_page_here');
is($r->{status}, 404, 'a missing page answers 404');
$r = http(GET => '/index.php?title=Special:Random');
is($r->{status}, 302, 'Special:Random redirects');
$r = anon_page('after a 404 and a redirect');
ok(!exists $r->{headers}{location}, 'no Location sticks');

$r = http(GET => '/api.php?action=query&meta=siteinfo&format=json');
is($r->{status}, 200, 'api.php answers');
$r = http(GET => '/load.php?modules=startup&only=scripts&skin=vector');
is($r->{status}, 200, 'load.php (no session) answers');
$r = http(GET => '/rest.php/v1/page/Main_Page');
is($r->{status}, 200, 'rest.php answers');
$r = anon_page('index.php after api, load and rest entry points');
like($r->{body}, qr/"wgPageName":"Main_Page"/, 'renders the page');

if ($cache) {
	# Everything asked anonymously above, again: what comes from the
	# cache has nothing of A; A still gets his own page, never an entry.
	my $hits = 0;
	for my $u ('/wiki/Main_Page', '/wiki/No_such_page_here',
	    '/api.php?action=query&meta=siteinfo&format=json',
	    '/load.php?modules=startup&only=scripts&skin=vector',
	    '/rest.php/v1/page/Main_Page') {
		$r = http(GET => $u);
		next unless ($r->{headers}{'x-cache'} // '') eq 'hit';
		$hits++;
		unlike($r->{body}, qr/\Q$w->{admin_user}\E|lang="de"/,
		    "the entry of $u holds nothing of A");
	}
	cmp_ok($hits, '>=', 2, "anonymous answers were served from the cache ($hits)");
	$r = http(GET => '/wiki/Main_Page', undef, undef, { jar => $jar });
	is($r->{headers}{'x-cache'}, 'pass', 'A asks again: passed');
	like($r->{body}, qr/"wgUserName":"\Q$w->{admin_user}\E"/,
	    'and sees the page as A, not the stored one');
	$r = http(GET => '/wiki/Main_Page?dirty=1');
	isnt($r->{headers}{'x-cache'}, 'hit',
	    'an answer that set a cookie was not stored');
	is(scalar(@{ $r->{headers}{'set-cookie'} }), 1, 'it sets its cookie again');
}

my @pids = worker_pids($srv);
is(scalar(@pids), 1, 'all of it served by one worker');
log_unlike($srv, qr/recycling|PHP (Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($srv);
done_testing();
