#!/usr/bin/perl
# What a browser, a media player and a cache in front get from the static
# files the supervisor serves, as nginx gives it for a wiki: an ETag
# ("mtime-hex"-"size-hex") and If-None-Match/If-Match/If-Range; byte
# ranges (206, 416 past the end, the whole file for a malformed one);
# several ranges as multipart/byteranges, byte for byte as nginx frames
# them, the whole file for too many or for ranges adding up to more than
# the file; media types from /etc/mime.types with static.types over them and
# application/octet-stream for the rest; Cache-Control per mapping
# (mediawiki.cache_control, static.cache_control); /favicon.ico from
# mediawiki.favicon; /wiki to /wiki/; and a missing thumbnail made by
# thumb_handler.php.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use File::Copy qw(copy);
use Test::More;
use MwTest;

my $MW = '/usr/share/mediawiki';
my $w = wiki();
my $png_path = '/resources/assets/poweredby_mediawiki_88x31.png';

# A video-like upload: 300 kB of bytes no text tool would keep intact.
srand(4242);
my $clip = join('', map { chr(int(rand(256))) } 1 .. 300_000);
mkdir "$w->{images}/a";
mkdir "$w->{images}/a/ab";
my $clip_file = "$w->{images}/a/ab/Clip.webm";
write_file($clip_file, $clip);
my $size = length $clip;

# Uploads of types the old built-in list did not know.
my %types = (
	avif => 'image/avif', flac => 'audio/flac', opus => 'audio/ogg',
	odt => 'application/vnd.oasis.opendocument.text',
	docx => 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
	xlsx => 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
	zip => 'application/zip', csv => 'text/csv', xml => 'application/xml',
	stl => 'model/stl', xcf => 'image/x-xcf', qqq9 => 'application/octet-stream',
	mwtest => 'application/x-mwsup-test',
);
write_file("$w->{images}/a/ab/Doc.$_", "content of a .$_ file\n") for keys %types;
write_file("$w->{images}/a/ab/Source.php", "<?php echo 'ran';\n");

# static.types over /etc/mime.types: a new extension.
my $yaml = read_file($w->{config});
$yaml =~ s/^static:\n/static:\n  types:\n    mwtest: application\/x-mwsup-test\n/m
	or die "test bug: no static: section in $w->{config}\n";
write_file($w->{config}, $yaml);

# An image for thumbnails, made with GD on demand.
append_settings($w, <<'PHP');
$wgUseImageMagick = false;
$wgGenerateThumbnailOnParse = false;
PHP
my $up = test_dir() . '/upload';
mkdir $up; chmod 0755, $up;
copy("$MW/resources/assets/mediawiki.png", "$up/Thumb_source.png") or die "copy: $!\n";
my ($rc, $out, $err) = wiki_php($w, "$MW/maintenance/importImages.php", $up);
is($rc, 0, 'importImages.php put an image in the wiki') or diag("$out$err");

my $srv = start_mwsup($w->{config});
my $url = '/images/a/ab/Clip.webm';

# --- ETag and conditional requests ---------------------------------------
my @st = stat $clip_file;
my $etag = sprintf('"%x-%x"', $st[9], $st[7]);
my $r = http(GET => $url);
subtest 'a static file has an ETag of nginx\'s form, Accept-Ranges and the upload Cache-Control' => sub {
	is($r->{status}, 200, 'status 200');
	ok($r->{body} eq $clip, 'the body is the file byte for byte');
	is($r->{headers}{etag}, $etag, 'ETag is "mtime-hex"-"size-hex"');
	is($r->{headers}{'accept-ranges'}, 'bytes', 'Accept-Ranges: bytes');
	is($r->{headers}{'cache-control'}, 'max-age=0, must-revalidate',
	    'an upload is revalidated each time by default');
	is($r->{headers}{'content-type'}, 'video/webm', 'video/webm, no charset');
};
$r = http(GET => $png_path);
is($r->{headers}{'cache-control'}, 'max-age=86400', 'MediaWiki\'s own files are kept a day by default');
my $lm = http(HEAD => $url)->{headers}{'last-modified'};

