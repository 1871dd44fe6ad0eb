#!/usr/bin/perl
# The fuzz targets (fuzz/): each is built with clang (libFuzzer, ASan,
# UBSan), replays its seed corpus (fuzz/corpus/NAME, where every crash
# found so far is kept as a regression case) and then fuzzes for a bounded
# time, MWSUP_FUZZ_SECONDS (default 30; longer runs belong to a
# fuzzing session, not to every test run).  A crash, leak or sanitizer report
# fails the test and leaves the input under t/tmp for replay.
#
# The targets are their own sanitizer builds, so this runs once, against
# the normal build, and says so when skipped in the ASan run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

plan skip_all => 'the fuzz targets are sanitizer builds of their own; run once, with the normal build'
	if build_dir() =~ /asan/;
plan skip_all => 'clang is not installed (tools/deps --test installs it)'
	unless grep { -x "$_/clang" } split /:/, $ENV{PATH};

my $repo = repo_dir();
my $secs = $ENV{MWSUP_FUZZ_SECONDS} // 30;
my ($rc, $out, $err) = run_cmd("$repo/fuzz/build");
is($rc, 0, 'fuzz/build builds the fuzz targets') or diag($err);

for my $t ([ config => 'config.dict' ], [ http => 'http.dict' ], [ proxy => 'proxy.dict' ],
    [ reqbuild => 'reqbuild.dict' ]) {
	my ($name, $dict) = @$t;
	my $bin = "$repo/fuzz/out/${name}_fuzz";
	my $work = test_dir() . "/$name";
	mkdir $work;
	mkdir "$work/corpus";
	my ($frc, undef, $ferr) = run_cmd($bin, "-max_total_time=$secs",
	    '-close_fd_mask=2', '-timeout=10', '-rss_limit_mb=2048',
	    "-dict=$repo/fuzz/$dict", "-artifact_prefix=$work/",
	    "$work/corpus", "$repo/fuzz/corpus/$name");
	my @crashes = glob("$work/crash-* $work/leak-* $work/timeout-* $work/oom-*");
	ok($frc == 0 && !@crashes, "$name: ${secs}s of fuzzing (after the seed corpus) find no crash, leak or hang")
		or diag("exit $frc; inputs kept: @crashes\n" . join("\n", (split /\n/, $ferr)[-30 .. -1]));
	my ($runs) = $ferr =~ /Done (\d+) runs/;
	ok(($runs // 0) > 0, "$name: the fuzzer ran (" . ($runs // 0) . " inputs)");
}
done_testing();
