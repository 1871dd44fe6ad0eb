#!/usr/bin/perl
# OPcache is on in workers, warm and cold, and keeps what it compiled from
# one request to the next.
#
# OPcache starts only under SAPI names on its allow-list (worker/sapi.c
# starts Zend extensions under one); without it a page view costs ~10x the
# CPU.  A hook in LocalSettings.php reports, in a header of every page view,
# what opcache_get_status() says in the worker that served it: enabled,
# whether MediaWiki's own includes/MediaWiki.php (and, cold, the entry
# script index.php) is cached, and the hit and miss counters.  With one
# worker, a second and third identical page view must compile nothing new
# (misses unchanged), in a warm worker (snapshot.enabled: true, the
# default) and in a cold one, where the scripts every request includes
# again must come from the cache (hits grow).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $HOOK = <<'PHP';
$wgHooks['BeforePageDisplay'][] = static function ( $out ) {
	global $IP;
	$s = function_exists( 'opcache_get_status' ) ? opcache_get_status( false ) : false;
	$out->getRequest()->response()->header( 'X-Mwsup-Test-Opcache: ' . json_encode( [
		'sapi' => PHP_SAPI,
		'enabled' => is_array( $s ) && $s['opcache_enabled'],
		'mediawiki' => function_exists( 'opcache_is_script_cached' )
			&& opcache_is_script_cached( "$IP/includes/MediaWiki.php" ),
		'index' => function_exists( 'opcache_is_script_cached' )
			&& opcache_is_script_cached( "$IP/index.php" ),
		'hits' => is_array( $s ) ? $s['opcache_statistics']['hits'] : -1,
		'misses' => is_array( $s ) ? $s['opcache_statistics']['misses'] : -1,
		'scripts' => is_array( $s ) ? $s['opcache_statistics']['num_cached_scripts'] : -1,
	] ) );
};
PHP

sub opcache_of {
	my $r = http(GET => '/wiki/Main_Page');
	my $h = $r->{headers}{'x-mwsup-test-opcache'};
	my $j = defined $h ? eval { decode_json($h) } : undef;
	return $j // { status => $r->{status}, header => $h // 'none' };
}

for my $mode (qw(warm cold)) {
	my $w = wiki('pool.workers' => 1, 'jobs.enabled' => 'false',
	    'snapshot.enabled' => $mode eq 'warm' ? 'true' : 'false');
	append_settings($w, $HOOK);
	my $srv = start_mwsup($w->{config});
	my @s = map { opcache_of() } 1 .. 3;
	is($s[0]{sapi}, 'mwworker', "$mode: the page is run by a worker (PHP_SAPI mwworker)")
		or diag(explain($s[0]));
	ok($s[0]{enabled}, "$mode: opcache_get_status() says OPcache is enabled");
	ok($s[0]{mediawiki}, "$mode: MediaWiki's includes/MediaWiki.php is in OPcache");
	if ($mode eq 'cold') {
		ok($s[0]{index}, 'cold: so is the entry script, index.php, which runs for each request');
	}
	cmp_ok($s[0]{scripts} // -1, '>=', 100, "$mode: hundreds of scripts are cached (" . ($s[0]{scripts} // '?') . ')');
	# A view may take a path the earlier ones did not (a deferred update,
	# a cache entry expiring) and compile a file or two; without the
	# cache every one of its ~1,000 files would be compiled again.
	cmp_ok(($s[2]{misses} // 1e9) - ($s[1]{misses} // 0), '<=', 3,
	    "$mode: the third page view compiles next to nothing (misses " . ($s[1]{misses} // '?')
	    . ' -> ' . ($s[2]{misses} // '?') . ')');
	if ($mode eq 'cold') {
		# A warm worker includes nothing per request once its classes
		# are loaded (the bootstrap's code is what runs), so only a
		# cold one shows hits growing.
		cmp_ok($s[2]{hits} // -1, '>', $s[1]{hits} // -1,
		    'cold: each page view includes MediaWiki from the cache (hits '
		    . ($s[1]{hits} // '?') . ' -> ' . ($s[2]{hits} // '?') . ')');
	}
	my @pids = worker_pids($srv);
	is(scalar(@pids), 1, "$mode: one worker served them");
	log_unlike($srv, qr/PHP (?:Warning|Fatal)|recycling/, "$mode: no warning, no recycling");
	stopped_cleanly($srv);
}
done_testing();
