#!/usr/bin/perl
# The supervisor serves MediaWiki's static files (resources/, skins/) and the
# wiki's uploads (/images/) itself: exact bytes, the right Content-Type,
# Last-Modified and 304 for If-Modified-Since.  It never hands out PHP
# source, dot-files or anything outside the static roots, however the path
# is spelled: not MediaWiki's private upload folders (deleted files, stashed
# uploads, locks), not a directory whose .htaccess denies all, and not what
# a symbolic link points to outside the directory or owned by someone else
# (static.symlinks, whose other settings are checked too).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use File::Find;
use POSIX ();
use Math::BigInt;
use Test::More;
use MwTest;

my $MW = '/usr/share/mediawiki';
my $w = wiki();

my $png_path = '/resources/assets/poweredby_mediawiki_88x31.png';
my $css_path;
find({ no_chdir => 1, wanted => sub {
	$css_path //= substr($File::Find::name, length $MW) if /\.css$/ && -f $_;
} }, "$MW/skins/Vector", "$MW/skins");
die "test bug: no .css file under $MW/skins\n" unless $css_path;

# An upload, as MediaWiki would store it (images/a/ab/Name.png).
mkdir "$w->{images}/a";
mkdir "$w->{images}/a/ab";
copy("$MW$png_path", "$w->{images}/a/ab/Upload_test.png") or die "copy: $!\n";
write_file("$w->{images}/.hidden", "secret\n");
write_file("$w->{images}/evil.php", "<?php echo 'ran';\n");

my $srv = start_mwsup($w->{config});

