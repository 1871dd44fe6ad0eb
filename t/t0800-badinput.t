#!/usr/bin/perl
# Hostile and broken requests, sent byte for byte with a raw socket: each
# gets a clear 4xx/5xx from the supervisor and a closed connection, never a
# hang, a crash or a request that reaches PHP in a smuggled shape.  Slow
# clients are cut off by the header and body deadlines with 408.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::IP;
use MwTest;

my $w = wiki('pool.workers' => 1, 'timeouts.header' => 1, 'timeouts.body' => 1,
    'limits.body' => '4k', 'limits.head' => '8k', 'limits.headers' => 50);
my $srv = start_mwsup($w->{config});
my $port = $srv->{port};
my $H = "Host: 127.0.0.1\r\n";

sub status_of {
	my ($bytes) = @_;
	my ($out, $closed) = raw($port, $bytes, timeout => 5);
	my ($code) = ($out // '') =~ m{\AHTTP/1\.[01] (\d{3}) };
	return ($code // 'none', $closed, $out);
}

my @cases = (
	[ 'a request line that is not HTTP', "GARBAGE\r\n\r\n", 400 ],
	[ 'both Content-Length and Transfer-Encoding (smuggling)',
	  "POST /api.php HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 ],
	[ 'two different Content-Length headers',
	  "POST /api.php HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400 ],
	[ 'a negative Content-Length', "POST /api.php HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n", 400 ],
	[ 'obsolete line folding (space)', "GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n", 400 ],
	[ 'obsolete line folding (tab)', "GET / HTTP/1.1\r\n${H}X-A: a\r\n\tb\r\n\r\n", 400 ],
	[ 'an invalid chunk size', "POST /api.php HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400 ],
	[ 'a transfer coding other than chunked', "POST /api.php HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n", 400 ],
	[ 'a NUL byte in a header value', "GET / HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n", 400 ],
	[ 'a space in a header name', "GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n", 400 ],
	[ 'HTTP/1.1 without Host', "GET / HTTP/1.1\r\n\r\n", 400 ],
	[ 'a request line longer than limits.head', "GET /" . ('a' x 9000) . " HTTP/1.1\r\n$H\r\n", 414 ],
	[ 'a header block larger than limits.head', "GET / HTTP/1.1\r\n${H}X-Big: " . ('a' x 9000) . "\r\n\r\n", 431 ],
	[ 'more header fields than limits.headers',
	  "GET / HTTP/1.1\r\n$H" . join('', map { "X-H$_: 1\r\n" } 1 .. 60) . "\r\n", 431 ],
	[ 'a body over limits.body (by Content-Length)',
	  "POST /api.php HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 5000\r\n\r\n", 413 ],
	[ 'a chunked body over limits.body',
	  "POST /api.php HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n" . ("400\r\n" . ('x' x 1024) . "\r\n") x 5 . "0\r\n\r\n", 413 ],
	[ 'CONNECT', "CONNECT example.org:443 HTTP/1.1\r\n$H\r\n", 405 ],
	[ 'HTTP/2.0 in the request line', "GET / HTTP/2.0\r\n$H\r\n", 505 ],
	[ 'an Expect other than 100-continue', "POST /api.php HTTP/1.1\r\n${H}Expect: magic\r\nContent-Length: 1\r\n\r\nx", 417 ],
	[ 'a percent-encoded NUL in the path', "GET /index.php%00.png HTTP/1.1\r\n$H\r\n", 400 ],
	[ 'a bad percent escape in the path', "GET /skins/%zz HTTP/1.1\r\n$H\r\n", 400 ],
);
for my $c (@cases) {
	my ($desc, $bytes, $want) = @$c;
	my ($code, $closed) = status_of($bytes);
	is($code, $want, "$desc: $want");
	ok($closed, "$desc: the connection is closed after the answer")
		if $want == 400 || $want == 413 || $want == 414 || $want == 431;
}

# A slow-loris head: part of a request, then silence past timeouts.header.
{
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port) or die "connect: $!\n";
	syswrite($s, "GET /wiki/Main_Page HTTP/1.1\r\n$H");
	my $t0 = time();
	my $out = '';
	while (sysread($s, my $buf, 4096)) { $out .= $buf }
	my $took = time() - $t0;
	like($out, qr{\AHTTP/1\.1 408 }, 'a head that stops half-way gets 408 Request Timeout');
	cmp_ok($took, '<', 10, 'and the connection is closed by the header deadline, not left open');
}
# A slow body: the head is complete, the body never finishes.
{
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port) or die "connect: $!\n";
	syswrite($s, "POST /api.php HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\naction=");
	my $out = '';
	while (sysread($s, my $buf, 4096)) { $out .= $buf }
	like($out, qr{\AHTTP/1\.1 408 }, 'a body that stops arriving gets 408 once timeouts.body passes');
}
# Silence after connecting: closed without a response.
{
	my ($out, $closed) = raw($port, '', timeout => 5);
	ok($closed && $out eq '', 'a connection that never sends anything is closed quietly');
}

# Keep-alive rules.
{
	my ($out) = raw($port, "GET /api.php?action=query&meta=siteinfo&format=json HTTP/1.0\r\n\r\n", timeout => 20);
	my $r = parse_response($out);
	is($r->{status}, 200, 'an HTTP/1.0 request is answered');
	like($out, qr{\AHTTP/1\.[01] 200}, 'with a status line');
	my ($out2, $closed2) = raw($port, "GET /resources/assets/poweredby_mediawiki_88x31.png HTTP/1.0\r\n\r\n", timeout => 5);
	ok($closed2, 'HTTP/1.0 without keep-alive: the server closes after the response');
	my ($out3) = raw($port, "GET /resources/assets/poweredby_mediawiki_88x31.png HTTP/1.1\r\n$H\r\n" x 3, timeout => 3);
	my @st = $out3 =~ m{HTTP/1\.1 (\d{3}) }g;
	is("@st", '200 200 200', 'three pipelined HTTP/1.1 requests for a file get three answers');
}

# Expect: 100-continue gets the interim answer before the body is sent.
{
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port) or die "connect: $!\n";
	my $body = 'action=query&meta=siteinfo&format=json';
	syswrite($s, "POST /api.php HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\n"
	    . "Content-Length: " . length($body) . "\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
	my $rin = ''; vec($rin, fileno($s), 1) = 1;
	select(my $rout = $rin, undef, undef, 5);
	sysread($s, my $first, 4096);
	like($first // '', qr{\AHTTP/1\.1 100 Continue\r\n\r\n}, 'Expect: 100-continue gets "100 Continue" before the body');
	syswrite($s, $body);
	my $out = '';
	while (sysread($s, my $buf, 65536)) { $out .= $buf }
	like($out, qr{\AHTTP/1\.1 200 .*"sitename"}s, 'and then the real answer to the POST');
}

my $r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'after all of that the wiki still serves pages');
unlike(log_text($srv), qr/exited with status|killed by signal/, 'no worker died on any of the bad requests');
stopped_cleanly($srv);
done_testing();
