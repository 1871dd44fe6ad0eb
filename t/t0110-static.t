#!/usr/bin/perl
# The supervisor serves MediaWiki's static files (resources/, skins/) and the
# wiki's uploads (/images/) itself: exact bytes, the right Content-Type,
# Last-Modified and 304 for If-Modified-Since.  It never hands out PHP
# source, dot-files or anything outside the static roots, however the path
# is spelled.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use File::Find;
use POSIX ();
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

stopped_cleanly($srv);

done_testing();