for my $t ([$etag, 'the ETag'], ["W/$etag", 'the ETag as a weak one (weak comparison)'],
    ["\"nope\", $etag", 'a list that holds it'], ['*', '*']) {
	$r = http(GET => $url, { 'If-None-Match' => $t->[0] });
	subtest "If-None-Match with $t->[1] gives 304" => sub {
		is($r->{status}, 304, 'status 304');
		is($r->{body}, '', 'no body');
		is($r->{headers}{etag}, $etag, 'with the ETag');
	};
}
$r = http(GET => $url, { 'If-None-Match' => '"0-0"', 'If-Modified-Since' => $lm });
is($r->{status}, 200, 'If-None-Match with another tag gives 200 even with a matching If-Modified-Since (it takes precedence)');
$r = http(HEAD => $url, { 'If-None-Match' => $etag });
is($r->{status}, 304, 'HEAD with If-None-Match gives 304 too');
$r = http(GET => $url, { 'If-Match' => '"0-0"' });
is($r->{status}, 412, 'If-Match with another tag gives 412');
$r = http(GET => $url, { 'If-Match' => $etag, Range => 'bytes=0-0' });
is($r->{status}, 206, 'If-Match with the tag lets the request through');

# --- Range ---------------------------------------------------------------
sub range_ok {
	my ($range, $first, $last, $what, %h) = @_;
	my $r = http(GET => $url, { Range => $range, %h });
	subtest "Range: $range ($what) gives 206 with bytes $first-$last" => sub {
		is($r->{status}, 206, 'status 206');
		is($r->{headers}{'content-range'}, "bytes $first-$last/$size", 'Content-Range');
		is($r->{headers}{'content-length'}, $last - $first + 1, 'Content-Length of the range');
		ok($r->{body} eq substr($clip, $first, $last - $first + 1), 'exactly those bytes')
			or diag('got ' . length($r->{body}) . ' bytes');
		is($r->{headers}{etag}, $etag, 'with the ETag');
	};
}
range_ok('bytes=0-99', 0, 99, 'the start');
range_ok('bytes=123456-234567', 123456, 234567, 'the middle');
range_ok('bytes=250000-', 250000, $size - 1, 'to the end');
range_ok('bytes=-1000', $size - 1000, $size - 1, 'the last 1000');
range_ok("bytes=299990-999999999", 299990, $size - 1, 'past the end, cut at it');
range_ok('bytes=-999999', 0, $size - 1, 'a suffix longer than the file');
range_ok('bytes=100-199', 100, 199, 'If-Range with the ETag', 'If-Range' => $etag);
range_ok('bytes=100-199', 100, 199, 'If-Range with the Last-Modified date', 'If-Range' => $lm);

