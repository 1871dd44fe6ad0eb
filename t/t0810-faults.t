#!/usr/bin/perl
# Faults the supervisor must survive without hanging anyone: a request
# over timeouts.request (504, worker replaced), recycling by max_requests
# (replaced while the other serves), a graceful stop that finishes the
# request in flight, a second SIGTERM that does not wait, workers that
# never become ready (killed and replaced), a worker that dies before it
# takes the request it was handed (another serves it), one that dies after
# writing its response (the client still gets all of it), a worker binary
# that cannot start at all (back-off, static files still served, PHP gets 503 at once),
# and running out of file descriptors (accepts pause, nothing spins, service
# resumes).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::IP;
use MwTest;

my $PNG = '/resources/assets/poweredby_mediawiki_88x31.png';

sub sleeper_settings {
	my ($w) = @_;
	append_settings($w, <<'EOF2');
$wgHooks['BeforeInitialize'][] = static function () {
	if ( isset( $_GET['mwsup_test_sleep'] ) ) {
		sleep( (int)$_GET['mwsup_test_sleep'] );
	}
};
$wgHooks['ApiBeforeMain'][] = static function () {
	if ( isset( $_GET['mwsup_test_sleep'] ) ) {
		sleep( (int)$_GET['mwsup_test_sleep'] );
	}
};
EOF2
}

sub bg_get {	# fork a client; returns pid; result in $file
	my ($port, $path, $file) = @_;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		my ($out, $closed) = raw($port, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout => 60);
		write_file($file, $out // '');
		POSIX::_exit(0);
	}
	return $pid;
}

