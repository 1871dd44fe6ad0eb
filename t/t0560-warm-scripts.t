#!/usr/bin/perl
# The entry scripts whose body is a function of their own
# (opensearch_desc.php, img_auth.php, thumb.php, thumb_handler.php) are
# served warm only when the file is the one MediaWiki ships: a site's own
# file under that name runs as the file says, cold, and the worker says so
# in its log.  (t0540 compares the stock scripts, served warm, with
# PHP-FPM.)  Here mediawiki.root is a copy of the MediaWiki root made of
# symlinks, with opensearch_desc.php replaced by a script of the site's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $MW_ROOT = '/usr/share/mediawiki';
my $root = test_dir() . '/root';
mkdir $root or die "mkdir $root: $!\n";
for my $f (glob("$MW_ROOT/* $MW_ROOT/.[!.]*")) {
	(my $name = $f) =~ s{.*/}{};
	symlink($f, "$root/$name") or die "symlink $f: $!\n";
}
unlink "$root/opensearch_desc.php";
write_file("$root/opensearch_desc.php", <<'PHP');
<?php
// A site's own script under an entry point's name.
header( 'Content-Type: text/plain; charset=utf-8' );
echo "the site's own opensearch_desc.php\n";
PHP
chmod 0755, $root;
chmod 0644, "$root/opensearch_desc.php";

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'mediawiki.root' => $root);
my $srv = start_mwsup($w->{config});
log_like($srv, qr{warm mode: \Q$root\E/opensearch_desc\.php runs cold: its top-level code is not the one of MediaWiki 1\.39},
    'the worker says the replaced script runs cold');
log_unlike($srv, qr{(?:img_auth|thumb|thumb_handler)\.php runs cold},
    'the stock img_auth.php, thumb.php and thumb_handler.php are served warm');

my $r = http(GET => '/opensearch_desc.php');
is($r->{status}, 200, 'the replaced script answers 200');
is($r->{body}, "the site's own opensearch_desc.php\n", 'with what the file prints, not MediaWiki\'s description');
$r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'the Main Page after it');
like($r->{body}, qr/MediaWiki has been installed/, 'is the Main Page');
$r = http(GET => '/thumb_handler.php');
is($r->{status}, 400, 'thumb_handler.php (stock, warm) refuses a request outside the thumbnail path');
like($r->{body}, qr/thumbnail/i, 'with MediaWiki\'s message');
$r = http(GET => '/opensearch_desc.php');
is($r->{body}, "the site's own opensearch_desc.php\n", 'the replaced script again');

# One bootstrap at the start, one after each cold request that a warm one
# followed: the cost of a site's own entry script.
my @boots = log_text($srv) =~ /checkpoint: \d+ globals/g;
is(scalar(@boots), 2, 'the worker bootstrapped again only after the cold request');
my @pids = worker_pids($srv);
is(scalar(@pids), 1, 'the same worker served everything');
log_unlike($srv, qr/PHP (?:Warning|Fatal|Deprecated)|recycling/, 'no PHP warning, no recycling');
stopped_cleanly($srv);
done_testing();
