#!/usr/bin/perl
# Clients that do not read their answers do not hold PHP workers.  A
# worker writes what the client's socket takes and hands the rest (in
# memory up to limits.response_buffer, in an unlinked file of temp_dir
# beyond) back to the supervisor, which finishes it from its event loop;
# the worker is free for the next request as soon as its answer is made.
# Two clients on a two-worker pool ask for a ~1 MB answer and read
# nothing: a Main Page view still answers at once, the rest of the two
# answers sits in temp_dir files the supervisor holds, and when the two
# clients read they get every byte, the one on a kept-alive connection
# then a second answer; the access log counts the bytes they got.  A
# worker killed in its post-send work after handing a page back does not
# cut it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $BIG = '/api.php?action=query&meta=allmessages&format=json';
my $w = wiki('pool.workers' => 2, 'timeouts.request' => 30,
    'limits.response_buffer' => '64k');
my $tmp = "$w->{dir}/tmp";
my $logdir = "$w->{dir}/logs";
mkdir $logdir or die "mkdir $logdir: $!\n";
chmod 0777, $logdir;
my $log = "$logdir/access.log";
set_yaml($w, 'log.access' => $log);
my $srv = start_mwsup($w->{config});

# Descriptors of mwsup open on files of temp_dir (unlinked: "(deleted)").
sub temp_files {
	my $n = 0;
	opendir(my $dh, "/proc/$srv->{pid}/fd") or return 0;
	for (readdir $dh) {
		my $l = readlink("/proc/$srv->{pid}/fd/$_") // next;
		$n++ if index($l, "$tmp/") == 0;
	}
	return $n;
}

# One whole response from a socket: its raw bytes, then parsed.
sub read_one {
	my ($s, $timeout) = @_;
	my $buf = '';
	my $end = time() + $timeout;
	while (time() < $end) {
		if ($buf =~ /\A(.*?\r\n\r\n)/s) {
			my $head = $1;
			if ($head =~ /^Content-Length: (\d+)/mi) {
				return $buf if length($buf) >= length($head) + $1;
			} elsif ($buf =~ /\r\n0\r\n\r\n\z/) {
				return $buf;
			}
		}
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		last unless select(my $rout = $rin, undef, undef, $end - time()) > 0;
		my $got = sysread($s, my $chunk, 65536);
		last unless $got;
		$buf .= $chunk;
	}
	return $buf;
}

my $ref = http(GET => $BIG);
is($ref->{status}, 200, 'the big answer, read at once, is 200');
cmp_ok(length($ref->{body}), '>', 800_000, 'and about 1 MB');
is(http(GET => '/wiki/Main_Page')->{status}, 200, 'Main Page answers (parser cache warm)');

