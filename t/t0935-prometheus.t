#!/usr/bin/perl
# `mwsup status --prometheus`: the Prometheus text exposition format (0.0.4),
# parsed strictly, with exactly the metric families, types and label sets
# that dashboards are built on, and values that agree with --json and with
# what was served.  The HTTP endpoint's PATH/metrics gives the same
# families (t0930 checks its counts).
#
# The parser below takes the format's grammar: "# HELP name text" and
# "# TYPE name type" at most once per family and before its samples, a
# family's samples together, sample lines "name{label="value",...} value"
# with valid names and escapes, histogram series as name_bucket (with le,
# ascending, cumulative, ending in +Inf equal to name_count), name_sum and
# name_count, and every line ending in a newline.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LNAME = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $VALUE = qr/[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN/;

# parse_exposition($text): (\%families, \@errors).  A family: type, help,
# samples => [[name, {labels}, value], ...].
sub parse_exposition {
	my ($text) = @_;
	my (%fam, @err, %closed, %series);
	my $current = '';
	push @err, 'the text does not end with a newline' if length $text && $text !~ /\n\z/;
	my $family_of = sub {
		my ($n) = @_;
		return $n if $fam{$n};
		(my $base = $n) =~ s/_(?:bucket|sum|count)$//;
		return $base if $fam{$base} && $fam{$base}{type} =~ /^(?:histogram|summary)$/;
		return $n;
	};
	my $ln = 0;
	for my $line (split /\n/, $text) {
		$ln++;
		if ($line =~ /^#\s*(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/) {
			my ($kw, $n, $rest) = ($1, $2, $3 // '');
			push @err, "line $ln: bad metric name $n" unless $n =~ /^$NAME$/;
			if ($kw eq 'TYPE') {
				push @err, "line $ln: bad type $rest" unless $rest =~ /^(?:counter|gauge|histogram|summary|untyped)$/;
				push @err, "line $ln: a second TYPE for $n" if defined $fam{$n}{type};
				push @err, "line $ln: TYPE of $n after its samples" if @{ $fam{$n}{samples} // [] };
				$fam{$n}{type} = $rest;
			} else {
				push @err, "line $ln: a second HELP for $n" if defined $fam{$n}{help};
				push @err, "line $ln: bad escape in HELP of $n" if $rest =~ /\\[^\\n]/;
				$fam{$n}{help} = $rest;
			}
			$fam{$n}{samples} //= [];
			next;
		}
		next if $line =~ /^#/;	# a comment
		push @err, "line $ln: empty line" if $line eq '';
		next if $line eq '';
		my ($n, $lab, $v) = $line =~ /^($NAME)(?:\{(.*)\})? ($VALUE)(?: -?\d+)?$/
			or do { push @err, "line $ln: not a sample: $line"; next };
		my %labels;
		if (defined $lab) {
			my $l = $lab;
			while (length $l) {
				$l =~ s/^($LNAME)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)//
					or do { push @err, "line $ln: bad labels {$lab}"; last };
				push @err, "line $ln: label $1 twice" if exists $labels{$1};
				$labels{$1} = $2;
			}
		}
		my $f = $family_of->($n);
		push @err, "line $ln: sample $n has no TYPE before it" unless defined $fam{$f}{type};
		push @err, "line $ln: samples of $f are not together" if $closed{$f};
		$closed{$current} = 1 if length $current && $current ne $f;
		$current = $f;
		my $key = join("\0", $n, map { "$_=$labels{$_}" } sort keys %labels);
		push @err, "line $ln: series $n {$lab} twice" if $series{$key}++;
		push @{ $fam{$f}{samples} }, [$n, \%labels, $v];
	}
	for my $f (sort keys %fam) {
		push @err, "$f has no HELP" unless defined $fam{$f}{help};
		push @err, "$f has no TYPE" unless defined $fam{$f}{type};
		push @err, "$f has no sample" unless @{ $fam{$f}{samples} };
		next unless ($fam{$f}{type} // '') eq 'histogram';
		my @b = grep { $_->[0] eq "${f}_bucket" } @{ $fam{$f}{samples} };
		my ($count) = map { $_->[2] } grep { $_->[0] eq "${f}_count" } @{ $fam{$f}{samples} };
		my @sum = grep { $_->[0] eq "${f}_sum" } @{ $fam{$f}{samples} };
		push @err, "$f: no _sum" unless @sum == 1;
		push @err, "$f: no _count" unless defined $count;
		push @err, "$f: a bucket without le" if grep { !defined $_->[1]{le} } @b;
		push @err, "$f: the last bucket is not le=\"+Inf\"" unless @b && ($b[-1][1]{le} // '') eq '+Inf';
		for my $i (1 .. $#b) {
			my ($p, $q) = ($b[$i - 1], $b[$i]);
			my $num = sub { $_[0] eq '+Inf' ? 9**9**9 : $_[0] };
			push @err, "$f: le not ascending at $q->[1]{le}" unless $num->($p->[1]{le}) < $num->($q->[1]{le});
			push @err, "$f: buckets not cumulative at le=$q->[1]{le}" unless $p->[2] <= $q->[2];
		}
		push @err, "$f: +Inf bucket $b[-1][2] != _count $count"
			if @b && defined $count && $b[-1][2] != $count;
	}
	return (\%fam, \@err);
}

# The families and their types, and the labels of the labelled ones.
my %WANT = (
	mwsup_responses_total => 'counter',
	mwsup_request_duration_seconds => 'histogram',
	mwsup_workers => 'gauge',
	(map { ("mwsup_$_" => 'counter') } qw(php_responses_total static_responses_total
	    worker_starts_total worker_deaths_total worker_recycles_total timeouts_total
	    rejected_total reloads_total jobs_run_total jobs_failed_total job_slices_total
	    job_slice_errors_total jobs_recycled_total jobs_abandoned_total
	    cache_hits_total cache_misses_total cache_pass_method_total
	    cache_pass_auth_total cache_pass_cookie_total cache_pass_scheme_total
	    cache_stored_total
	    cache_not_stored_total cache_purges_total cache_purged_total
	    cache_evictions_total cache_coalesced_total zcache_hits_total
	    zcache_misses_total)),
	(map { ("mwsup_$_" => 'gauge') } qw(jobs_queued jobs_claimed jobs_delayed jobs_abandoned
	    queue_length connections generation workers_configured uptime_seconds
	    cache_entries cache_bytes cache_size_bytes zcache_entries zcache_bytes)),
);
my @CLASSES = qw(1xx 2xx 3xx 4xx 5xx other);
my @STATES = qw(starting idle busy jobs exiting);
my @LE = qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 +Inf);

my $w = wiki('pool.workers' => 2, 'jobs.enabled' => 'false');
set_yaml($w, 'status.path' => '/mwsup-status');
my $srv = start_mwsup($w->{config});
my @sc = (mwsup_bin(), 'status', '-c', $w->{config});
my $n200 = 0;
for (1 .. 3) { $n200++ if http(GET => '/api.php?action=query&meta=siteinfo&format=json')->{status} == 200 }
for (1 .. 2) { $n200++ if http(GET => '/resources/assets/poweredby_mediawiki_88x31.png')->{status} == 200 }
is(http(GET => '/no/such/file.css')->{status}, 404, 'a missing file gets 404');
is($n200, 5, 'five requests answered 200');
# The counts settle once both workers reported their last request done.
my $json = wait_until(sub {
	my (undef, $o) = run_cmd(@sc, '--json');
	my $j = eval { decode_json($o) } or return;
	return $j->{php} >= 4 && !grep({ $_->{state} ne 'idle' } @{ $j->{slots} }) ? $j : undef;
}, 20);
ok($json, 'mwsup status --json shows both workers idle after the requests');
$json //= {};

my ($rc, $out, $err) = run_cmd(@sc, '--prometheus');
is($rc, 0, 'mwsup status --prometheus exits 0') or diag($err);
is($err, '', 'and prints nothing on standard error');
my ($fam, $errors) = parse_exposition($out);
is_deeply($errors, [], 'its output is valid Prometheus text exposition format')
	or diag($out);
is_deeply({ map { $_ => $fam->{$_}{type} } keys %$fam }, \%WANT,
    'exactly the documented metric families, each of its type') or diag(explain($fam));
ok(!grep({ $WANT{$_} eq 'counter' && !/_total$/ } keys %WANT), 'every counter is named *_total');

my %samples;	# "name{k=v,...}" => value
for my $f (values %$fam) {
	for my $s (@{ $f->{samples} }) {
		my $l = join(',', map { "$_=$s->[1]{$_}" } sort keys %{ $s->[1] });
		$samples{$s->[0] . (length $l ? "{$l}" : '')} = $s->[2];
	}
}
my @expect_series = (
	(map { "mwsup_responses_total{class=$_}" } @CLASSES),
	(map { "mwsup_workers{state=$_}" } @STATES),
	(map { "mwsup_request_duration_seconds_bucket{le=$_}" } @LE),
	'mwsup_request_duration_seconds_sum', 'mwsup_request_duration_seconds_count',
	grep { $_ !~ /^mwsup_(?:responses_total|workers|request_duration_seconds)$/ } keys %WANT,
);
is_deeply([sort keys %samples], [sort @expect_series],
    'exactly the series: responses by class, workers by state, the histogram\'s buckets, one of each other')
	or diag(explain([sort keys %samples]));

# The values are those of --json, taken with nothing served in between.
is($samples{'mwsup_workers{state=idle}'}, 2, 'mwsup_workers{state="idle"} is 2');
is($samples{'mwsup_workers{state=busy}'}, 0, 'mwsup_workers{state="busy"} is 0');
is($samples{mwsup_workers_configured}, 2, 'mwsup_workers_configured is 2');
is($samples{mwsup_php_responses_total}, $json->{php}, "mwsup_php_responses_total is --json's php ($json->{php})");
is($samples{mwsup_static_responses_total}, $json->{static}, "mwsup_static_responses_total is --json's static");
is($samples{'mwsup_responses_total{class=4xx}'}, $json->{by_class}{'4xx'}, 'the 4xx count is --json\'s');
my $by_class = 0;
$by_class += $samples{"mwsup_responses_total{class=$_}"} // 0 for @CLASSES;
is($by_class, $samples{mwsup_php_responses_total} + $samples{mwsup_static_responses_total},
    'the responses by class add up to those of the workers and the supervisor');
is($samples{mwsup_request_duration_seconds_count}, $by_class, 'and the histogram counts each one');
cmp_ok($samples{mwsup_uptime_seconds}, '>', 0, 'uptime is positive');

my $r = http(GET => '/mwsup-status/metrics');
is($r->{status}, 200, 'GET /mwsup-status/metrics answers');
like($r->{headers}{'content-type'} // '', qr{^text/plain\b}, 'as text/plain');
my ($hfam, $herr) = parse_exposition($r->{body});
is_deeply($herr, [], 'in valid exposition format');
is_deeply({ map { $_ => $hfam->{$_}{type} } keys %$hfam }, \%WANT,
    'with the same families and types as mwsup status --prometheus');

stopped_cleanly($srv);
done_testing();
