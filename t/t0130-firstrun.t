#!/usr/bin/perl
# What an admin trying mwsup meets first.  Uploads: the workers read
# Debian's embed php.ini, whose upload_max_filesize (2M) and post_max_size
# (8M) would make PHP drop an upload mwsup accepted under limits.body; the
# workers set both from limits.body, and a php: setting still wins.  The
# demo (tools/demo): uploads on, served on the port --port names.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
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

# --- tools/demo --port N DIR ------------------------------------------------
#
# Run as a user would (it installs nothing here: tools/deps finds every
# package installed; tools/build finds build/ up to date or brings it up to
# date), in the foreground; stopped with SIGTERM (it execs mwsup).
my ($rc, $out) = run_cmd(repo_dir() . '/tools/demo', '--help');
like($out, qr/--port N\b.*default 8080/s, 'tools/demo --help names --port and its default');
($rc) = run_cmd(repo_dir() . '/tools/demo', '--port', 'eighty');
is($rc, 2, 'tools/demo --port eighty is refused (exit 2)');

# Started as root with a checkout that www-data cannot enter (a clone in
# /root or in a mktemp -d directory), the demo says which directory and
# what to do, before it installs or builds anything; mwsup itself would
# only fail later, on a temp_dir it cannot create.
SKIP: {
	skip('needs root and a www-data user', 3)
		unless $> == 0 && getpwnam('www-data');
	my $closed = test_dir() . '/closed';
	mkdir($closed, 0700) or die "mkdir $closed: $!\n";
	chmod(0700, $closed);
	mkdir("$closed/co");
	mkdir("$closed/co/tools");
	system('cp', repo_dir() . '/tools/demo', "$closed/co/tools/demo") == 0 or die "cp failed\n";
	my ($rc, $o, $e) = run_cmd("$closed/co/tools/demo", '--port', free_port());
	is($rc, 1, 'tools/demo in a checkout www-data cannot enter fails (exit 1)');
	like($e, qr{^demo: www-data cannot enter \Q$closed\E \(drwx------ root\)}m,
	    'and names the directory that blocks it');
	like($e, qr{chmod o\+x \Q$closed\E}, 'and how to allow it');
}

my $demo = test_dir() . '/demo';
sub demo {
	my ($port) = @_;
	my $log = test_dir() . "/demo-$port.log";
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $log) or die;
		open(STDERR, '>&', \*STDOUT) or die;
		exec(repo_dir() . '/tools/demo', '--port', $port, $demo) or POSIX::_exit(127);
	}
	my $info;
	wait_until(sub {
		my $r = http(GET => '/api.php?action=query&meta=siteinfo&format=json&formatversion=2',
		    {}, undef, { port => $port, timeout => 5 });
		$info = eval { decode_json($r->{body})->{query}{general} } if $r->{status} == 200;
		return $info;
	}, 180);
	kill 'TERM', $pid;
	waitpid($pid, 0);
	return ($info // {}, read_file($log));
}
for my $port (free_port(), free_port()) {
	my ($info, $log) = demo($port);
	subtest "tools/demo --port $port serves the demo wiki there, uploads on" => sub {
		is($info->{server}, "http://127.0.0.1:$port", "\$wgServer is http://127.0.0.1:$port")
			or diag($log);
		ok($info->{uploadsenabled}, 'file uploads are on');
		like($log, qr{demo: serving http://127\.0\.0\.1:\Q$port\E/}, 'and says where');
	};
}

done_testing();