sub static_ok {
	my ($path, $file, $type) = @_;
	my $want = read_file($file);
	my $r = http(GET => $path);
	subtest "GET $path sends the file's bytes as $type" => sub {
		is($r->{status}, 200, 'status 200');
		like($r->{headers}{'content-type'} // '', qr{^\Q$type\E\b}, "content-type $type");
		is($r->{headers}{'content-length'}, length $want, 'content-length is the file size');
		ok($r->{body} eq $want, 'the body is byte for byte the file')
			or diag('got ' . length($r->{body}) . ' bytes');
		like($r->{headers}{'last-modified'} // '',
		    qr/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/,
		    'Last-Modified is an HTTP date');
	};
	return $r;
}

my $png = static_ok($png_path, "$MW$png_path", 'image/png');
static_ok($css_path, "$MW$css_path", 'text/css');
static_ok('/images/a/ab/Upload_test.png', "$w->{images}/a/ab/Upload_test.png", 'image/png');

my $lm = $png->{headers}{'last-modified'};
SKIP: {
	skip 'no Last-Modified to send back', 2 unless $lm;
	my $r = http(GET => $png_path, { 'If-Modified-Since' => $lm });
	is($r->{status}, 304, 'If-Modified-Since with the Last-Modified date gives 304');
	is($r->{body}, '', 'the 304 has no body');
}
my $r = http(GET => $png_path, { 'If-Modified-Since' => 'Thu, 01 Jan 1998 00:00:00 GMT' });
is($r->{status}, 200, 'If-Modified-Since with an older date gives the file (200)');

$r = http(HEAD => $png_path);
subtest 'HEAD on a static file gives its headers and no body' => sub {
	is($r->{status}, 200, 'status 200');
	is($r->{headers}{'content-length'}, -s "$MW$png_path", 'content-length is the file size');
	is($r->{body}, '', 'no body');
};

$r = http(GET => '/resources/assets/no-such-file.png');
is($r->{status}, 404, 'a missing file under resources/ gives 404');
$r = http(GET => '/images/a/ab/No_such_upload.png');
is($r->{status}, 404, 'a missing file under /images/ gives 404');

# Never PHP source, secrets or files outside the roots.  Sent as raw bytes so
# that no client library tidies the path first.
my @forbidden = (
	'/LocalSettings.php',
	'/index.php%00',
	'/index.php%00.png',
	'/includes/Setup.php',
	'/includes/.htaccess',
	'/.htaccess',
	'/mw-config/index.php',
	'/maintenance/install.php',
	'/../etc/passwd',
	'/%2e%2e/%2e%2e/etc/passwd',
	'/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
	'/resources/../LocalSettings.php',
	'/resources/%2e%2e/LocalSettings.php',
	'/resources/..%2fLocalSettings.php',
	'/skins/%2e%2e/includes/Setup.php',
	'/images/../LocalSettings.php',
	'/images/../data/my_wiki.sqlite',
	'/images/%2e%2e/data/my_wiki.sqlite',
	'/images/.hidden',
	'/images/evil.php',
	'/images/a/../../LocalSettings.php',
	'/resources\\..\\LocalSettings.php',
	'/..\\..\\etc\\passwd',
	'/skins/Vector/../../includes/Setup.php',
	'//etc/passwd',
);
for my $path (@forbidden) {
	my $bytes = raw($w->{port}, "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$w->{port}\r\n" .
	    "Connection: close\r\n\r\n");
	my $resp = parse_response($bytes);
	subtest "GET $path is refused without leaking anything" => sub {
		like($resp->{status}, qr/^4\d\d$/, 'a 4xx status') or diag(substr($bytes // '', 0, 300));
		unlike($resp->{body}, qr/<\?php/, 'no PHP source in the body');
		unlike($resp->{body}, qr/^root:/m, 'no /etc/passwd in the body');
		unlike($resp->{body}, qr/SQLite format/, 'no database in the body');
		unlike($resp->{body}, qr/secret|ran/, 'no hidden file or uploaded script output in the body');
	};
}

is(waitpid($srv->{pid}, POSIX::WNOHANG()), 0, 'mwsup is still running after all that (not exited, not a zombie)');
$r = http(GET => $png_path);
is($r->{status}, 200, 'and still serves static files');

# A refusal: 403 or 404, and none of the file's bytes.
sub refused {
	my ($path, $what, $secret) = @_;
	my $r = http(GET => $path);
	subtest $what => sub {
		like($r->{status}, qr/^40[34]$/, "GET $path gives 403 or 404")
			or diag(substr($r->{body}, 0, 200));
		ok(index($r->{body}, $secret) < 0, 'and none of the file')
			if defined $secret;
	};
}

# --- MediaWiki's private upload folders ---------------------------------
# A real deletion: MediaWiki imports an image, the API tells anyone its
# SHA-1, and once it is deleted MediaWiki keeps it in images/deleted/ under
# a name made of that SHA-1 (base 36), with its deny-all .htaccess there.
my $up = test_dir() . '/upload';
mkdir $up; chmod 0755, $up;
copy("$MW$png_path", "$up/Private_scan.png") or die "copy: $!\n";
my ($rc, $out, $err) = wiki_php($w, "$MW/maintenance/importImages.php", $up);
is($rc, 0, 'importImages.php put an image in the wiki') or diag("$out$err");
my ($info) = MwTest::api(undef, 'GET', action => 'query', titles => 'File:Private_scan.png',
    prop => 'imageinfo', iiprop => 'sha1');
my ($page) = values %{ $info->{query}{pages} // {} };
my $sha1 = $page->{imageinfo}[0]{sha1} // '';
like($sha1, qr/^[0-9a-f]{40}$/, 'the API shows the SHA-1 of the image to anyone');
write_file("$up/delete.txt", "File:Private_scan.png\n");
chmod 0644, "$up/delete.txt";
($rc, $out, $err) = wiki_php($w, "$MW/maintenance/deleteBatch.php", "$up/delete.txt");
is($rc, 0, 'deleteBatch.php deleted it') or diag("$out$err");
my $key = sprintf('%31s', Math::BigInt->from_hex($sha1)->to_base(36)) =~ tr/ A-Z/0a-z/r;
my $deleted = join('/', substr($key, 0, 1), substr($key, 1, 1), substr($key, 2, 1), "$key.png");
ok(-f "$w->{images}/deleted/$deleted", "MediaWiki keeps the deleted file as images/deleted/$deleted")
	or diag(`find $w->{images} -ls`);
like(eval { read_file("$w->{images}/deleted/.htaccess") } // '', qr/^Require all denied$/m,
    'and wrote its deny-all .htaccess there');
my $png_bytes = read_file("$MW$png_path");
refused("/images/deleted/$deleted", 'a deleted file, named from the SHA-1 the API showed, is refused',
    $png_bytes);

# Stashed uploads and lock files: refused by name even without an
# .htaccess (one copied away, or the folder made by hand).
for my $d (qw(temp lockdir deleted)) {
	mkdir "$w->{images}/$d";
	mkdir "$w->{images}/$d/a";
	copy("$MW$png_path", "$w->{images}/$d/a/placed.png") or die "copy: $!\n";
	unlink "$w->{images}/$d/.htaccess" if $d ne 'deleted';
	refused("/images/$d/a/placed.png", "a file placed in images/$d/ is refused", $png_bytes);
}
$r = http(GET => '/images/deleted/a/no-such.png');
is($r->{status}, 403, 'a missing file there is refused the same way (403), so nothing tells what exists');

# The mechanism, not the names: any directory whose .htaccess denies all.
for my $t (['notes', "Deny from all\n", 'Deny from all (Apache 2.2)'],
    ['notes2', "<IfModule mod_authz_core.c>\n  Require all denied\n</IfModule>\n",
	'Require all denied inside <IfModule> (Apache 2.4)']) {
	my ($d, $text, $what) = @$t;
	mkdir "$w->{images}/$d";
	mkdir "$w->{images}/$d/sub";
	write_file("$w->{images}/$d/.htaccess", $text);
	copy("$MW$png_path", "$w->{images}/$d/sub/n.png") or die "copy: $!\n";
	refused("/images/$d/sub/n.png", "a directory whose .htaccess says $what is refused, with all below it",
	    $png_bytes);
}
for my $t (['phpoff', "<IfModule php_module>\nphp_flag engine off\n</IfModule>\n",
	"like Debian's images/.htaccess (php_flag engine off)"],
    ['filesphp', "<Files \"*.php\">\nRequire all denied\n</Files>\n",
	'a deny for *.php files only']) {
	my ($d, $text, $what) = @$t;
	mkdir "$w->{images}/$d";
	write_file("$w->{images}/$d/.htaccess", $text);
	copy("$MW$png_path", "$w->{images}/$d/ok.png") or die "copy: $!\n";
	$r = http(GET => "/images/$d/ok.png");
	is($r->{status}, 200, "a directory whose .htaccess is $what is still served");
}

# --- symbolic links (default static.symlinks: inside) --------------------
my $outside = test_dir() . '/outside';
mkdir $outside; chmod 0755, $outside;
write_file("$outside/o.txt", "outside the root\n");
write_file("$w->{dir}/beside.txt", "beside the root\n");
copy("$MW$png_path", "$w->{images}/a/ab/Owned_by_www.png") or die "copy: $!\n";
my $www = getpwnam('www-data');
my $as_root = $> == 0 && defined $www;
chown($www, -1, "$w->{images}/a/ab/Owned_by_www.png") if $as_root;
symlink('/etc/passwd', "$w->{images}/leak.txt") or die "symlink: $!\n";
symlink($outside, "$w->{images}/outdir") or die "symlink: $!\n";
symlink('../beside.txt', "$w->{images}/up.txt") or die "symlink: $!\n";
symlink('a/ab/Upload_test.png', "$w->{images}/same.png") or die "symlink: $!\n";
symlink("$w->{images}/a/ab/Upload_test.png", "$w->{images}/abs.png") or die "symlink: $!\n";
symlink('a', "$w->{images}/indir") or die "symlink: $!\n";
symlink('a/ab/Owned_by_www.png', "$w->{images}/other.png") or die "symlink: $!\n";
my $upload_bytes = read_file("$w->{images}/a/ab/Upload_test.png");

sub served {
	my ($path, $want, $what) = @_;
	my $r = http(GET => $path);
	subtest $what => sub {
		is($r->{status}, 200, "GET $path gives 200");
		ok($r->{body} eq $want, 'with the bytes of the file linked to');
	};
}

refused('/images/leak.txt', 'a link to /etc/passwd is refused', 'root:');
refused('/images/outdir/o.txt', 'a link to a directory outside the root is refused', 'outside');
refused('/images/up.txt', 'a relative link out of the root (../) is refused', 'beside');
served('/images/same.png', $upload_bytes, 'a link to a file inside the root with the link\'s owner is served');
served('/images/abs.png', $upload_bytes, 'so is an absolute link to it');
served('/images/indir/ab/Upload_test.png', $upload_bytes,
    'and a file below a link to a directory inside the root');
SKIP: {
	skip 'needs root and www-data to make a file of another owner', 1 unless $as_root;
	refused('/images/other.png', 'a link to a file inside the root owned by another user is refused',
	    $png_bytes);
}
# Debian's package links extensions/ to /var/lib/mediawiki/extensions and
# each extension back into extensions-core/, all root's: mediawiki.symlinks
# (default owner) follows them.
my ($ext_file) = grep { -f "$MW/$_" } qw(
    extensions/VisualEditor/modules/ve-mw/ui/styles/tools/images/link-ltr.png
    extensions/Cite/modules/ve-cite/icons/reference.svg);
SKIP: {
	skip 'no extension asset reached through Debian\'s links', 1
	    unless $ext_file && -l "$MW/extensions";
	served("/$ext_file", read_file("$MW/$ext_file"),
	    'an extension\'s file, through the links Debian\'s package makes, is served');
}

# --- changes while serving ------------------------------------------------
# What was judged of a directory is remembered between requests: each case
# asks twice first, so the second answer came from what was remembered,
# then changes the tree and asks again.
mkdir "$w->{images}/live";
mkdir "$w->{images}/live/sub";
copy("$MW$png_path", "$w->{images}/live/sub/f.png") or die "copy: $!\n";
my $twice = sub {
	my ($path) = @_;
	http(GET => $path);
	return http(GET => $path)->{status};
};
is($twice->('/images/live/sub/f.png'), 200, 'a file two directories down is served (asked twice)');
write_file("$w->{images}/live/.htaccess", "Require all denied\n");
refused('/images/live/sub/f.png', 'a deny-all .htaccess created above it while serving refuses it at once',
    $png_bytes);
write_file("$w->{images}/live/.htaccess", "# open again\n");	# the same inode, rewritten
is($twice->('/images/live/sub/f.png'), 200, 'the .htaccess edited in place to deny nothing: served again');
write_file("$w->{images}/live/.htaccess", "Deny from all\n");
refused('/images/live/sub/f.png', 'edited in place back to a deny: refused at once', $png_bytes);
unlink "$w->{images}/live/.htaccess";
is($twice->('/images/live/sub/f.png'), 200, 'the .htaccess removed: served again');
write_file("$w->{images}/live/sub/.htaccess", "Require all denied\n");
refused('/images/live/sub/f.png', 'a deny-all .htaccess created beside the file: refused at once', $png_bytes);
unlink "$w->{images}/live/sub/.htaccess";
is($twice->('/images/live/sub/f.png'), 200, 'and removed: served');

# the file replaced (a new inode under the same name), then its directory
# swapped for a link out of the root
write_file("$w->{images}/live/sub/f.png.new", "the new bytes\n");
rename("$w->{images}/live/sub/f.png.new", "$w->{images}/live/sub/f.png") or die "rename: $!\n";
is(http(GET => '/images/live/sub/f.png')->{body}, "the new bytes\n", 'a file replaced while serving: the new bytes are sent');
write_file("$outside/f.png", "outside the root\n");
rename("$w->{images}/live/sub", "$w->{images}/live/sub.old") or die "rename: $!\n";
symlink($outside, "$w->{images}/live/sub") or die "symlink: $!\n";
refused('/images/live/sub/f.png', 'its directory swapped for a link out of the root while serving: refused',
    'outside');
unlink "$w->{images}/live/sub";
rename("$w->{images}/live/sub.old", "$w->{images}/live/sub") or die "rename: $!\n";
is($twice->('/images/live/sub/f.png'), 200, 'put back: served');
rename("$w->{images}/live", "$w->{images}/live.old") or die "rename: $!\n";
mkdir "$w->{images}/live";
mkdir "$w->{images}/live/sub";
write_file("$w->{images}/live/.htaccess", "Require all denied\n");
copy("$MW$png_path", "$w->{images}/live/sub/f.png") or die "copy: $!\n";
refused('/images/live/sub/f.png', 'a whole new tree with a deny-all .htaccess renamed into its place: refused',
    $png_bytes);
SKIP: {
	skip 'needs root and www-data to change an owner', 2 unless $as_root;
	# /images/indir is root's link to a/: followed while a/ is root's too
	is($twice->('/images/indir/ab/Upload_test.png'), 200, 'a file below a link to a directory of the link\'s owner: served');
	chown($www, -1, "$w->{images}/a") or die "chown: $!\n";
	refused('/images/indir/ab/Upload_test.png',
	    'that directory given to another owner while serving: refused at once', $upload_bytes);
	chown(0, -1, "$w->{images}/a") or die "chown: $!\n";
}
# a file system mounted over a remembered directory (inotify says nothing)
SKIP: {
	mkdir "$w->{images}/mnt";
	mkdir "$w->{images}/mnt/sub";
	copy("$MW$png_path", "$w->{images}/mnt/sub/f.png") or die "copy: $!\n";
	my $mnt = "$w->{images}/mnt/sub";
	skip 'needs root and mount(8) to mount a tmpfs', 2
	    unless $as_root && system("mount -t tmpfs -o mode=0755 mwsup-t0110 $mnt 2>/dev/null") == 0
	    && system("umount $mnt") == 0;
	is($twice->('/images/mnt/sub/f.png'), 200, 'a file in a directory, asked twice');
	system("mount -t tmpfs -o mode=0755 mwsup-t0110 $mnt") == 0 or die "mount failed\n";
	write_file("$mnt/f.png", "on the mounted file system\n");
	my $r = http(GET => '/images/mnt/sub/f.png');
	# mwsup holds the directory it judged open: detach it lazily
	system("umount -l $mnt");
	is($r->{body}, "on the mounted file system\n",
	    'a tmpfs mounted over that directory while serving: its file is sent at once');
}
stopped_cleanly($srv);

# The other settings of static.symlinks.
set_yaml($w, 'static.symlinks' => 'follow');
$srv = start_mwsup($w->{config});
served('/images/leak.txt', read_file('/etc/passwd'), 'static.symlinks: follow follows any link (even to /etc/passwd)');
refused('/images/deleted/a/placed.png', 'but never into the private upload folders', $png_bytes);
stopped_cleanly($srv);

set_yaml($w, 'static.symlinks' => 'refuse');
$srv = start_mwsup($w->{config});
refused('/images/same.png', 'static.symlinks: refuse refuses even a link inside the root', $png_bytes);
is(http(GET => '/images/a/ab/Upload_test.png')->{status}, 200, 'and still serves files');
stopped_cleanly($srv);

set_yaml($w, 'static.symlinks' => 'owner');
$srv = start_mwsup($w->{config});
served('/images/outdir/o.txt', "outside the root\n",
    'static.symlinks: owner follows a link out of the root to what has the link\'s owner');
SKIP: {
	skip 'needs root and www-data to make a file of another owner', 1 unless $as_root;
	refused('/images/other.png', 'but not to what another user owns', $png_bytes);
}
stopped_cleanly($srv);

done_testing();
