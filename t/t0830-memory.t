#!/usr/bin/perl
# The supervisor does not grow: 100,000 requests (files, 404s and 400 PHP
# requests, pipelined over keep-alive connections and over fresh ones)
# leave its resident memory where it was after a warm-up.  Under the ASan
# build, LeakSanitizer checks the same run for leaks at exit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use Test::More;
use MwTest;

my $TOTAL = $ENV{MWSUP_MEMORY_REQUESTS} // 100_000;
my $w = wiki('pool.workers' => 2);
my $srv = start_mwsup($w->{config});
my $port = $srv->{port};

sub rss_kb {
	my ($kb) = read_file("/proc/$srv->{pid}/status") =~ /^VmRSS:\s+(\d+) kB/m;
	return $kb;
}

# One keep-alive connection, $n pipelined requests in batches; returns how
# many answers came back.
sub burst {
	my ($n, @paths) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port) or die "connect: $!\n";
	my ($sent, $got, $buf) = (0, 0, '');
	while ($sent < $n) {
		my $batch = '';
		for (1 .. 50) {
			last if $sent >= $n;
			$batch .= "GET $paths[$sent++ % @paths] HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
		}
		syswrite($s, $batch) or die "write: $!\n";
		my $want = $sent;
		while ($got < $want) {
			my $r = sysread($s, my $chunk, 262144);
			die "read: connection closed after $got answers\n" unless $r;
			$buf .= $chunk;
			while ($buf =~ /\A(HTTP\/1\.1 \d{3} .*?\r\n\r\n)/s) {
				my $head = $1;
				my ($len) = $head =~ /Content-Length: (\d+)/i;
				last if length($buf) < length($head) + ($len // 0);
				substr($buf, 0, length($head) + ($len // 0), '');
				$got++;
			}
		}
	}
	close($s);
	return $got;
}

my @paths = ('/resources/assets/poweredby_mediawiki_88x31.png', '/no/such/thing.css',
    '/resources/assets/change-your-logo.svg', '/resources/assets/file-type-icons/fileicon.png');
my $php = '/api.php?action=query&meta=siteinfo&format=json';

# warm-up
burst(5000, @paths);
burst(200, $php);
my $before = rss_kb();
my $done = 0;
my $conns = 0;
while ($done < $TOTAL - 400) {
	my $n = $TOTAL - 400 - $done < 2000 ? $TOTAL - 400 - $done : 2000;
	$done += burst($n, @paths);
	$conns++;
}
$done += burst(100, $php) for 1 .. 4;	# 400 PHP requests through workers
my $after = rss_kb();
cmp_ok($done, '>=', $TOTAL, "$done requests answered over $conns connections");
diag("supervisor VmRSS: $before kB after warm-up, $after kB after $done requests");
SKIP: {
	# ASan keeps freed memory in quarantine, so RSS grows by design there;
	# that run checks for leaks with LeakSanitizer at exit instead.
	skip 'RSS is not meaningful under AddressSanitizer (LeakSanitizer checks leaks at exit)', 1
		if build_dir() =~ /asan/;
	cmp_ok($after - $before, '<=', 512, 'the supervisor\'s resident memory grew by at most 512 kB');
}
my $r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'and it still serves pages');
stopped_cleanly($srv);
done_testing();
