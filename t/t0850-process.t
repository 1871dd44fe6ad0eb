#!/usr/bin/perl
# The supervisor as a process among others: started as root it refuses to
# run the wiki as root unless mw.yaml asks for that in words (user: root),
# and runs it as user: otherwise; no descriptor of mwsup's (control socket,
# slot table, config, the client's connection) reaches a program PHP
# starts, warm or cold; it raises its descriptor limit to the hard limit
# (its workers keep the one it was given); out of descriptors, a static
# file answers 503 (never 404) and a dead worker is started again as soon
# as descriptors are free;
# a huge mw.yaml given to a running supervisor (SIGHUP) is refused at once,
# the loop never stalls, and the old configuration keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $PNG = '/resources/assets/poweredby_mediawiki_88x31.png';

# The effective uid of a process, from /proc.
sub uid_of {
	my ($pid) = @_;
	my ($uid) = read_file("/proc/$pid/status") =~ /^Uid:\s+\d+\s+(\d+)/m;
	return $uid;
}

# --- started as root -------------------------------------------------------
SKIP: {
	skip 'needs root: the root checks are about a start as root', 11 unless $> == 0;
	my $w = wiki('pool.workers' => 1);
	my $www = getpwnam('www-data');

	# user: www-data, as tools/mkwiki writes it when run as root.
	my $srv = start_mwsup($w->{config});
	my @pids = worker_pids($srv);
	ok(@pids && !grep({ uid_of($_) != $www } @pids),
	    "with user: www-data the workers run as www-data (uid $www)")
		or diag(join ' ', map { "$_:" . uid_of($_) } @pids);
	stopped_cleanly($srv);

	# No user: at all.
	set_yaml($w, user => undef, group => undef);
	my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
	is($rc, 2, 'as root, mwsup -t refuses a mw.yaml without user: (exit 2)');
	like($err, qr/\Q$w->{config}\E: started as root, but no "user:" is set: set user: .*user: root/,
	    'the message names the file and what to set');
	# (Under timeout: a mwsup that does start would serve for ever.)
	my $t0 = time();
	($rc, $out, $err) = run_cmd('timeout', '-k', '5', '30', mwsup_bin(), '-c', $w->{config});
	is($rc, 2, 'and mwsup refuses to start with it (exit 2)');
	like($err, qr/\Q$w->{config}\E: started as root, but no "user:"/, 'saying why');
	cmp_ok(time() - $t0, '<', 10, 'at once, starting no worker');

	# user: root, written out: the wiki runs as root, on purpose.  A wiki
	# of its own, whose files root may then own.
	my $wr = wiki('pool.workers' => 1);
	set_yaml($wr, user => 'root', group => undef);
	# temp_dir must belong to the account mwsup runs as.
	chown(0, 0, "$wr->{dir}/tmp");
	$srv = start_mwsup($wr->{config});
	@pids = worker_pids($srv);
	ok(@pids && !grep({ uid_of($_) != 0 } @pids), 'with user: root written out, the workers run as root (uid 0)')
		or diag(join ' ', map { "$_:" . uid_of($_) } @pids);
	log_like($srv, qr/running as root: \Q$wr->{config}\E says "user: root"/,
	    'and the log says so, naming the file');
	is(http(GET => '/wiki/Main_Page')->{status}, 200, 'and serves the wiki');
	stop_mwsup($srv);
}

