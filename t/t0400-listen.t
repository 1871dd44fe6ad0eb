#!/usr/bin/perl
# mwsup listens where mw.yaml says: a unix socket (for a front proxy on the
# same host), and IPv4 and IPv6 TCP addresses at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1);
my $site = $w->{sitename};

# Unix socket paths are limited to 107 bytes: keep it short, under /tmp.
my $sockdir = tempdir('mwsup-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $sockdir;
my $sock = "$sockdir/mw.sock";
set_yaml($w, listen => ["unix:$sock"]);

sub get_over_unix {
	my ($path) = @_;
	return parse_response(raw($sock, "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$w->{port}\r\n" .
	    "Connection: close\r\n\r\n", timeout => 30));
}

my $srv = start_mwsup($w->{config}, unix => $sock);
ok(-S $sock, 'mwsup created the unix socket');
my $r = get_over_unix('/wiki/Main_Page');
subtest 'the Main Page is served over the unix socket' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{body}, qr{<title>\Q$site\E</title>}, 'the wiki\'s Main Page');
	like($r->{body}, qr/MediaWiki has been installed/, 'with its text');
};
$r = get_over_unix('/resources/assets/poweredby_mediawiki_88x31.png');
is($r->{status}, 200, 'a static file is served over the unix socket too');
ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$w->{port}", Timeout => 2),
    'the TCP port mkwiki chose is not listened on when only the socket is configured');

stopped_cleanly($srv);
# A second start on the same path must work, whether mwsup removed its
# socket on exit or replaces a stale one on start.
$srv = start_mwsup($w->{config}, unix => $sock);
is(get_over_unix('/wiki/Main_Page')->{status}, 200,
    'a restarted mwsup serves on the same socket path again');
stopped_cleanly($srv);

SKIP: {
	skip 'this machine has no IPv6 loopback (::1)', 5 unless have_ipv6();
	my $port6 = free_port6();
	set_yaml($w, listen => ["127.0.0.1:$w->{port}", "[::1]:$port6"]);
	$srv = start_mwsup($w->{config});
	my $r4 = http(GET => '/wiki/Main_Page', undef, undef, { host => '127.0.0.1', port => $w->{port} });
	my $r6 = http(GET => '/wiki/Main_Page', undef, undef, { host => '::1', port => $port6 });
	is($r4->{status}, 200, 'with two listen addresses, the IPv4 one serves the Main Page');
	is($r6->{status}, 200, "and so does the IPv6 one, [::1]:$port6");
	like($r6->{body}, qr{<title>\Q$site\E</title>}, 'the IPv6 answer is the wiki\'s Main Page');
	stopped_cleanly($srv);
}

done_testing();