# --- request timeout and recycling ---------------------------------------
{
	my $w = wiki('pool.workers' => 2, 'timeouts.request' => 2);
	sleeper_settings($w);
	my $srv = start_mwsup($w->{config});
	my @before = sort { $a <=> $b } worker_pids($srv);
	my $t0 = time();
	my ($out) = raw($srv->{port}, "GET /wiki/Main_Page?mwsup_test_sleep=30 HTTP/1.1\r\nHost: x\r\n\r\n", timeout => 30);
	my $took = time() - $t0;
	like($out // '', qr{\AHTTP/1\.1 504 }, 'a request running past timeouts.request gets 504 Gateway Timeout');
	cmp_ok($took, '<', 20, 'well before the script would have finished');
	log_like($srv, qr/request over the 2000 ms timeout; killing it/, 'the log says which worker was killed and why');
	# The killed worker may still be listed for a moment: wait for the
	# pool to hold two workers of which one is new.
	my %old = map { $_ => 1 } @before;
	my $after = wait_until(sub {
		my @p = worker_pids($srv);
		@p == 2 && grep({ !$old{$_} } @p) ? \@p : undef
	}, 20) // [worker_pids($srv)];
	is(scalar(@$after), 2, 'the pool is back to two workers');
	is(scalar(grep { !$old{$_} } @$after), 1, 'exactly one of them is new');
	stopped_cleanly($srv);
}
{
	# recycling: 5 requests per worker, then it is replaced.  A pool of
	# its own with the default timeouts.request: a request that waits for
	# a worker being replaced must not meet the 2 s timeout above (a slow
	# start under a sanitizer would answer it 503).
	my $w = wiki('pool.workers' => 2, 'recycle.max_requests' => 5);
	my $srv = start_mwsup($w->{config});
	# Each request is sent once (HTTP::Tiny would send a GET cut short again)
	# and must come back whole; every other one is a POST.
	my %seen;
	for my $i (1 .. 14) {
		my ($v, $r) = $i % 2
		    ? once($srv->{port}, GET => '/api.php?action=query&meta=siteinfo&format=json')
		    : once($srv->{port}, POST => '/api.php', body => 'action=query&meta=siteinfo&format=json');
		$seen{$v eq 'complete' && $r->{status} == 200 && $r->{body} =~ /"sitename"/ ? 'whole 200' : "$v $r->{status}"}++;
	}
	is_deeply(\%seen, { 'whole 200' => 14 },
	    'fourteen requests (GET and POST, each sent once) across recycling all get a whole 200');
	my ($rc, $json) = run_cmd(mwsup_bin(), 'status', '-c', $w->{config}, '--json');
	my ($recycles) = $json =~ /"recycles":(\d+)/;
	cmp_ok($recycles // 0, '>=', 2, 'workers were recycled after recycle.max_requests (status counts them)');
	stopped_cleanly($srv);
}
{
	# recycle.max_rss below what any worker uses: replaced after each request
	my $w = wiki('pool.workers' => 1, 'recycle.max_rss' => '1M');
	my $srv = start_mwsup($w->{config});
	my @pids;
	for my $i (1 .. 3) {
		my ($v, $r) = $i == 2
		    ? once($srv->{port}, POST => '/api.php', body => 'action=query&meta=siteinfo&format=json')
		    : once($srv->{port}, GET => '/api.php?action=query&meta=siteinfo&format=json');
		is("$v $r->{status}", 'complete 200',
		    "a request ($i, sent once) to a worker over recycle.max_rss still gets its whole answer");
		push @pids, wait_until(sub { my @p = worker_pids($srv); @p == 1 && !grep({ $_ == $p[0] } @pids) ? $p[0] : undef }, 30);
	}
	log_like($srv, qr/resident memory \d+ KiB over 1024 KiB: asking for a successor/, 'the worker says it is over max_rss and is replaced');
	is(scalar(grep { defined } @pids), 3, 'each request left a new worker behind');
	stopped_cleanly($srv);
}

{
	# Replacement without a dip: a worker at recycle.max_requests goes on
	# serving while its successor bootstraps, and quits once that one is
	# ready.  A pool of one: the 4th request, sent while the successor is
	# still starting, must be served at once by the old worker (the access
	# log names the pid), not wait for the successor's bootstrap.
	my $w = wiki('pool.workers' => 1, 'recycle.max_requests' => 3);
	my $alog = test_dir() . '/replace-access.log';
	set_yaml($w, 'log.access' => $alog);
	my $srv = start_mwsup($w->{config});
	my ($old) = worker_pids($srv);
	my $api = '/api.php?action=query&meta=siteinfo&format=json';
	for my $i (1 .. 3) {
		my ($v, $r) = once($srv->{port}, GET => "$api&n=$i");
		is("$v $r->{status}", 'complete 200', "request $i of 3 before the limit");
	}
	my $states = sub {
		my ($rc, $json) = run_cmd(mwsup_bin(), 'status', '-c', $w->{config}, '--json');
		my @pairs = $json =~ /"pid":(\d+),"generation":\d+,"state":"(\w+)"/g;
		return join ' ', map { "$pairs[2 * $_]:$pairs[2 * $_ + 1]" } 0 .. $#pairs / 2;
	};
	my $st = wait_until(sub { my $s = $states->(); $s =~ /:starting/ ? $s : undef }, 10);
	like($st // '', qr/\b$old:idle\b.*:starting|:starting.*\b$old:idle\b/,
	    'at the limit the old worker stays idle while a successor starts');
	my ($v, $r) = once($srv->{port}, GET => "$api&n=4");
	is("$v $r->{status}", 'complete 200', 'a request sent while the successor starts gets its answer');
	wait_until(sub { grep { /n=4/ } split /\n/, read_file($alog) }, 5);
	my ($line4) = grep { /n=4/ } split /\n/, read_file($alog);
	like($line4 // '', qr/ $old$/, "... from the old worker (pid $old), with no wait for a bootstrap");
	my $new = wait_until(sub { my @p = worker_pids($srv); @p == 1 && $p[0] != $old ? $p[0] : undef }, 60);
	ok($new, 'once the successor is ready the old worker is gone and one worker is left');
	log_like($srv, qr/at its limit; starting worker \d+ to replace it/, 'the supervisor logs the replacement');
	log_like($srv, qr/\(pid $old\): replaced by worker \d+/, '... and the retirement of the old worker');
	($v, $r) = once($srv->{port}, GET => "$api&n=5");
	is("$v $r->{status}", 'complete 200', 'the successor serves');
	stopped_cleanly($srv);
}

# --- graceful stop ----------------------------------------------------------
{
	my $w = wiki('pool.workers' => 1, 'timeouts.shutdown' => 20);
	sleeper_settings($w);
	my $srv = start_mwsup($w->{config});
	my $f = test_dir() . '/drain.out';
	my $kid = bg_get($srv->{port}, '/api.php?action=query&meta=siteinfo&format=json&mwsup_test_sleep=3', $f);
	sleep(1);
	kill 'TERM', $srv->{pid};
	my $t0 = time();
	waitpid($srv->{pid}, 0);
	my $st = $?;
	waitpid($kid, 0);
	like(read_file($f), qr{\AHTTP/1\.1 200 .*"sitename"}s, 'SIGTERM lets the request in flight finish with a full answer');
	is($st, 0, 'and mwsup then exits 0');
	my $c = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->{port});
	ok(!$c, 'after the stop nothing listens on the port any more');
	$srv->{stopped} = 1;	# reaped above
}
# Connections accepted before SIGTERM whose requests come after it (a
# restart under load): the workers stay until those are answered.
{
	my $w = wiki('pool.workers' => 2, 'timeouts.shutdown' => 20);
	sleeper_settings($w);
	my $srv = start_mwsup($w->{config});
	my $f = test_dir() . '/late.out';
	my $kid = bg_get($srv->{port}, '/api.php?action=query&meta=siteinfo&format=json&mwsup_test_sleep=2', $f);
	my @socks = map {
		IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->{port})
		    or die "connect: $!\n"
	} 1 .. 3;
	sleep(1);	# accepted, one worker busy, nothing sent yet
	kill 'TERM', $srv->{pid};
	select(undef, undef, undef, 0.3);
	for my $s (@socks) {
		print $s "GET /api.php?action=query&meta=siteinfo&format=json HTTP/1.1\r\n" .
		    "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
	}
	my @got = map {
		my $s = $_;
		local $/;
		my $out = <$s> // '';
		$out =~ /\AHTTP\/1\.1 (\d{3}) .*"sitename"/s ? $1 : 'none';
	} @socks;
	is("@got", '200 200 200',
	    'three requests sent after SIGTERM on connections accepted before it get full answers');
	waitpid($kid, 0);
	like(read_file($f), qr{\AHTTP/1\.1 200 }, 'as does the one in flight');
	waitpid($srv->{pid}, 0);
	is($?, 0, 'then mwsup exits 0');
	$srv->{stopped} = 1;	# reaped above
}
{
	my $w = wiki('pool.workers' => 1, 'timeouts.shutdown' => 60);
	sleeper_settings($w);
	my $srv = start_mwsup($w->{config});
	my $f = test_dir() . '/hard.out';
	my @workers = worker_pids($srv);
	is(scalar @workers, 1, 'one worker before the stop');
	my $kid = bg_get($srv->{port}, '/api.php?action=query&meta=siteinfo&format=json&mwsup_test_sleep=30', $f);
	sleep(1);
	kill 'TERM', $srv->{pid};
	sleep(0.5);
	my $t0 = time();
	kill 'TERM', $srv->{pid};
	waitpid($srv->{pid}, 0);
	cmp_ok(time() - $t0, '<', 5, 'a second SIGTERM stops mwsup at once instead of waiting 60 s');
	# The workers' pids, recorded before: once mwsup is reaped nothing
	# has it as a parent any more.  Each must be gone from /proc (a
	# zombie re-parented to init is gone soon after; give it a moment),
	# long before the 30 s request would have ended.
	ok(wait_until(sub { !grep { -e "/proc/$_" && (split ' ', read_file("/proc/$_/stat"))[2] ne 'Z' } @workers }, 3),
	    "and leaves no worker behind (@workers gone)");
	kill('KILL', @workers);	# in case they were not
	waitpid($kid, 0);
	$srv->{stopped} = 1;	# reaped above
}

# --- workers that never get ready, and ones that cannot start -------------
{
	my $w = wiki('pool.workers' => 1, 'timeouts.startup' => 1);
	my $stuck = test_dir() . '/stuck-worker';
	write_file($stuck, "#!/bin/sh\nexec sleep 1000\n");
	chmod 0755, $stuck;
	set_yaml($w, 'pool.worker' => $stuck);
	my $srv = start_mwsup($w->{config}, wait => 0);
	log_like($srv, qr/not ready after 1000 ms; killing it/, 'a worker that never reports ready is killed after timeouts.startup');
	ok(wait_until(sub { (() = log_text($srv) =~ /not ready after/g) >= 2 }, 15), 'and replaced (its replacement is judged the same way)');
	stop_mwsup($srv);
}
{
	my $w = wiki('pool.workers' => 2);
	set_yaml($w, 'pool.worker' => '/bin/false');
	my $srv = start_mwsup($w->{config}, wait => 0);
	wait_until(sub { log_text($srv) =~ /failed 3 times in a row; next start in \d+ ms/ }, 15);
	my %delay = log_text($srv) =~ /failed (\d+) times in a row; next start in (\d+) ms/g;
	my @d = map { $delay{$_} } sort { $a <=> $b } keys %delay;
	ok(@d >= 2 && !grep({ $d[$_] <= $d[$_ - 1] } 1 .. $#d),
	    "a worker that keeps failing is restarted with growing back-off (@d ms)");
	my $r = wait_until(sub { my $x = http(GET => $PNG, {}, undef, { port => $srv->{port} }); $x->{status} == 200 ? $x : undef }, 10);
	ok($r, 'static files are still served while no worker can start');
	my $t0 = time();
	$r = http(GET => '/wiki/Main_Page', {}, undef, { port => $srv->{port} });
	is($r->{status}, 503, 'a PHP request gets 503');
	cmp_ok(time() - $t0, '<', 3, 'at once, not after a timeout');
	my $cpu0 = (split ' ', read_file("/proc/$srv->{pid}/stat"))[13];
	sleep(3);
	my $cpu1 = (split ' ', read_file("/proc/$srv->{pid}/stat"))[13];
	cmp_ok($cpu1 - $cpu0, '<', 50, 'the supervisor does not spin while workers fail (under 0.5 s CPU in 3 s)');
	stopped_cleanly($srv);
}

# --- a worker that goes away before it takes its request ----------------
# The supervisor hands a request to an idle worker; the worker dies before
# reading it (stopped, then killed).  Nothing of the request ran: it is
# served by another worker, not answered 502.  Both workers are stopped,
# so whichever gets it cannot read it; both are killed; the replacements
# serve it.  A POST too: the worker never saw it.
{
	my $w = wiki('pool.workers' => 2);
	my $srv = start_mwsup($w->{config}, args => ['-v']);
	my $dir = test_dir();
	for my $case (['GET', '/wiki/Main_Page', qr/MediaWiki has been installed/],
	    ['POST', '/api.php', qr/"general":\{/]) {
		my ($method, $path, $want) = @$case;
		my @pids = worker_pids($srv);
		is(scalar(@pids), 2, "two workers before the $method");
		my $n0 = () = log_text($srv) =~ /handed to worker \d+ \(pid (?:${\join('|', @pids)})\)/g;
		kill('STOP', @pids);
		my $file = "$dir/handover-$method";
		my $pid = fork() // die "fork: $!\n";
		if ($pid == 0) {
			my $body = 'action=query&meta=siteinfo&format=json';
			my $req = $method eq 'GET'
			    ? "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
			    : "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
			      . "Content-Type: application/x-www-form-urlencoded\r\n"
			      . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
			my ($out) = raw($srv->{port}, $req, timeout => 60);
			write_file($file, $out // '');
			POSIX::_exit(0);
		}
		# Wait until the supervisor has handed it over (mwsup -v logs
		# each hand-over).
		ok(wait_until(sub { (() = log_text($srv) =~ /handed to worker \d+ \(pid (?:${\join('|', @pids)})\)/g) > $n0 }, 20),
		    "the $method was handed to a (stopped) worker");
		kill('KILL', @pids);
		waitpid($pid, 0);
		my $r = parse_response(read_file($file));
		is($r->{status}, 200, "a $method handed to a worker that died before taking it is served by another");
		like($r->{body}, $want, "with the page asked for ($method)");
		my %killed = map { $_ => 1 } @pids;
		wait_until(sub { my @new = grep { !$killed{$_} } worker_pids($srv); @new == 2 }, 20);
		# Past the 2 s under which the supervisor counts a death as a
		# failure: two in a row would be a crash loop, answered 503.
		sleep(2.5);
	}
	log_like($srv, qr/went away before taking request \d+; handing it to another/,
	    'the log says the request was handed on');
	log_unlike($srv, qr/answered 502/, 'nobody got a 502');
	stopped_cleanly($srv);
}

# --- a worker that dies after its response was written -------------------
# A page of ~100 KB, to a client that reads nothing yet (a 4 KB receive
# buffer): the worker hands the whole response to the kernel in one write
# (growing the socket's send buffer for it, worker/response.c) and goes on
# to MediaWiki's post-send work, where it is killed.  The client then
# reads the complete page.  On loopback here the kernel took the whole
# page without the larger buffer too, so this guards what the client
# sees rather than that one change.
{
	my $w = wiki('pool.workers' => 1);
	my $dir = test_dir();
	# The worker may run as www-data (tests run as root).
	mkdir "$dir/run"; chmod 0777, "$dir/run";
	my $mark = "$dir/run/post-send";
	append_settings($w, <<"EOF2");
\$wgHooks['BeforePageDisplay'][] = static function ( \$out ) {
	if ( \$out->getRequest()->getVal( 'mwsup_test_post_send' ) ) {
		\$out->addHTML( '<p>' . str_repeat( 'padding ', 12500 ) . '</p>' );
		DeferredUpdates::addCallableUpdate( static function () {
			touch( '$mark' );
			sleep( 30 );
		}, DeferredUpdates::POSTSEND );
	}
};
EOF2
	my $srv = start_mwsup($w->{config});
	my ($pid) = worker_pids($srv);
	my $s = raw_begin($srv->{port}, "GET /wiki/Main_Page?mwsup_test_post_send=1 HTTP/1.1\r\n"
	    . "Host: 127.0.0.1\r\nConnection: close\r\n\r\n", rcvbuf => 4096);
	ok(wait_until(sub { -e $mark }, 20), 'the worker reaches its post-send work before the client reads');
	kill('KILL', $pid);
	sleep(0.5);
	my $r = parse_response(raw_end($s, timeout => 10));
	is($r->{status}, 200, 'the client gets 200');
	is(length($r->{body}), $r->{headers}{'content-length'} // -1,
	    'and the whole body its Content-Length announces');
	like($r->{body}, qr{</html>\s*\z}, 'the page is complete');
	stopped_cleanly($srv);
}

# --- out of file descriptors ---------------------------------------------
SKIP: {
	skip 'prlimit is not installed', 4 unless grep { -x "$_/prlimit" } split /:/, $ENV{PATH};
	my $w = wiki('pool.workers' => 1);
	# About a dozen descriptors are in use before any client comes.
	my $srv = start_mwsup($w->{config}, wrap => [ 'prlimit', '--nofile=40:40', '--' ]);
	my @socks;
	for (1 .. 60) {
		my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->{port}) or last;
		push @socks, $s;
	}
	sleep(1);
	my $cpu0 = (split ' ', read_file("/proc/$srv->{pid}/stat"))[13];
	sleep(2);
	my $cpu1 = (split ' ', read_file("/proc/$srv->{pid}/stat"))[13];
	cmp_ok($cpu1 - $cpu0, '<', 50, 'out of descriptors, the supervisor does not spin on accept');
	log_like($srv, qr/accept: Too many open files; pausing accepts/, 'it logs that it paused accepting');
	close($_) for @socks;
	@socks = ();
	my $r = wait_until(sub { my $x = http(GET => $PNG); $x->{status} == 200 ? $x : undef }, 20);
	ok($r, 'once connections close it accepts and serves again');
	is(waitpid($srv->{pid}, WNOHANG), 0, 'and it is still running (not exited, not a zombie)');
	stopped_cleanly($srv);
}
done_testing();