for my $t (["bytes=$size-", 'at the end'], ['bytes=9999999-', 'far past the end'], ['bytes=-0', 'an empty suffix']) {
	$r = http(GET => $url, { Range => $t->[0] });
	subtest "Range: $t->[0] ($t->[1]) gives 416" => sub {
		is($r->{status}, 416, 'status 416');
		is($r->{headers}{'content-range'}, "bytes */$size", 'Content-Range: bytes */size');
		ok(length($r->{body}) < 1000, 'none of the file');
	};
}
for my $t (['bytes=abc', 'malformed'], ['bytes=5-2', 'backwards'], ['items=0-9', 'another unit'],
    ['bytes=0-9,5-2', 'a list with a backwards member'], ['bytes=0-9,x', 'a list with a malformed member'],
    ['bytes=0-,0-', 'two ranges adding up to more than the file'],
    ['bytes=0-150000,150000-', 'overlapping by a byte: more than the file'],
    ['bytes=' . join(',', map { $_ * 10 . '-' . ($_ * 10 + 4) } 0 .. 64), '65 ranges, over the cap of 64'],
    ['bytes=0-0' . (',' x 2100), 'a Range header over 2 KB'],
    ['bytes=0-9', 'an If-Range with an old tag', 'If-Range' => '"1-1"'],
    ['bytes=0-9', 'an If-Range with an old date', 'If-Range' => 'Thu, 01 Jan 1998 00:00:00 GMT']) {
	my ($range, $what, @h) = @$t;
	$r = http(GET => $url, { Range => $range, @h });
	my $shown = length $range > 40 ? substr($range, 0, 30) . '...' : $range;
	subtest "Range: $shown ($what) gives the whole file" => sub {
		is($r->{status}, 200, 'status 200');
		ok($r->{body} eq $clip, 'all of it');
		ok(!defined $r->{headers}{'content-range'}, 'no Content-Range');
	};
}
$r = http(HEAD => $url, { Range => 'bytes=10-19' });
subtest 'HEAD with a Range gives the 206 head without a body' => sub {
	is($r->{status}, 206, 'status 206');
	is($r->{headers}{'content-range'}, "bytes 10-19/$size", 'Content-Range');
	is($r->{headers}{'content-length'}, 10, 'Content-Length');
	is($r->{body}, '', 'no body');
};

# --- several ranges: multipart/byteranges --------------------------------

# The body nginx sends for these parts of $data, with this boundary.
sub multipart_body {
	my ($data, $type, $boundary, @ranges) = @_;
	my $body = '';
	for my $rg (@ranges) {
		my ($a, $b) = @$rg;
		$body .= "\r\n--$boundary\r\nContent-Type: $type\r\n"
		    . 'Content-Range: bytes ' . "$a-$b/" . length($data) . "\r\n\r\n"
		    . substr($data, $a, $b - $a + 1);
	}
	return $body . "\r\n--$boundary--\r\n";
}

