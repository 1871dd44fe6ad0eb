#!/usr/bin/perl
# Behind a proxy: MediaWiki (REMOTE_ADDR: an anonymous user's name, the
# author of an anonymous edit), the access log and the status page see the
# client, not the proxy.  A real HAProxy in front: TCP mode with the PROXY
# protocol v1 (send-proxy) and v2 (send-proxy-v2) to a proxy_protocol
# listener, and HTTP mode adding X-Forwarded-For and X-Forwarded-Proto
# (README's "Behind a proxy" backend, taken from README.md itself).  Raw
# sockets from other loopback addresses play clients that spoof those
# headers: from a peer not in proxy.trusted they change nothing.  A proxy_protocol
# listener closes a connection without a good header, and says so.  A
# unix socket client is 0.0.0.0 to MediaWiki and "unix:" in the log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use POSIX ();
use JSON::PP ();
use Test::More;
use MwTest;

my $haproxy = '/usr/sbin/haproxy';
plan skip_all => "no $haproxy (tools/deps --test installs it)" unless -x $haproxy;

my $w = wiki();
my ($p_plain, $p_pp) = ($w->{port}, free_port());
my $sock = "$w->{dir}/mw.sock";
my $access = test_dir() . '/access.log';
# protocol-relative, so the scheme of a redirect is what MediaWiki
# detected (HTTPS=on, or X-Forwarded-Proto that reached it)
append_settings($w, "\$wgServer = '//127.0.0.1:$p_plain';");
set_yaml($w, 'log.access' => $access, 'status.path' => '/mwsup-status',
    'status.allow' => ['127.0.0.1', 'unix'],
    'proxy.trusted' => ['127.0.0.1', '::1']);
{
	my $y = read_file($w->{config});
	$y =~ s{^listen:\n  - 127\.0\.0\.1:\d+\n}{listen:
  - 127.0.0.1:$p_plain
  - {address: "127.0.0.1:$p_pp", proxy_protocol: true}
  - unix:$sock
}m or die "test bug: no listen block in $w->{config}\n";
	write_file($w->{config}, $y);
}
my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
is($rc, 0, 'mw.yaml with proxy: and a proxy_protocol listen entry is valid') or diag("$out$err");
my $srv = start_mwsup($w->{config}, port => $p_plain);

