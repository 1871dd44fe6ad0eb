#!/usr/bin/perl
# The code of worker/php that mirrors MediaWiki's own (Setup.php's
# per-request part, the entry points' bodies, private properties reached
# with Closure::bind) names the MediaWiki 1.39 file and lines it mirrors,
# with a hash of them, on a line of its own:
#
#   // mirrors includes/Setup.php:376-580 sha256:<first 16 hex digits>
#
# (the SHA-256 of those lines, each with its "\n").  Here every such
# marker is checked against the installed MediaWiki: a MediaWiki whose
# mirrored lines changed fails the test, naming the file, the lines and
# the passage of worker/php to read again (worker/README.md, "Upgrading
# MediaWiki").  No server is started.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use Test::More;
use MwTest;

my $MW_ROOT = '/usr/share/mediawiki';
my @sources = sort glob(repo_dir() . '/worker/php/*.php');

# Every marker: [ where (file:line of worker/php), path, first, last, hash ].
my @markers;
for my $src (@sources) {
	my $n = 0;
	for my $l (split /\n/, read_file($src)) {
		$n++;
		next unless $l =~ /\bmirrors\b/;
		(my $short = $src) =~ s{.*/(worker/)}{$1};
		if ($l =~ m{^\s*(?://|\*)\s*mirrors (\S+):(\d+)-(\d+) sha256:([0-9a-f]{16})$}) {
			push @markers, [ "$short:$n", $1, $2, $3, $4 ];
		} elsif ($l =~ m{^\s*(?://|\*)\s*mirrors \S+\.php}) {
			fail("$short:$n: a marker not in the form " .
			    '"// mirrors FILE:FIRST-LAST sha256:HEX16"');
		}
	}
}

# What is wrong with each marker against the MediaWiki in $root.
sub check {
	my ($root) = @_;
	my @bad;
	for my $m (@markers) {
		my ($where, $path, $first, $last, $hash) = @$m;
		my $file = "$root/$path";
		if (!-r $file) {
			push @bad, "$where: $path: no such file in $root";
			next;
		}
		my @lines = split /(?<=\n)/, read_file($file);
		if ($first < 1 || $last < $first || $last > @lines) {
			push @bad, "$where: $path:$first-$last: past its " .
			    scalar(@lines) . ' lines';
			next;
		}
		my $now = substr(sha256_hex(join('', @lines[$first - 1 .. $last - 1])),
		    0, 16);
		push @bad, "$where: $path:$first-$last changed in MediaWiki " .
		    "(sha256 now $now, marker says $hash): read the passage again"
			if $now ne $hash;
	}
	return @bad;
}

cmp_ok(scalar(@markers), '>=', 20,
    'worker/php marks the MediaWiki code it mirrors (' . scalar(@markers) .
    ' markers)');
my %files = map { $_->[1] => 1 } @markers;
ok($files{$_}, "a marker pins $_")
	for qw(includes/Setup.php includes/WebStart.php api.php load.php
	    index.php rest.php);

my @bad = check($MW_ROOT);
ok(!@bad, "every mirrored passage is the same in $MW_ROOT")
	or diag(join("\n", @bad));

# The check can fail: a MediaWiki with one mirrored line of Setup.php
# changed fails exactly the markers of that file, naming file and lines.
{
	my $copy = test_dir() . '/mediawiki';
	for my $path (keys %files) {
		make_path(dirname("$copy/$path"));
		write_file("$copy/$path", read_file("$MW_ROOT/$path"));
	}
	my ($setup) = grep { $_->[1] eq 'includes/Setup.php' &&
	    $_->[3] > $_->[2] } @markers;
	my @lines = split /(?<=\n)/, read_file("$copy/includes/Setup.php");
	$lines[$setup->[2]] =~ s/$/ /;	# a space at the end of its 2nd line
	write_file("$copy/includes/Setup.php", join('', @lines));
	my %before = map { $_ => 1 } @bad;
	my @seen = grep { !$before{$_} } check($copy);
	is(scalar(@seen), 1, 'a changed line of Setup.php fails one marker')
		or diag(join("\n", @seen));
	like($seen[0] // '', qr{^worker/php/warm\.php:\d+: includes/Setup\.php:\Q$setup->[2]-$setup->[3]\E changed},
	    'naming the marker, the file and its lines');
}

done_testing();
