#!/usr/bin/perl
# The isolation checks of t0500 (a logged-in user with a German interface,
# then anonymous requests on the same warm worker) with the page cache on,
# as tools/mkwiki makes a wiki: the same file, run with MWSUP_TEST_CACHE=on
# (t/lib/MwTest.pm, wiki()).  A logged-in user is never answered from the
# cache, and what it keeps for anonymous readers, made by the worker right
# after the logged-in user's requests, holds nothing of that user.
# t0550 is not run again: its views are all of different URLs, each a
# miss, so the cache would change nothing there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

$ENV{MWSUP_TEST_CACHE} = 'on';
subtest 't0500-warm-isolation.t with the page cache on' => sub {
	my $rc = do "$FindBin::Bin/t0500-warm-isolation.t";
	die "t0500-warm-isolation.t: $@" if $@;
};
done_testing();