# Two clients, 4 KB receive buffers and a real network's segment size,
# ask for the big answer and read nothing; one keeps its connection alive.
my $keep = raw_begin($srv->{port}, "GET $BIG HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", rcvbuf => 2048, mss => 1400);
my $close = raw_begin($srv->{port}, "GET $BIG HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    rcvbuf => 2048, mss => 1400);
ok(wait_until(sub { temp_files() >= 2 }, 15),
    'the rest of both answers, past limits.response_buffer, is in temp_dir files the supervisor holds');
opendir(my $dh, $tmp) or die "$tmp: $!\n";
is(scalar(grep { !/^\.\.?$/ } readdir $dh), 0, 'files without a name there (nothing to clean up after a crash)');
closedir $dh;

my $t0 = time();
my ($page) = raw($srv->{port}, "GET /wiki/Main_Page HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    timeout => 20);
my $took = time() - $t0;
like($page // '', qr{\AHTTP/1\.1 200 .*Main Page}s, 'a third client gets the Main Page while both slow clients read nothing');
cmp_ok($took, '<', 2, 'within 2 seconds (the workers are not held by the slow clients)');

# Now they read: every byte, in order.
my $first = read_one($keep, 20);
my $r = parse_response($first);
is($r->{status}, 200, 'the kept-alive slow client gets 200');
ok($r->{body} eq $ref->{body}, 'and the same answer, byte for byte, as a client that read at once')
    or diag('got ' . length($r->{body}) . ' bytes of ' . length($ref->{body}));
syswrite($keep, "GET /api.php?action=query&meta=siteinfo&format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    . "Connection: close\r\n\r\n");
my $second = parse_response(raw_end($keep, timeout => 20));
is($second->{status}, 200, 'its connection then carries a second request');
like($second->{body}, qr/"sitename"/, 'answered in full');

my $all = raw_end($close, timeout => 20);
$r = parse_response($all);
is($r->{status}, 200, 'the other slow client gets 200');
ok($r->{body} eq $ref->{body}, 'and the same answer, byte for byte')
    or diag('got ' . length($r->{body}) . ' bytes of ' . length($ref->{body}));
ok(wait_until(sub { temp_files() == 0 }, 10), 'the temp files are gone once sent');

# The access log counts the bytes each client got, head included.
my @big;
wait_until(sub { @big = grep { m{"GET \Q$BIG\E HTTP/1\.1" 200 } } split /\n/, read_file($log); @big >= 3 }, 10);
my @bytes = sort { $a <=> $b } map { / 200 (\d+) / ? $1 : () } @big;
is(scalar(@bytes), 3, 'the three big answers are in the access log');
ok((grep { $_ == length($first) } @bytes) && (grep { $_ == length($all) } @bytes),
    'with the bytes the slow clients got (' . length($first) . ', ' . length($all) . ')')
    or diag("logged: @bytes");
log_unlike($srv, qr/over the \d+ ms timeout/, 'no worker was killed for its time');

stopped_cleanly($srv);

# A worker that dies in its post-send work, after handing back a page
# (~1 MB, most of it not taken by its slow client yet): the client still
# reads all of it.
{
	my $w3 = wiki('pool.workers' => 1, 'limits.response_buffer' => '64k');
	my $dir = test_dir();
	mkdir "$dir/run"; chmod 0777, "$dir/run";
	my $mark = "$dir/run/post-send";
	append_settings($w3, <<"EOF2");
\$wgHooks['BeforePageDisplay'][] = static function ( \$out ) {
	if ( \$out->getRequest()->getVal( 'mwsup_test_post_send' ) ) {
		\$out->addHTML( '<p>' . str_repeat( 'padding ', 125000 ) . '</p>' );
		DeferredUpdates::addCallableUpdate( static function () {
			touch( '$mark' );
			sleep( 30 );
		}, DeferredUpdates::POSTSEND );
	}
};
EOF2
	my $srv3 = start_mwsup($w3->{config});
	my ($pid) = worker_pids($srv3);
	my $s = raw_begin($srv3->{port}, "GET /wiki/Main_Page?mwsup_test_post_send=1 HTTP/1.1\r\n"
	    . "Host: 127.0.0.1\r\nConnection: close\r\n\r\n", rcvbuf => 2048, mss => 1400);
	ok(wait_until(sub { -e $mark }, 20), 'the worker reaches its post-send work while the client has read nothing');
	kill('KILL', $pid);
	sleep(0.5);
	my $got = parse_response(raw_end($s, timeout => 20));
	is($got->{status}, 200, 'killed there, its slow client still gets 200');
	cmp_ok(length($got->{body}), '>', 1_000_000, 'and the whole page of over 1 MB')
	    or diag(length($got->{body}) . ' bytes');
	like($got->{body}, qr{</html>\s*\z}, 'to its end');
	stopped_cleanly($srv3);
}

# Without temp_dir room the worker waits for the client instead: the
# answer is still whole.
{
	my $w2 = wiki('pool.workers' => 1, 'limits.response_buffer' => '0');
	my $srv2 = start_mwsup($w2->{config});
	chmod 0500, "$w2->{dir}/tmp";
	my $s = raw_begin($srv2->{port}, "GET $BIG HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    rcvbuf => 2048, mss => 1400);
	sleep(1);
	my $got = parse_response(raw_end($s, timeout => 20));
	ok($got->{body} eq $ref->{body}, 'a temp_dir that cannot be written: the slow client still gets the whole answer');
	log_like($srv2, qr/keeping \d+ bytes of an answer for a slow client \(temp_dir \S+\): Permission denied; the worker waits/,
	    'and the log says why the worker waited');
	chmod 0700, "$w2->{dir}/tmp";
	stopped_cleanly($srv2);
}
done_testing();
