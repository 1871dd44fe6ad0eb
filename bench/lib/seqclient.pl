#!/usr/bin/perl
# seqclient.pl PORT N PATH HOST... : N GETs one after the other on one
# keep-alive connection to 127.0.0.1:PORT, each with the next of the HOSTs
# in turn as its Host; prints their p50, p90, p99 and mean in ms and the
# answers that were not 200 (bench/farm).
use strict; use warnings; use IO::Socket::INET; use Time::HiRes qw(time);
my ($port, $n, $path, @hosts) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die "connect: $!";
my (@t, $err);
for my $i (0 .. $n - 1) {
	my $h = $hosts[$i % @hosts];
	my $t0 = time;
	print $s "GET $path HTTP/1.1\r\nHost: $h\r\n\r\n";
	my $head = '';
	while ($head !~ /\r\n\r\n/) { sysread($s, my $b, 1) or die "eof"; $head .= $b; }
	my ($st) = $head =~ m{^HTTP/1\.1 (\d+)};
	$err++ if $st != 200;
	if ($head =~ /Content-Length: (\d+)/i) { my $l = $1; my $body = ''; while (length $body < $l) { sysread($s, my $b, $l - length $body) or die; $body .= $b } }
	elsif ($head =~ /chunked/i) {
		while (1) { my $line = ''; while ($line !~ /\r\n$/) { sysread($s, my $b, 1) or die; $line .= $b }
			my $len = hex $line; my $d = ''; while (length $d < $len + 2) { sysread($s, my $b, $len + 2 - length $d) or die; $d .= $b } last if $len == 0; }
	}
	push @t, (time - $t0) * 1000;
}
@t = sort { $a <=> $b } @t;
my $sum = 0; $sum += $_ for @t;
printf "n=%d p50=%.2f p90=%.2f p99=%.2f mean=%.2f err=%d\n", $n, $t[int($n*.5)], $t[int($n*.9)], $t[int($n*.99)], $sum/$n, $err // 0;