sub multipart_ok {
	my ($range, $what, $ranges, %o) = @_;
	my $path = $o{path} // $url;
	my $data = $o{data} // $clip;
	my $type = $o{type} // 'video/webm';
	my $r = http(GET => $path, { Range => $range, %{ $o{headers} // {} } });
	my $shown = length $range > 40 ? substr($range, 0, 30) . '...' : $range;
	subtest "Range: $shown ($what): 206 multipart/byteranges" => sub {
		is($r->{status}, 206, 'status 206');
		my ($bd) = ($r->{headers}{'content-type'} // '') =~ m{^multipart/byteranges; boundary=(\d{20})$};
		ok(defined $bd, "Content-Type multipart/byteranges with a 20-digit boundary ($r->{headers}{'content-type'})");
		$bd //= 'none';
		my $want = multipart_body($data, $type, $bd, @$ranges);
		ok($r->{body} eq $want, 'the body: each part framed as nginx does, in the order asked')
			or diag('got: ' . substr($r->{body}, 0, 300) . "\nwant: " . substr($want, 0, 300));
		is($r->{headers}{'content-length'}, length $want, 'Content-Length of the whole multipart body');
		ok(!defined $r->{headers}{'content-range'}, 'no Content-Range outside the parts');
		ok(defined $r->{headers}{etag}, 'an ETag');
		$o{check}->($r) if $o{check};
	};
	return $r;
}

my $mp = multipart_ok('bytes=0-9,20-29', 'two', [[0, 9], [20, 29]]);
multipart_ok('bytes=-5,0-4', 'a suffix first: the order is kept', [[$size - 5, $size - 1], [0, 4]]);
multipart_ok('bytes=0-9, 20-29 ,,', 'spaces and empty members', [[0, 9], [20, 29]]);
multipart_ok('bytes=0-9,10-19', 'adjacent: not merged', [[0, 9], [10, 19]]);
multipart_ok('bytes=0-9,5-14', 'overlapping, less than the file', [[0, 9], [5, 14]]);
multipart_ok('bytes=299990-,9999999-,-3', 'cut at the end, one past it dropped', [[299990, $size - 1], [$size - 3, $size - 1]]);
multipart_ok('bytes=0-139999,150000-289999', 'large parts: the socket fills meanwhile',
    [[0, 139999], [150000, 289999]]);
multipart_ok('bytes=' . join(',', map { $_ * 1000 . '-' . ($_ * 1000 + 99) } 0 .. 63), '64 ranges, the cap',
    [map { [$_ * 1000, $_ * 1000 + 99] } 0 .. 63]);
my $jq = '/resources/lib/jquery/jquery.js';
my $jqdata = read_file("$MW$jq");
multipart_ok('bytes=0-99,1000-1099', 'a text file a client would have compressed', [[0, 99], [1000, 1099]],
    path => $jq, data => $jqdata, type => 'text/javascript; charset=utf-8',
    headers => { 'Accept-Encoding' => 'gzip, br' },
    check => sub {
	ok(!defined $_[0]{headers}{'content-encoding'}, 'not encoded: the ranges are of the file');
	like($_[0]{headers}{vary} // '', qr/Accept-Encoding/, 'Vary: Accept-Encoding');
    });
for my $one ('bytes=0-9,9999999-', 'bytes=0-9,-0') {
subtest "Range: $one (one satisfiable): a plain 206 of it" => sub {
	my $r = http(GET => $url, { Range => $one });
	is($r->{status}, 206, 'status 206');
	is($r->{headers}{'content-range'}, "bytes 0-9/$size", 'Content-Range');
	ok($r->{body} eq substr($clip, 0, 10), 'its 10 bytes');
};
}
subtest "Range: bytes=9999999-,$size- (none satisfiable): 416" => sub {
	my $r = http(GET => $url, { Range => "bytes=9999999-,$size-" });
	is($r->{status}, 416, 'status 416');
	is($r->{headers}{'content-range'}, "bytes */$size", 'Content-Range: bytes */size');
};
subtest 'HEAD with two ranges: the multipart head without a body' => sub {
	my $r = http(HEAD => $url, { Range => 'bytes=0-9,20-29' });
	is($r->{status}, 206, 'status 206');
	like($r->{headers}{'content-type'} // '', qr{^multipart/byteranges; boundary=\d{20}$}, 'multipart/byteranges');
	is($r->{headers}{'content-length'}, length $mp->{body}, 'the Content-Length of the GET');
	is($r->{body}, '', 'no body');
};
{
	# on a kept-alive connection the next answer follows the closing boundary
	my $host = "Host: 127.0.0.1:$w->{port}";
	my $bytes = raw($w->{port}, "GET $url HTTP/1.1\r\n$host\r\nRange: bytes=100-199,5000-5099\r\n\r\n" .
	    "GET $png_path HTTP/1.1\r\n$host\r\nConnection: close\r\n\r\n") // '';
	my ($h1, $rest) = split /\r\n\r\n/, $bytes, 2;
	my ($bd) = ($h1 // '') =~ /boundary=(\d{20})/;
	my ($len) = ($h1 // '') =~ /Content-Length: (\d+)/i;
	$rest //= '';
	ok(defined $bd && defined $len && substr($rest, 0, $len) eq
	    multipart_body($clip, 'video/webm', $bd, [100, 199], [5000, 5099]),
	    'a multipart answer on a kept-alive connection, whole');
	like(substr($rest, $len // 0, 17), qr{^HTTP/1\.1 200 OK}, 'and the next answer right after it');
}

# Two requests on one connection: the range is sent from its offset and
# ends where it says, so the next answer starts right after it.
my $host = "Host: 127.0.0.1:$w->{port}";
my $bytes = raw($w->{port}, "GET $url HTTP/1.1\r\n$host\r\nRange: bytes=1000-1999\r\n\r\n" .
    "GET $png_path HTTP/1.1\r\n$host\r\nConnection: close\r\n\r\n") // '';
my ($head1, $rest) = split /\r\n\r\n/, $bytes, 2;
$rest //= '';
like($head1 // '', qr{^HTTP/1\.1 206 }, 'a ranged answer on a kept-alive connection');
ok(substr($rest, 0, 1000) eq substr($clip, 1000, 1000), 'its 1000 bytes');
like(substr($rest, 1000, 17), qr{^HTTP/1\.1 200 OK}, 'and the next answer right after them');

# --- media types ---------------------------------------------------------
for my $ext (sort keys %types) {
	$r = http(GET => "/images/a/ab/Doc.$ext");
	subtest ".$ext upload is served as $types{$ext}" => sub {
		is($r->{status}, 200, 'status 200');
		is($r->{headers}{'content-type'}, $types{$ext}, "Content-Type $types{$ext} (no charset: its encoding is unknown)");
		is($r->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
		is($r->{body}, "content of a .$ext file\n", 'the bytes');
	};
}
# Documents a browser would show in the wiki's origin: no script runs.
write_file("$w->{images}/a/ab/Page.html", "<script>alert(1)</script>\n");
write_file("$w->{images}/a/ab/Drawing.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n");
for my $t (['Page.html', 'text/html'], ['Drawing.svg', 'image/svg+xml'], ['Doc.xml', 'application/xml']) {
	$r = http(GET => "/images/a/ab/$t->[0]");
	subtest "an uploaded $t->[0] is served as $t->[1], sandboxed" => sub {
		is($r->{status}, 200, 'status 200');
		is($r->{headers}{'content-type'}, $t->[1], "Content-Type $t->[1]");
		like($r->{headers}{'content-security-policy'} // '', qr/\bsandbox\b/, 'CSP sandbox');
		like($r->{headers}{'content-security-policy'} // '', qr/default-src 'none'/, 'and nothing loaded');
	};
}
ok(!defined http(GET => '/images/a/ab/Doc.zip')->{headers}{'content-security-policy'},
    'a zip upload has no such policy');
my ($svg) = grep { -f "$MW/$_" } qw(resources/src/mediawiki.skinning/images/magnify-clip-ltr.svg
    resources/assets/file-type-icons/fileicon-ogg.png);
SKIP: {
	skip 'no MediaWiki svg', 1 unless $svg && $svg =~ /svg$/;
	ok(!defined http(GET => "/$svg")->{headers}{'content-security-policy'},
	    'MediaWiki\'s own SVG has none');
}
# MediaWiki's tree holds sources and tests beside its assets: only the
# assets are served from it, whatever /etc/mime.types knows.
my ($less) = grep { -f "$MW/$_" } map { s/^\Q$MW\E\///r } glob("$MW/resources/src/*/*.less");
my ($mustache) = map { s/^\Q$MW\E\///r } glob("$MW/resources/src/*/templates/*.mustache $MW/skins/*/templates/*.mustache");
for my $f (grep { defined } $less, $mustache) {
	is(http(GET => "/$f")->{status}, 404, "MediaWiki's /$f (a source, not an asset) is not served");
}
$r = http(GET => '/images/a/ab/Source.php');
is($r->{status}, 403, 'a .php upload is still refused');
unlike($r->{body}, qr/<\?php/, 'without its source');
my ($css) = grep { -f "$MW/$_" } qw(skins/Vector/resources/common/print.css
    resources/src/mediawiki.action/mediawiki.action.history.css);
SKIP: {
	skip 'no known css file', 1 unless $css;
	is(http(GET => "/$css")->{headers}{'content-type'}, 'text/css; charset=utf-8',
	    'MediaWiki\'s own CSS says it is UTF-8');
}

# --- /wiki, /favicon.ico -------------------------------------------------
$r = http(GET => '/wiki');
is($r->{status}, 301, '/wiki is redirected');
is($r->{headers}{location}, '/wiki/', 'to /wiki/');
$r = http(GET => '/wiki?action=history');
is($r->{headers}{location}, '/wiki/?action=history', 'with its query');
$r = http(GET => '/favicon.ico');
is($r->{status}, 404, '/favicon.ico is 404 when mediawiki.favicon is unset and the root has none');

# --- a thumbnail that does not exist yet ---------------------------------
my $h = md5_hex('Thumb_source.png');
my $thumb = sprintf('/images/thumb/%s/%s/Thumb_source.png/61px-Thumb_source.png',
    substr($h, 0, 1), substr($h, 0, 2));
my $made = $w->{images} . substr($thumb, length '/images');
ok(!-e $made, 'the 61px thumbnail is not on disk');
$r = http(GET => $thumb);
subtest 'a missing thumbnail is made by thumb_handler.php' => sub {
	is($r->{status}, 200, 'status 200') or diag(substr($r->{body}, 0, 300));
	like($r->{headers}{'content-type'} // '', qr{^image/png}, 'a PNG');
	like($r->{body}, qr/\A\x89PNG/, 'PNG bytes');
	is(unpack('N', substr($r->{body}, 16, 4)), 61, 'of the width asked for');
};
ok(-f $made, 'and stored where the URL points');
$r = http(GET => $thumb);
subtest 'asked again, it is the stored file, served statically' => sub {
	is($r->{status}, 200, 'status 200');
	ok($r->{body} eq read_file($made), 'the stored bytes');
	like($r->{headers}{etag} // '', qr/^"[0-9a-f]+-[0-9a-f]+"$/, 'with the static ETag');
};
$r = http(GET => '/images/thumb/0/00/No_such.png/61px-No_such.png');
is($r->{status}, 404, 'a thumbnail of a file that does not exist is 404');
$r = http(GET => '/images/a/ab/Not_a_thumb.png');
is($r->{status}, 404, 'a missing upload outside thumb/ is a plain 404');
log_unlike($srv, qr/PHP (?:Warning|Fatal)/, 'no PHP warning');
stopped_cleanly($srv);

# --- settings ------------------------------------------------------------
my $icon = test_dir() . '/site-icon.png';
copy("$MW$png_path", $icon) or die "copy: $!\n";
set_yaml($w, 'mediawiki.favicon' => $icon, 'mediawiki.cache_control' => 'public, max-age=604800',
    'static.cache_control' => 'no-cache');
$srv = start_mwsup($w->{config});
$r = http(GET => '/favicon.ico');
subtest '/favicon.ico is the file mediawiki.favicon names' => sub {
	is($r->{status}, 200, 'status 200');
	ok($r->{body} eq read_file($icon), 'its bytes');
	is($r->{headers}{'content-type'}, 'image/png', 'typed by its own extension');
};
is(http(GET => $png_path)->{headers}{'cache-control'}, 'public, max-age=604800',
    'mediawiki.cache_control sets MediaWiki\'s files\' Cache-Control');
is(http(GET => $url)->{headers}{'cache-control'}, 'no-cache',
    'static.cache_control sets the uploads\'');
stopped_cleanly($srv);

set_yaml($w, 'static.cache_control' => '');
$srv = start_mwsup($w->{config});
ok(!defined http(GET => $url)->{headers}{'cache-control'}, 'static.cache_control: "" sends none');

# A reload reads static.types (and /etc/mime.types) again.
$yaml = read_file($w->{config});
$yaml =~ s{mwtest: application/x-mwsup-test}{mwtest: application/x-mwsup-reloaded} or die "test bug: no types\n";
write_file($w->{config}, $yaml);
kill 'HUP', $srv->{pid};
ok(wait_until(sub { log_text($srv) =~ /generation 2 ready/ }, 30), 'reloaded');
is(http(GET => '/images/a/ab/Doc.mwtest')->{headers}{'content-type'}, 'application/x-mwsup-reloaded',
    'a reload sets static.types anew');
is(http(GET => '/images/a/ab/Doc.flac')->{headers}{'content-type'}, 'audio/flac',
    'and still knows /etc/mime.types');
stopped_cleanly($srv);

done_testing();