# --- descriptors in programs PHP starts ------------------------------------
# A hook runs a shell from PHP (shell_exec, as MediaWiki runs ImageMagick or
# diff3) which lists its own open descriptors: the glob opens the directory
# for a moment, and what is closed again by the time it is tested with -L
# is the glob's own descriptor, not one the shell got.
{
	my $w = wiki('pool.workers' => 1);
	my $run = "$w->{dir}/run";
	mkdir $run or die "mkdir $run: $!\n";
	chmod 0777, $run;	# the workers may run as www-data
	my $sh = 'cd /proc/$$/fd && for f in *; do [ -L "$f" ] && echo "$f"; done; '
	    . 'echo --; ls -l /proc/$$/fd; true';
	(my $php_sh = $sh) =~ s/([\\'])/\\$1/g;
	append_settings($w, <<"EOF" . "\t\t\$cmd = '$php_sh';\n" . <<"EOF2");
\$wgHooks['BeforeInitialize'][] = static function () {
	if ( isset( \$_GET['mwsup_test_fds'] ) ) {
EOF
		file_put_contents( '$run/fds.tmp', shell_exec( \$cmd ) );
		rename( '$run/fds.tmp', '$run/fds.' . \$_GET['mwsup_test_fds'] );
	}
};
EOF2
	for my $mode ('warm', 'cold') {
		set_yaml($w, 'snapshot.enabled' => $mode eq 'warm' ? 'true' : 'false');
		my $srv = start_mwsup($w->{config});
		for my $req (['get', 'GET', ''], ['post', 'POST', 'x=' . ('y' x 70000)]) {
			my ($name, $method, $body) = @$req;
			my $tag = "$mode-$name";
			my $r = http($method => "/index.php?title=Main_Page&mwsup_test_fds=$tag",
			    $body ne '' ? { 'Content-Type' => 'application/x-www-form-urlencoded' } : undef,
			    $body ne '' ? $body : undef);
			ok($r->{status} == 200 && -e "$run/fds.$tag", "$mode, $method: the hook ran (200)")
				or diag("status $r->{status}");
			my $text = -e "$run/fds.$tag" ? read_file("$run/fds.$tag") : '';
			my ($list) = split /^--\n/m, $text;
			my @fds = sort { $a <=> $b } grep { /^\d+$/ } split /\n/, $list // '';
			is("@fds", '0 1 2', "$mode, $method"
			    . ($body ne '' ? ' with a body in a memfd' : '')
			    . ': a program PHP starts has descriptors 0, 1 and 2 only')
				or diag($text);
		}
		stopped_cleanly($srv);
	}
}

# --- out of file descriptors -----------------------------------------------
# One request on a kept-alive connection: the status line's code, or ''
# when the connection closed (or nothing came) without an answer.
sub status_on {
	my ($s, $path) = @_;
	local $SIG{PIPE} = 'IGNORE';
	syswrite($s, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") or return '';
	my ($buf, $rin) = ('', '');
	vec($rin, fileno($s), 1) = 1;
	my $deadline = time() + 10;
	while (time() < $deadline) {
		last unless select(my $rout = $rin, undef, undef, $deadline - time()) > 0;
		last unless sysread($s, $buf, 65536, length $buf);
		if ($buf =~ /\A(.*?\r\n\r\n)/s) {
			my $head = $1;
			my ($len) = $head =~ /^Content-Length: (\d+)/mi;
			last if length($buf) >= length($head) + ($len // 0);
		}
	}
	return $buf =~ m{\AHTTP/1\.1 (\d{3}) } ? $1 : '';
}

SKIP: {
	skip 'prlimit is not installed', 10 unless grep { -x "$_/prlimit" } split /:/, $ENV{PATH};
	my $w = wiki('pool.workers' => 1);
	# Soft 48, hard 64: mwsup raises its own to 64 and gives workers 48.
	my $srv = start_mwsup($w->{config}, wrap => [ 'prlimit', '--nofile=48:64', '--' ]);
	log_like($srv, qr/open files limit raised from 48 to 64 \(the hard limit\)/,
	    'mwsup raises its soft descriptor limit to the hard limit and says so');
	my ($worker) = worker_pids($srv);
	like(read_file("/proc/$worker/limits"), qr/^Max open files\s+48\s+64\s/m,
	    'its workers keep the soft limit mwsup was started with');

	my $k = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->{port})
		or die "connect: $!\n";
	is(status_on($k, $PNG), 200, 'a static file on a kept-alive connection: 200');
	my @socks;
	for (1 .. 100) {
		my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->{port}) or last;
		push @socks, $s;
	}
	log_like($srv, qr/accept: Too many open files; pausing accepts/,
	    'with 100 more clients mwsup runs out of descriptors and pauses accepting');
	is(status_on($k, $PNG), 503, 'the same static file then answers 503, not 404');

	kill('KILL', $worker);
	sleep(1);	# its replacement cannot start: no descriptor for it
	my $t0 = time();
	close($_) for $k, @socks;
	@socks = ();
	my $new = wait_until(sub { my ($p) = grep { $_ != $worker } worker_pids($srv);
	    $p && (http(GET => '/api.php?action=query&meta=siteinfo&format=json', undef, undef,
	    { timeout => 5 })->{status} // 0) == 200 ? $p : undef }, 20);
	my $took = time() - $t0;
	ok($new, 'once the clients are gone, a new worker serves PHP');
	cmp_ok($took, '<', 5, sprintf('within a few seconds (%.1f s), not after a 30 s back-off', $took));
	is(http(GET => $PNG)->{status}, 200, 'and static files are served again');
	stopped_cleanly($srv);
}

# --- a huge mw.yaml on SIGHUP -------------------------------------------------
# The running supervisor reads the file in its event loop: 16 MB of keys
# (which held it for 12 s, 45 s under ASan) or a file of too many keys
# must be refused at once, every request still answered promptly, the old
# configuration kept.
{
	my $w = wiki('pool.workers' => 1);
	my $srv = start_mwsup($w->{config});
	my $good = read_file($w->{config});
	my @before = worker_pids($srv);
	my $huge = "k: v\n" x 3_200_000 . $good;	# 16 MB of keys
	my $many = $good . "\nmisc:\n" . join('', map { "  k$_: v\n" } 1 .. 30000);
	for my $case (['huge', $huge, qr/\Q$w->{config}\E: too large \(\d+ bytes, at most 1048576\)/],
	    ['many', $many, qr/\Q$w->{config}\E:\d+:\d+: more than 20000 keys, values and list items/]) {
		my ($name, $text, $msg) = @$case;
		write_file($w->{config}, $text);
		kill('HUP', $srv->{pid});
		my $t0 = time();
		my $r = http(GET => $PNG, undef, undef, { timeout => 30 });
		my $took = time() - $t0;
		is($r->{status}, 200, "SIGHUP with the $name file: a static file is still served");
		cmp_ok($took, '<', 1, sprintf('promptly (%.2f s), the reload does not stall the loop', $took));
		log_like($srv, $msg, "the log names the file and the error ($name)");
		log_like($srv, qr/reload: \Q$w->{config}\E is not valid; still running the previous configuration/,
		    'and says the previous configuration keeps running');
		is(http(GET => '/api.php?action=query&meta=siteinfo&format=json')->{status}, 200,
		    'PHP is served by the workers of before') ;
		is(join(' ', worker_pids($srv)), join(' ', @before), 'the same workers, none replaced');
		open(my $fh, '>', $srv->{log}) or die;	# the next case's log lines only
		close($fh);
	}
	write_file($w->{config}, $good);
	stopped_cleanly($srv);
}

done_testing();
