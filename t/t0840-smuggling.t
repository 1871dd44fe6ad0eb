#!/usr/bin/perl
# Header and framing smuggling: bytes that a proxy in front and mwsup could
# read as different requests, or headers that reach PHP under another
# name.  Each is sent byte for byte with a raw socket (split across writes
# where the split matters) and gets a 400 and a closed connection, or is
# served with the offending part dropped; what PHP saw is dumped by a hook
# ($_SERVER's HTTP_* and SERVER_NAME, and MediaWiki's idea of the client
# IP with 127.0.0.1 as a trusted proxy) and checked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use JSON::PP ();
use MwTest;

my $w = wiki('pool.workers' => 1, 'timeouts.header' => 10, 'timeouts.body' => 10,
    'limits.body' => '4k', 'limits.head' => '8k');
my $dump = test_dir() . '/env';
mkdir $dump;
chmod 0777, $dump;
append_settings($w, <<"EOF");
\$wgCdnServersNoPurge = [ '127.0.0.1' ];
\$wgHooks['ApiBeforeMain'][] = static function () {
	if ( isset( \$_GET['mwsup_env'] ) ) {
		\$v = [ 'ip' => RequestContext::getMain()->getRequest()->getIP() ];
		foreach ( \$_SERVER as \$k => \$x ) {
			if ( str_starts_with( \$k, 'HTTP_' ) || \$k === 'SERVER_NAME' ) {
				\$v[\$k] = \$x;
			}
		}
		\$tag = preg_replace( '/[^a-z0-9]/', '', \$_GET['mwsup_env'] );
		file_put_contents( '$dump/' . \$tag . '.json', json_encode( \$v ) );
	}
};
EOF
my $srv = start_mwsup($w->{config});
my $port = $srv->{port};
my $H = "Host: 127.0.0.1\r\n";
my $API = '/api.php?action=query&meta=siteinfo&format=json';

