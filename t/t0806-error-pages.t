#!/usr/bin/perl
# The supervisor's own error answers say what happened in plain words
# (404 for a missing file, 400 for bytes that are not HTTP, 503 when no
# worker can take the request), and mw.yaml's error_pages replaces them,
# status by status, with the admin's own files: read at start and at each
# reload, at most 64 KiB, with a clear error (file:line, the status, the
# path, what is wrong) for one that cannot be used.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use Test::More;
use MwTest;

# No worker ever starts (/bin/false): PHP requests get 503 at once, static
# files and the supervisor's own answers go on.
my $w = wiki('pool.workers' => 1, 'pool.worker' => '/bin/false');
my $dir = test_dir() . '/pages';
mkdir $dir;
my $srv = start_mwsup($w->{config}, wait => 0);
ok(wait_until(sub { http(GET => '/images/none.png')->{status} == 404 }, 15), 'mwsup answers');

my $r = http(GET => '/images/none.png');
like($r->{body}, qr{<title>404 Not Found</title>.*There is no page or file at this address\.}s,
    'the built-in 404 says there is nothing at that address');
is($r->{headers}{'content-type'}, 'text/html; charset=utf-8', 'as UTF-8 HTML');
copy('/usr/share/mediawiki/resources/assets/poweredby_mediawiki_88x31.png', "$w->{images}/p.png")
	or die "copy: $!\n";
$r = http(DELETE => '/images/p.png');
is($r->{status}, 405, 'DELETE on a static file gets 405');
like($r->{body}, qr/This address does not take requests of this method\./, 'which says so');
is($r->{headers}{allow}, 'GET, HEAD', 'with Allow');
$r = http(GET => '/images/p.png', { Range => 'bytes=999999-' });
is($r->{status}, 416, 'a range past the end gets 416');
like($r->{body}, qr/lies past its end/, 'which says so');
$r = parse_response(raw($w->{port}, "NOT HTTP AT ALL\r\n\r\n"));
is($r->{status}, 400, 'bytes that are not HTTP get 400');
like($r->{body}, qr/The request could not be read: it is not valid HTTP\./, 'which says so');
$r = wait_until(sub { my $x = http(GET => '/wiki/Main_Page'); $x->{status} == 503 ? $x : undef }, 10);
like($r && $r->{body}, qr/cannot take this request right now: it is busy, starting or stopping\. Please try again/,
    'the built-in 503 says the wiki cannot take the request now, and to try again');
stopped_cleanly($srv);

# --- error_pages -------------------------------------------------------------
my $p503 = "<!DOCTYPE html>\n<html><body><h1>Down for maintenance</h1><p>Back at noon. \x{e2}\x{9c}\x{93}</p></body></html>\n";
my $p404 = "<html><body>Our own 404 page</body></html>\n";
write_file("$dir/503.html", $p503);
write_file("$dir/404.html", $p404);
chmod 0644, "$dir/503.html", "$dir/404.html";
set_yaml($w, 'error_pages.503' => "$dir/503.html", 'error_pages.404' => "$dir/404.html");
my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
is($rc, 0, 'mw.yaml with error_pages passes the check') or diag($err);
$srv = start_mwsup($w->{config}, wait => 0);
ok(wait_until(sub { http(GET => '/images/none.png')->{status} == 404 }, 15), 'mwsup answers');
$r = wait_until(sub { my $x = http(GET => '/wiki/Main_Page'); $x->{status} == 503 ? $x : undef }, 10);
subtest 'a 503 sends the admin\'s page, byte for byte' => sub {
	ok($r, 'a 503');
	is($r && $r->{body}, $p503, 'the body is the file');
	is($r && $r->{headers}{'content-length'}, length $p503, 'Content-Length is its size');
	is($r && $r->{headers}{'content-type'}, 'text/html; charset=utf-8', 'sent as UTF-8 HTML');
};
is(http(GET => '/images/none.png')->{body}, $p404, 'so does a 404');
$r = http(HEAD => '/images/none.png');
is($r->{body}, '', 'a HEAD gets the head alone');
like(parse_response(raw($w->{port}, "NOT HTTP AT ALL\r\n\r\n"))->{body}, qr/not valid HTTP/,
    'a status without a page of its own keeps the built-in one');

# reload: read again; a page that cannot be read keeps the previous ones
my $p503b = "<html><body>Back at one.</body></html>\n";
write_file("$dir/503.html", $p503b);
is(http(GET => '/wiki/Main_Page')->{body}, $p503, 'a page edited on disk is not read per request');
kill 'HUP', $srv->{pid};
ok(wait_until(sub { http(GET => '/wiki/Main_Page')->{body} eq $p503b }, 15),
    'after a reload the edited page is sent');
unlink "$dir/404.html";
kill 'HUP', $srv->{pid};
log_like($srv, qr/\Q$w->{config}\E:\d+:\d+: error_pages: 404: \Q$dir\E\/404\.html: No such file or directory\n.*reload: still running the previous configuration/,
    'a reload with a missing page says which, where, and that the previous configuration stays');
is(http(GET => '/images/none.png')->{body}, $p404, 'and the previous 404 page is still sent');
stopped_cleanly($srv);

# --- pages that cannot be used stop mwsup -t and a start ---------------------
sub refused {
	my ($file, $msg, $what) = @_;
	set_yaml($w, 'error_pages.404' => $file);
	my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
	my @lines = split /\n/, read_file($w->{config});
	my ($line) = grep { $lines[$_ - 1] =~ /^  404:/ } 1 .. @lines;
	subtest $what => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/(?:^|\s)\Q$w->{config}\E:$line:\d+: error_pages: 404: \Q$file\E: $msg$/m,
		    'stderr names the file, line, status, path and problem');
	};
}
refused("$dir/404.html", qr/No such file or directory/, 'a missing page');
write_file("$dir/big.html", 'x' x (64 * 1024 + 1));
refused("$dir/big.html", qr/larger than 64 KiB/, 'a page over 64 KiB');
write_file("$dir/full.html", 'x' x (64 * 1024));
set_yaml($w, 'error_pages.404' => "$dir/full.html");
($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
is($rc, 0, 'a page of exactly 64 KiB is taken') or diag($err);
refused($dir, qr/not a regular file/, 'a directory');
set_yaml($w, 'error_pages.404' => "$dir/404.html");
$srv = start_mwsup($w->{config}, wait => 0);
is(waitpid($srv->{pid}, 0), $srv->{pid}, 'starting with a missing page fails');
is($? >> 8, 2, 'with exit status 2');
$srv->{stopped} = 1;
log_like($srv, qr/error_pages: 404: \Q$dir\E\/404\.html: No such file or directory/, 'and says why');

done_testing();