# --- a client at $src talking to $port by hand ---
sub from {
	my ($src, $port, $bytes, %opt) = @_;
	my $s = $port =~ m{/}
	    ? IO::Socket::UNIX->new(Peer => $port, Type => SOCK_STREAM)
	    : IO::Socket::IP->new(LocalHost => $src, PeerHost => '127.0.0.1',
		PeerPort => $port, Proto => 'tcp', Timeout => 10);
	die "connect $src -> $port: $!\n" unless $s;
	local $SIG{PIPE} = 'IGNORE';
	syswrite($s, $bytes);
	my ($got, $closed) = ('', 0);
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while (select(my $r = $rin, undef, undef, $opt{timeout} // 30) > 0) {
		my $n = sysread($s, my $buf, 65536);
		if (!$n) { $closed = 1; last }
		$got .= $buf;
	}
	close($s);
	return wantarray ? ($got, $closed) : $got;
}

sub get {
	my ($path, %h) = @_;
	return "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$p_plain\r\n" .
	    join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "Connection: close\r\n\r\n";
}

my $whoami = '/api.php?action=query&meta=userinfo&format=json';
# The name MediaWiki gives the anonymous client of one exchange.
sub anon_name {
	my ($bytes) = @_;
	my $r = parse_response($bytes);
	my $j = eval { JSON::PP::decode_json($r->{body}) } // {};
	return $j->{query}{userinfo}{name} // "(status $r->{status}: " . substr($r->{body}, 0, 200) . ')';
}
# Where a search that names a page exactly redirects to (its scheme is the
# one MediaWiki detected).
my $go = '/index.php?search=Main+Page&go=Go';
sub redirect_of {
	my ($bytes) = @_;
	return parse_response($bytes)->{headers}{location} // '(no Location)';
}

# --- spoofing from peers that are not trusted ---------------------------
is(anon_name(from('127.0.0.9', $p_plain, get($whoami))), '127.0.0.9',
    'a plain client at 127.0.0.9 is 127.0.0.9 to MediaWiki');
is(anon_name(from('127.0.0.9', $p_plain, get($whoami, 'X-Forwarded-For' => '203.0.113.7'))),
    '127.0.0.9', 'an untrusted peer\'s X-Forwarded-For changes nothing');
like(redirect_of(from('127.0.0.9', $p_plain, get($go,
    'X-Forwarded-Proto' => 'https'))), qr{^http://127\.0\.0\.1:\d+/wiki/Main_Page$},
    'nor does its X-Forwarded-Proto: https (MediaWiki never sees it)');
is(parse_response(from('127.0.0.9', $p_plain, get('/mwsup-status')))->{status}, 403,
    'the status page (status.allow: 127.0.0.1) refuses 127.0.0.9');

# --- a trusted peer's X-Forwarded-For, read from the right ---------------
is(anon_name(from('127.0.0.1', $p_plain, get($whoami, 'X-Forwarded-For' => '203.0.113.7'))),
    '203.0.113.7', 'from a trusted peer, the address X-Forwarded-For names is the client');
is(anon_name(from('127.0.0.1', $p_plain, get($whoami,
    'X-Forwarded-For' => '198.51.100.66, 203.0.113.7, 127.0.0.1'))), '203.0.113.7',
    'trusted entries are skipped from the right, and what the client wrote on the left is not believed');
is(parse_response(from('127.0.0.1', $p_plain, get('/mwsup-status',
    'X-Forwarded-For' => '203.0.113.7')))->{status}, 403,
    'the status page judges the client behind the proxy, not the proxy on loopback');
is(parse_response(from('127.0.0.1', $p_plain, get('/mwsup-status')))->{status}, 200,
    'and still answers a loopback client itself');
like(redirect_of(from('127.0.0.1', $p_plain, get($go,
    'X-Forwarded-For' => '203.0.113.7', 'X-Forwarded-Proto' => 'https'))),
    qr{^https://127\.0\.0\.1:\d+/wiki/Main_Page$},
    'a trusted peer\'s X-Forwarded-Proto: https makes the wiki\'s redirects https');

# --- PROXY protocol by hand ----------------------------------------------
my $v2 = sub {
	my ($src, $sport, $tlv) = @_;
	my $addr = pack('C4', split /\./, $src) . pack('C4', 127, 0, 0, 1) . pack('nn', $sport, $p_pp) .
	    ($tlv // '');
	return "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x21, 0x11, length $addr) . $addr;
};
is(anon_name(from('127.0.0.9', $p_pp, "PROXY TCP4 192.0.2.5 127.0.0.1 40000 $p_pp\r\n" . get($whoami))),
    '192.0.2.5', 'PROXY v1 by hand: the client it names');
is(anon_name(from('127.0.0.9', $p_pp, $v2->('192.0.2.6', 40001) . get($whoami))),
    '192.0.2.6', 'PROXY v2 by hand: the client it names');
# PP2_TYPE_SSL (0x20) with PP2_CLIENT_SSL: the client came over TLS
like(redirect_of(from('127.0.0.9', $p_pp, $v2->('192.0.2.6', 40002, pack('CnCN', 0x20, 5, 1, 0)) . get($go))),
    qr{^https://}, 'PROXY v2 saying the client came over TLS: PHP gets HTTPS=on');
like(redirect_of(from('127.0.0.9', $p_pp, $v2->('192.0.2.6', 40003) . get($go))),
    qr{^http://}, 'without that TLV: http');
my ($got, $closed) = from('127.0.0.9', $p_pp, get($whoami), timeout => 10);
ok($closed && $got eq '', 'a request without a PROXY header on that listener: closed, no answer')
	or diag(substr($got, 0, 200));
($got, $closed) = from('127.0.0.9', $p_pp, "PROXY TCP4 192.0.2.300 127.0.0.1 1 2\r\n" . get($whoami), timeout => 10);
ok($closed && $got eq '', 'a malformed PROXY v1 line: closed, no answer');
($got, $closed) = from('127.0.0.9', $p_pp, "\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x04abcd" . get($whoami), timeout => 10);
ok($closed && $got eq '', 'a PROXY v2 header too short for its addresses: closed');
ok(wait_until(sub { log_text($srv) =~ /no PROXY protocol header on a proxy_protocol listener; closed/ }, 5),
    'the log says a connection came without the header');
like(log_text($srv), qr/malformed PROXY v1 line on a proxy_protocol listener; closed/, 'and which one was malformed');
like(log_text($srv), qr/PROXY v2 header too short for its addresses/, 'and which v2 header was wrong');

# --- a unix socket client ------------------------------------------------
is(anon_name(from(undef, $sock, get($whoami, 'X-Forwarded-For' => '203.0.113.7'))), '0.0.0.0',
    'a unix socket client is 0.0.0.0 (never 127.0.0.1), its X-Forwarded-For ignored (unix not trusted)');

# --- a real HAProxy in front ---------------------------------------------
my ($h1, $h2, $h3) = (free_port(), free_port(), free_port());
# HTTP mode: the backend README.md shows, as written there
my ($readme_backend) = read_file(repo_dir() . '/README.md') =~ /^(backend mediawiki\n(?:    .*\n)+)/m
	or die "test bug: no \"backend mediawiki\" block in README.md\n";
$readme_backend =~ s/\b127\.0\.0\.1:8080\b/127.0.0.1:$p_plain/ or die "test bug: README's backend has no 127.0.0.1:8080\n";
my $hcfg = test_dir() . '/haproxy.cfg';
write_file($hcfg, <<EOF);
global
	maxconn 100
defaults
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend pp1
	mode tcp
	bind 127.0.0.1:$h1
	default_backend pp1
backend pp1
	mode tcp
	server mwsup 127.0.0.1:$p_pp send-proxy
frontend pp2
	mode tcp
	bind 127.0.0.1:$h2
	default_backend pp2
backend pp2
	mode tcp
	server mwsup 127.0.0.1:$p_pp send-proxy-v2
frontend web
	mode http
	bind 127.0.0.1:$h3
	default_backend mediawiki
$readme_backend
EOF
($rc, $out, $err) = run_cmd($haproxy, '-c', '-f', $hcfg);
is($rc, 0, 'haproxy -c accepts the configuration') or diag("$out$err");
my $hlog = test_dir() . '/haproxy.log';
my $hpid = fork() // die "fork: $!\n";
if ($hpid == 0) {
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', $hlog);
	open(STDERR, '>&', \*STDOUT);
	exec($haproxy, '-db', '-f', $hcfg) or POSIX::_exit(127);
}
END { kill('TERM', $hpid) if $hpid; }
ok(wait_until(sub { my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $h3); $s && close($s) }, 10),
    'haproxy listens') or diag(eval { read_file($hlog) });

is(anon_name(from('127.0.0.7', $h1, get($whoami))), '127.0.0.7',
    'through HAProxy send-proxy (v1): MediaWiki sees the client, 127.0.0.7');
is(anon_name(from('127.0.0.8', $h2, get($whoami))), '127.0.0.8',
    'through HAProxy send-proxy-v2: 127.0.0.8');
is(anon_name(from('127.0.0.6', $h3, get($whoami))), '127.0.0.6',
    'through HAProxy in HTTP mode (X-Forwarded-For): 127.0.0.6');
is(anon_name(from('127.0.0.6', $h3, get($whoami, 'X-Forwarded-For' => '198.51.100.66'))), '127.0.0.6',
    'an X-Forwarded-For the client sends HAProxy does not make it someone else');
like(redirect_of(from('127.0.0.6', $h3, get($go))),
    qr{^https://127\.0\.0\.1:\d+/wiki/Main_Page$},
    'and HAProxy\'s X-Forwarded-Proto: https reaches the wiki: an https redirect');

# An anonymous edit through HAProxy: its author is the client.
my $edit = "action=edit&format=json&title=Proxy_test&text=Edited+through+HAProxy&token=%2B%5C";
my $r = parse_response(from('127.0.0.6', $h3, "POST /api.php HTTP/1.1\r\nHost: 127.0.0.1:$p_plain\r\n" .
    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " . length($edit) .
    "\r\nConnection: close\r\n\r\n$edit"));
like($r->{body}, qr/"result":"Success"/, 'an anonymous edit through HAProxy succeeds') or diag($r->{body});
my $hist = parse_response(from('127.0.0.9', $p_plain,
    get('/api.php?action=query&prop=revisions&titles=Proxy_test&rvprop=user&format=json')));
like($hist->{body}, qr/"user":"127\.0\.0\.6"/, 'and the page history names the client, 127.0.0.6')
	or diag($hist->{body});

# --- the access log --------------------------------------------------------
kill('TERM', $hpid); waitpid($hpid, 0); $hpid = 0;
stopped_cleanly($srv);
my $log = read_file($access);
like($log, qr/^127\.0\.0\.7 - - .*"GET \/api\.php/m, 'the access log names the client behind send-proxy');
like($log, qr/^127\.0\.0\.6 - - .*"POST \/api\.php/m, 'and the one behind HTTP mode');
like($log, qr/^203\.0\.113\.7 - - /m, 'and the one a trusted peer forwards for');
like($log, qr/^unix: - - /m, 'a unix socket client is "unix:"');
unlike($log, qr/^198\.51\.100\.66 /m, 'no spoofed address made it into the log');

# --- proxy.proto_header: HTTPS=on from mwsup itself ----------------------
# MediaWiki reads no X-Scheme: an https redirect can only come from the
# HTTPS=on mwsup sets.
set_yaml($w, 'proxy.proto_header' => 'X-Scheme');
$srv = start_mwsup($w->{config}, port => $p_plain);
like(redirect_of(from('127.0.0.1', $p_plain, get($go, 'X-Scheme' => 'https'))),
    qr{^https://}, 'proto_header X-Scheme: https from a trusted peer gives PHP HTTPS=on');
like(redirect_of(from('127.0.0.1', $p_plain, get($go, 'X-Scheme' => 'http'))),
    qr{^http://}, 'X-Scheme: http does not');
like(redirect_of(from('127.0.0.9', $p_plain, get($go, 'X-Scheme' => 'https'))),
    qr{^http://}, 'nor X-Scheme: https from an untrusted peer');
like(redirect_of(from('127.0.0.9', $p_plain, get($go, 'X-Forwarded-Proto' => 'https'))),
    qr{^http://}, 'and X-Forwarded-Proto, which MediaWiki reads itself, still never reaches it from there');
stopped_cleanly($srv);

done_testing();