# send_pieces(@pieces): write each piece, pausing between them so each
# arrives in a read of its own (0.3 s; 0.02 s with a leading 'fast');
# returns (status, closed, bytes).
sub send_pieces {
	my (@pieces) = @_;
	my $pause = 0.3;
	$pause = 0.02, shift @pieces if $pieces[0] eq 'fast';
	my $s = raw_begin($port, shift @pieces);
	local $SIG{PIPE} = 'IGNORE';
	for my $p (@pieces) {
		sleep($pause);
		syswrite($s, $p);
	}
	my ($out, $closed) = ('', 0);
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while (select(my $rout = $rin, undef, undef, 5) > 0) {
		my $got = sysread($s, my $buf, 65536);
		if (!$got) { $closed = 1; last }
		$out .= $buf;
	}
	close($s);
	my ($code) = $out =~ m{\AHTTP/1\.[01] (\d{3}) };
	return ($code // 'none', $closed, $out);
}

# What PHP saw for the request tagged $tag (undef if it never ran).
sub env_of {
	my ($tag) = @_;
	my $f = "$dump/$tag.json";
	return undef unless -e $f;
	my $v = JSON::PP::decode_json(read_file($f));
	unlink $f;
	return $v;
}

sub chunked {
	my ($body) = @_;
	return sprintf("%x\r\n%s\r\n", length $body, $body);
}

# --- 5. trailers never reach PHP ---------------------------------------------
{
	my $body = 'action=query&meta=siteinfo&format=json';
	my $head = "POST $API&mwsup_env=head HTTP/1.1\r\n$H"
	    . "Content-Type: application/x-www-form-urlencoded\r\n"
	    . "X-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n";
	my ($code, undef, $out) = send_pieces($head . "Content-Length: " . length($body) . "\r\n\r\n$body");
	my $env = env_of('head') // {};
	is($code, 200, 'control: a POST with X-Forwarded-For in its head is served');
	is($env->{ip}, '6.6.6.6', 'control: a head X-Forwarded-For from the trusted proxy is the client IP');

	my $req = "POST $API&mwsup_env=trailer HTTP/1.1\r\n$H"
	    . "Content-Type: application/x-www-form-urlencoded\r\n"
	    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	    . chunked(substr($body, 0, 10)) . chunked(substr($body, 10))
	    . "0\r\nX-Forwarded-For: 6.6.6.6\r\nHost: evil.example\r\n"
	    . "Cookie: mwsup_evil=1\r\nX-Trailer: t5\r\n\r\n";
	($code, undef, $out) = send_pieces($req);
	$env = env_of('trailer') // {};
	is($code, 200, 'a chunked POST with trailers is served');
	like($out, qr/"sitename"/, 'and its chunked body reached PHP whole');
	ok(exists $env->{ip}, 'PHP ran for it');
	is($env->{ip}, '127.0.0.1', 'a trailer X-Forwarded-For is not the client IP');
	ok(!grep({ /6\.6\.6\.6|evil|t5/ } values %$env),
	    'no trailer value reaches PHP (X-Forwarded-For, Host, Cookie, X-Trailer)')
		or diag(explain($env));
	is($env->{HTTP_HOST}, '127.0.0.1', 'HTTP_HOST is the head\'s Host');
	is($env->{SERVER_NAME}, '127.0.0.1', 'SERVER_NAME too');

	# the same, split between the chunks and inside the trailer section
	my @p = ($req =~ /\A(.*?\r\n\r\n)(.*?0\r\n)(X-Forw)(.*)\z/s);
	($code) = send_pieces(@p);
	$env = env_of('trailer') // {};
	is($code, 200, 'split across writes: served');
	is($env->{ip}, '127.0.0.1', 'split across writes: the trailer still does not reach PHP');

	for my $t ([ 'a folded trailer line', "0\r\nX-A: a\r\n b\r\n\r\n" ],
	    [ 'a trailer line ending in a bare LF', "0\r\nX-A: a\n\r\n" ],
	    [ 'a trailer without a colon', "0\r\nX-A\r\n\r\n" ],
	    [ 'a bare LF ending the trailer section', "0\r\n\n" ],
	    [ 'a CR and another byte ending the trailer section', "0\r\n\rX" ]) {
		my ($desc, $tail) = @$t;
		my ($c, $closed) = send_pieces("POST $API HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n$tail");
		is($c, 400, "$desc: 400");
		ok($closed, "$desc: closed");
	}
}

# --- 6. header names PHP would rewrite ---------------------------------------
{
	my %ok = map { $_ => 1 } ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-');
	my $tchar = qr/[A-Za-z0-9!#\$%&'*+\-.^_`|~]/;
	my (@wrong, %by_status);
	for my $b (0 .. 255) {
		my $ch = chr($b);
		my ($code, $closed) = send_pieces("GET $API&mwsup_env=b$b HTTP/1.1\r\n$H"
		    . "X-A${ch}B: v$b\r\nConnection: close\r\n\r\n");
		my $env = env_of("b$b");
		my @got = sort grep { $_ ne 'ip' && $env->{$_} =~ /\bv$b\z/ } keys %{ $env // {} };
		my $want_code = $ch eq ':' || $ch =~ $tchar ? 200 : 400;
		my @want = $ok{$ch} ? ('HTTP_X_A' . uc($ch eq '-' ? '_' : $ch) . 'B')
		    : $ch eq ':' ? ('HTTP_X_A') : ();
		push @{ $by_status{$code} }, $b;
		push @wrong, sprintf("byte %d: %s (closed %d), PHP saw [%s], want %s [%s]",
		    $b, $code, $closed, "@got", $want_code, "@want")
			if $code ne $want_code || "@got" ne "@want"
			    || ($want_code == 400 && !$closed);
	}
	is("@wrong", '', 'every byte 0..255 in a header name: 400 and closed unless it is a token byte; '
	    . 'only names of letters, digits and "-" reach PHP (":" ends the name)');
	diag("answered 400 for bytes: @{ $by_status{400} // [] }") if @wrong;

	for my $name ('X-Forwarded.For', 'X_Forwarded_For', 'X-Forwarded_For', 'X-Remote.User', 'Proxy') {
		my ($code) = send_pieces("GET $API&mwsup_env=named HTTP/1.1\r\n$H"
		    . "$name: 6.6.6.6\r\nConnection: close\r\n\r\n");
		my $env = env_of('named') // {};
		is($code, 200, "a \"$name\" header: the request is served");
		ok(exists $env->{ip} && !grep({ /6\.6\.6\.6/ } values %$env),
		    "a \"$name\" header does not reach PHP under any name")
			or diag(explain($env));
	}
}

# --- 7. chunk framing is CRLF, exactly ---------------------------------------
{
	my $head = "POST $API HTTP/1.1\r\n${H}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
	for my $t (
	    [ 'two other bytes instead of CRLF after chunk data', "3\r\nabcXX0\r\n\r\n" ],
	    [ 'a chunk-size line ending in CR and another byte', "3\rXabc\r\n0\r\n\r\n" ],
	    [ 'a chunk-size line ending in a bare LF', "3\nabc\r\n0\r\n\r\n" ],
	    [ 'chunk data followed by a bare LF', "3\r\nabc\n0\r\n\r\n" ],
	    [ 'chunk data followed by CR and another byte', "3\r\nabc\rX0\r\n\r\n" ],
	    [ 'the last chunk line ending in a bare LF', "3\r\nabc\r\n0\n\r\n" ],
	    [ 'a LF inside a chunk extension', "3;a\nb\r\nabc\r\n0\r\n\r\n" ],
	    [ 'whitespace after a chunk size without an extension', "3 \r\nabc\r\n0\r\n\r\n" ],
	    [ 'a chunk size with a sign', "+3\r\nabc\r\n0\r\n\r\n" ],
	    [ 'a chunk size too large for any integer', ('f' x 40) . "\r\n" ]) {
		my ($desc, $body) = @$t;
		my ($code, $closed) = send_pieces($head . $body);
		my $want = $desc =~ /too large/ ? 413 : 400;
		is($code, $want, "$desc: $want");
		ok($closed, "$desc: closed");
		# the same bytes one at a time
		($code, $closed) = send_pieces('fast', $head, split(//, substr($body, 0, 12)), substr($body, 12));
		is($code, $want, "$desc, one byte per write: $want");
	}
	my $body = 'action=query&meta=siteinfo&format=json';
	my ($code, $closed, $out) = send_pieces($head
	    . sprintf("%x;name=value ; q=\"x y\"\r\n%s\r\n", length $body, $body) . "0\r\n\r\n"
	    . "GET /resources/assets/poweredby_mediawiki_88x31.png HTTP/1.1\r\n${H}Connection: close\r\n\r\n");
	my @st = $out =~ m{HTTP/1\.1 (\d{3}) }g;
	is("@st", '200 200', 'a chunked body with extensions, then a pipelined request: both answered');
	like($out, qr/"sitename"/, 'and the body arrived whole');
}

# --- 8. obsolete line folding, however the bytes arrive ----------------------
{
	for my $t (
	    [ 'a fold after an empty value', [ "GET $API HTTP/1.1\r\n${H}X:\r\n v\r\n\r\n" ] ],
	    [ 'a fold split across two writes', [ "GET $API HTTP/1.1\r\n${H}X-A: a\r\n", " b\r\n\r\n" ] ],
	    [ 'a tab fold split before the tab', [ "GET $API HTTP/1.1\r\n${H}X-A: a\r\n", "\tb\r\n\r\n" ] ],
	    [ 'a fold split after the LF and the space', [ "GET $API HTTP/1.1\r\n${H}X-A: a\r\n ", "b\r\n\r\n" ] ],
	    [ 'Transfer-Encoding folded onto a second line',
	      [ "POST $API HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" ] ],
	    [ 'Transfer-Encoding folded, split across writes',
	      [ "POST $API HTTP/1.1\r\n${H}Transfer-Encoding:\r\n", " chunked\r\n\r\n0\r\n\r\n" ] ],
	    [ 'whitespace before the first header line', [ "GET $API HTTP/1.1\r\n ${H}\r\n" ] ],
	    [ 'a CR inside a header line', [ "GET $API HTTP/1.1\r\n${H}X-A: a\rHost: evil.example\r\n\r\n" ] ],
	    [ 'a header line without a colon', [ "GET $API HTTP/1.1\r\n${H}X-A\r\n\r\n" ] ],
	    [ 'a control byte in a header value', [ "GET $API HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n" ] ],
	    [ 'the request line ending in CR and another byte', [ "GET $API HTTP/1.1\rX${H}\r\n" ] ]) {
		my ($desc, $pieces) = @$t;
		my ($code, $closed) = send_pieces(@$pieces);
		is($code, 400, "$desc: 400");
		ok($closed, "$desc: closed");
	}
	my $req = "GET $API&mwsup_env=split HTTP/1.1\r\n${H}X-A: a\r\nConnection: close\r\n\r\n";
	my ($code) = send_pieces('fast', map { substr($req, $_, 1) } 0 .. length($req) - 1);
	my $env = env_of('split') // {};
	is($code, 200, 'control: a good request sent one byte per write is served');
	is($env->{HTTP_X_A}, 'a', 'control: with its header intact');
}

# --- 9. HTTP/1.0 with Transfer-Encoding, Host ---------------------------------
{
	my ($code, $closed, $out) = send_pieces("POST $API HTTP/1.0\r\nConnection: keep-alive\r\n"
	    . "Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
	    . "0\r\n\r\nGET /resources/assets/poweredby_mediawiki_88x31.png HTTP/1.1\r\n$H\r\n");
	my @st = $out =~ m{HTTP/1\.[01] (\d{3}) }g;
	is("@st", '400', 'HTTP/1.0 with Transfer-Encoding (keep-alive, a request pipelined after it): one 400');
	ok($closed, 'and the connection is closed');
	for my $t ([ 'two Transfer-Encoding fields', "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n" ],
	    [ 'Transfer-Encoding "gzip, chunked"', "Transfer-Encoding: gzip, chunked\r\n" ]) {
		($code, $closed) = send_pieces("POST $API HTTP/1.1\r\n$H$t->[1]\r\n0\r\n\r\n");
		is($code, 400, "$t->[0]: 400");
	}

	($code, $closed) = send_pieces("GET $API&mwsup_env=duphost HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n");
	is($code, 400, 'two Host fields: 400');
	ok($closed, 'two Host fields: closed');
	ok(!defined env_of('duphost'), 'two Host fields: PHP never runs');

	for my $bad ('a/b', '<script>', 'a b', '', 'a:b', 'a:', 'a:123456', 'a:99999',
	    '[::1', '[::1]x', '[zz]', '[v1.x]', 'a@b', 'a%zz', '"a"', 'a\\b', ':80', "a\x7f",
	    '..', 'a..b', '.', '..:80') {
		($code, $closed) = send_pieces("GET $API&mwsup_env=badhost HTTP/1.1\r\nHost: $bad\r\n\r\n");
		is($code, 400, "Host \"$bad\": 400");
		ok(!defined env_of('badhost'), "Host \"$bad\": PHP never runs");
	}
	for my $t ([ 'wiki.example', 'wiki.example' ], [ "127.0.0.1:$port", '127.0.0.1' ],
	    [ "[::1]:$port", '[::1]' ], [ 'Wiki-1.example:80', 'Wiki-1.example' ], [ 'a%41b', 'a%41b' ]) {
		my ($host, $name) = @$t;
		($code) = send_pieces("GET $API&mwsup_env=goodhost HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
		my $env = env_of('goodhost') // {};
		is($code, 200, "Host \"$host\" is served");
		is($env->{SERVER_NAME}, $name, "Host \"$host\": SERVER_NAME is $name");
		is($env->{HTTP_HOST}, $host, "Host \"$host\": HTTP_HOST is the field");
	}

	# absolute-form: the target's authority is the host (RFC 9112 3.2.2)
	for my $bad ('a:b', 'a%zz', 'user@host', 'a:') {
		($code) = send_pieces("GET http://$bad$API&mwsup_env=absbad HTTP/1.1\r\n$H\r\n");
		is($code, 400, "an absolute-form target with authority \"$bad\": 400");
		ok(!defined env_of('absbad'), "authority \"$bad\": PHP never runs");
	}
	($code) = send_pieces("GET http://wiki.example:8080$API&mwsup_env=abs HTTP/1.1\r\n${H}Connection: close\r\n\r\n");
	my $env = env_of('abs') // {};
	is($code, 200, 'an absolute-form target with a good authority is served');
	is($env->{SERVER_NAME}, 'wiki.example', 'its authority is SERVER_NAME');
	is($env->{HTTP_HOST}, 'wiki.example:8080', 'and HTTP_HOST, not the Host field');
}

my $r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'after all of that the wiki still serves pages');
unlike(log_text($srv), qr/exited with status|killed by signal/, 'no worker died');
stopped_cleanly($srv);
done_testing();
