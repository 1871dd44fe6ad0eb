#!/usr/bin/perl
# PHP's cycle collector in a warm worker.  It runs after a response, every
# snapshot.gc_interval requests, or sooner when the possible roots PHP has
# buffered would reach its threshold during the next request (judging by
# what the last one added): otherwise PHP collects in the middle of that
# request, walking the whole bootstrapped MediaWiki on its client's time.
# A page view here leaves ?garbage=N self-referencing objects behind (N
# possible roots); a header shows PHP's GC status as each request starts.
# A load.php startup request leaves little behind.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'snapshot.gc_interval' => 1000);
append_settings($w, <<'PHP');
$wgExtensionFunctions[] = static function () {
	$s = gc_status();
	header( "X-GC-At-Start: runs={$s['runs']} roots={$s['roots']} threshold={$s['threshold']}" );
};
$wgHooks['BeforePageDisplay'][] = static function ( $out ) {
	$n = (int)$out->getRequest()->getVal( 'garbage', 0 );
	for ( $i = 0; $i < $n; $i++ ) {
		$o = new stdClass;
		$o->self = $o;
		unset( $o );
	}
};
PHP
my $srv = start_mwsup($w->{config});

sub gc_at_start {
	my ($query) = @_;
	my $r = http(GET => "/wiki/Main_Page$query");
	is($r->{status}, 200, "a page view$query");
	my %s = ($r->{headers}{'x-gc-at-start'} // '') =~ /(\w+)=(\d+)/g;
	return \%s;
}

# Warm up: the first requests fill caches and load classes.
gc_at_start('') for 1 .. 3;
my $before = gc_at_start('?garbage=5000');
ok(defined $before->{threshold} && $before->{threshold} > 5000,
    "PHP's threshold is above what one request leaves here ($before->{threshold})");
my $after = gc_at_start('');
cmp_ok($after->{roots}, '<', 2500,
    'a request that left 5000 possible roots is followed by one that starts without them')
    or diag("GC status at the start: before $before->{roots} roots, after $after->{roots}");
cmp_ok($after->{runs}, '>', $before->{runs}, 'a collection ran in between, after the response');
my $next = gc_at_start('');
is($next->{runs}, $after->{runs}, 'small requests do not collect every time');

# Requests that each leave fewer roots than the threshold but would cross
# it within the next one: the collection comes between requests, never
# in one (the count at each start stays under the threshold minus what a
# request adds).
my $max = 0;
for (1 .. 8) {
	my $s = gc_at_start('?garbage=3000');
	$max = $s->{roots} if $s->{roots} > $max;
}
cmp_ok($max, '<', $before->{threshold} - 3000,
    'no request starts so close to the threshold that it would collect during itself');

# What a load.php startup request leaves to the collector: the
# ResourceLoader and its module objects refer to each other, and the
# worker empties the loader's module table as it drops the service, so
# they go by reference counting (before, ~3,800 possible roots per
# request, a collection after every second one).
sub load_gc {
	my $r = http(GET => '/load.php?modules=startup&only=scripts&raw=1&skin=vector');
	is($r->{status}, 200, 'load.php startup request');
	like($r->{body}, qr/mw\.loader\.register/, 'with the module registry');
	my %s = ($r->{headers}{'x-gc-at-start'} // '') =~ /(\w+)=(\d+)/g;
	return \%s;
}
load_gc() for 1 .. 2;
my @load = map { load_gc() } 1 .. 4;
my @added = map { $load[$_]{roots} - $load[$_ - 1]{roots} }
    grep { $load[$_]{runs} == $load[$_ - 1]{runs} } 1 .. $#load;
ok(@added, 'load.php requests with no collection between them') or diag(explain(\@load));
cmp_ok((sort { $b <=> $a } @added)[0] // 1e9, '<', 1000,
    'each leaves fewer than 1000 possible roots') or diag("added: @added");

log_unlike($srv, qr/PHP (?:Warning|Fatal|Deprecated)|recycling/, 'no PHP warning, no recycling');
stopped_cleanly($srv);
done_testing();
