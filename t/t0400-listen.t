#!/usr/bin/perl
# mwsup listens where mw.yaml says: a unix socket (for a front proxy on the
# same host), and IPv4 and IPv6 TCP addresses at once.  The unix socket gets
# unix_socket's owner, group and mode (default 0660, the account mwsup runs
# as), is removed when mwsup stops even after it dropped root, and mwsup
# never removes what is not its socket, nor takes over a live one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep);
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


my $as_root = $> == 0 && defined getpwnam('www-data');
my @www = $as_root ? (getpwnam('www-data'))[2, 3] : ($>, $) + 0);
my @st = stat($sock);
is(sprintf('%04o', $st[2] & 07777), '0660', 'the socket has the default mode 0660');
is("$st[4]:$st[5]", "$www[0]:$www[1]", $as_root
    ? 'and belongs to www-data:www-data, the account mwsup runs as (user, group)'
    : 'and belongs to the user running mwsup');

# connects($user, $group): may that account connect to the socket?
sub connects {
	my ($user, $group) = @_;
	my ($rc) = run_cmd('setpriv', "--reuid=$user", "--regid=$group", '--clear-groups',
	    'perl', '-MIO::Socket::UNIX', '-e',
	    'exit(IO::Socket::UNIX->new(Peer => $ARGV[0]) ? 0 : 3)', $sock);
	return $rc == 0;
}
SKIP: {
	skip 'needs root, setpriv and the users www-data and nobody', 2
	    unless $as_root && getpwnam('nobody') && getgrnam('nogroup');
	ok(connects('www-data', 'www-data'), 'www-data may connect');
	ok(!connects('nobody', 'nogroup'), 'another account (nobody) may not');
}

# A second mwsup on the same path must not take the live socket over.
my $second = start_mwsup($w->{config}, unix => $sock, wait => 0);
my $gone = wait_until(sub { waitpid($second->{pid}, WNOHANG) == $second->{pid} }, 30);
my $second_status = $?;
if ($gone) {
	$second->{stopped} = 1;
} else {
	stop_mwsup($second);
}
subtest 'a second mwsup on the same socket path refuses to start' => sub {
	ok($gone, 'it exits');
	is($second_status >> 8, 1, 'with status 1');
	like(log_text($second), qr{listen unix:\Q$sock\E: in use by another process},
	    'saying the socket is in use');
};
is(get_over_unix('/wiki/Main_Page')->{status}, 200, 'and the first one still serves on it');

stopped_cleanly($srv);
ok(wait_until(sub { !-e $sock }, 5), $as_root
    ? 'the socket is gone after SIGTERM, though mwsup ran as www-data and the directory is root\'s'
    : 'the socket is gone after SIGTERM');

# A second start on the same path must work, whether mwsup removed its
# socket on exit or replaces a stale one on start.
$srv = start_mwsup($w->{config}, unix => $sock);
is(get_over_unix('/wiki/Main_Page')->{status}, 200,
    'a restarted mwsup serves on the same socket path again');
stopped_cleanly($srv);

# unix_socket: owner, group, mode.
SKIP: {
	skip 'needs root and the group nogroup', 6 unless $as_root && getgrnam('nogroup');
	set_yaml($w, 'unix_socket.owner' => 'root', 'unix_socket.group' => 'nogroup',
	    'unix_socket.mode' => '0640');
	$srv = start_mwsup($w->{config}, unix => $sock);
	@st = stat($sock);
	is(sprintf('%04o', $st[2] & 07777), '0640', 'unix_socket.mode 0640 is the socket\'s mode');
	is("$st[4]:$st[5]", '0:' . getgrnam('nogroup'),
	    'unix_socket.owner root and .group nogroup are its owner and group');
	ok(!connects('www-data', 'www-data'), 'so www-data may not connect');
	# Someone else's socket now at the path: mwsup must leave it.
	unlink $sock;
	my $other = IO::Socket::UNIX->new(Local => $sock, Listen => 1)
		or die "listen $sock: $!\n";
	stopped_cleanly($srv);
	sleep(0.5);
	ok(-S $sock, 'a socket at the path that is not mwsup\'s is not removed at exit');
	close($other);
	unlink $sock;
}
set_yaml($w, 'unix_socket.owner' => undef, 'unix_socket.group' => undef,
    'unix_socket.mode' => undef);

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
