#!/usr/bin/perl
# What an admin trying mwsup meets first.  Uploads: the workers read
# Debian's embed php.ini, whose upload_max_filesize (2M) and post_max_size
# (8M) would make PHP drop an upload mwsup accepted under limits.body; the
# workers set both from limits.body, and a php: setting still wins.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

# A MediaWiki root of symlinks with one script of the site's own under an
# entry point's name (only those go to PHP), which reports what PHP made of
# the uploaded file f.
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
header( 'Content-Type: application/json' );
echo json_encode( [
	'size' => $_FILES['f']['size'] ?? null,
	'error' => $_FILES['f']['error'] ?? null,
	'post' => $_POST['x'] ?? null,
	'upload_max_filesize' => ini_get( 'upload_max_filesize' ),
	'post_max_size' => ini_get( 'post_max_size' ),
] );
PHP
chmod 0755, $root;
chmod 0644, "$root/opensearch_desc.php";

my $size = 10 * 1024 * 1024;
my $boundary = 'mwsup-t0130-boundary';
my $body = "--$boundary\r\n" .
    "Content-Disposition: form-data; name=\"x\"\r\n\r\nhello\r\n" .
    "--$boundary\r\n" .
    "Content-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n" .
    "Content-Type: application/octet-stream\r\n\r\n" .
    ('u' x $size) . "\r\n--$boundary--\r\n";
sub upload {
	my $r = http(POST => '/opensearch_desc.php',
	    { 'Content-Type' => "multipart/form-data; boundary=$boundary" }, $body);
	my $j = eval { decode_json($r->{body}) };
	return $j // { status => $r->{status}, body => substr($r->{body}, 0, 300) };
}

{
	my $w = wiki('pool.workers' => 1, 'mediawiki.root' => $root,
	    'limits.body' => '20M');
	my $srv = start_mwsup($w->{config}, env => { MW_INSTALL_PATH => $root });
	my $j = upload();
	subtest 'limits.body 20M: a 10 MB upload reaches the script whole' => sub {
		is($j->{error}, 0, 'upload error code 0 (UPLOAD_ERR_OK)')
			or diag(explain($j));
		is($j->{size}, $size, "\$_FILES['f']['size'] is $size");
		is($j->{post}, 'hello', 'and the form field beside it arrives');
		is($j->{upload_max_filesize}, 20 * 1024 * 1024,
		    'upload_max_filesize is limits.body');
		is($j->{post_max_size}, 20 * 1024 * 1024,
		    'post_max_size is limits.body');
	};
	stopped_cleanly($srv);
}

# A php: setting is the admin's word and wins over limits.body.
my $w = wiki('pool.workers' => 1, 'mediawiki.root' => $root,
    'limits.body' => '20M', 'php.upload_max_filesize' => '1M');
my $srv = start_mwsup($w->{config}, env => { MW_INSTALL_PATH => $root });
my $j = upload();
is($j->{upload_max_filesize}, '1M', 'php: upload_max_filesize 1M wins over limits.body');
is($j->{error}, 1, 'and the 10 MB file is refused by PHP as too large (UPLOAD_ERR_INI_SIZE)')
	or diag(explain($j));
is($j->{post_max_size}, 20 * 1024 * 1024, 'post_max_size still follows limits.body');
stopped_cleanly($srv);

done_testing();
