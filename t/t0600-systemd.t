#!/usr/bin/perl
# mwsup under systemd.
#
# 1. Without a container: systemd-socket-activate hands mwsup a listening
#    socket (sd_listen_fds), which it serves instead of mw.yaml's listen:
#    addresses, and mwsup reports READY=1 and STOPPING=1 on NOTIFY_SOCKET.
# 2. The Debian package in a booted Debian 12 (systemd-nspawn with the root
#    t/lib/nspawn.sh prepares): the .deb is built (or taken from
#    $MWSUP_DEB), is lintian clean, its mediawiki.service scores 1.4 in
#    systemd-analyze security (the README's figure), installs with apt, and after
#    "systemctl enable --now mediawiki.socket" the first connection starts
#    the service as www-data and gets the Main Page; a stopped or restarted
#    service loses no connection while the socket stays; stopping both
#    drains and exits cleanly.
#
# Part 2 needs root, debootstrap and systemd-nspawn, and the archive once
# to fill the cached root (/var/cache/mwsup-test/bookworm-root, or
# $MWSUP_NSPAWN_ROOT); it is skipped, with the reason, when any is missing,
# when the root still needs the archive and the archive does not answer,
# when MWSUP_SKIP_NSPAWN=1, and in the ASan pass of tools/test (the package
# is built from the source, not from the build tree under test).  A root
# that cannot be prepared (say, a Depends apt cannot install) or a systemd
# that does not boot fails the test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Encode ();
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_DGRAM);
use Test::More;
use Time::HiRes qw(sleep time);
use MwTest;

my $REPO = repo_dir();

sub have_cmd {
	my ($cmd) = @_;
	return scalar grep { -x "$_/$cmd" } split /:/, ($ENV{PATH} // '') . ':/usr/sbin:/sbin';
}

my $can_activate = have_cmd('systemd-socket-activate');
my $nspawn_skip = nspawn_skip_reason();
if (!$can_activate && $nspawn_skip) {
	plan skip_all => 'systemd-socket-activate is missing (apt-get install systemd) '
	    . "and the container test cannot run: $nspawn_skip";
}

# ---- 1. sd_listen_fds and sd_notify without a container ------------------

SKIP: {
	skip 'systemd-socket-activate is missing (apt-get install systemd)', 1
		unless $can_activate;
	socket_activation_test();
}

# ---- 2. the .deb under a booted systemd ----------------------------------

SKIP: {
	skip "container test: $nspawn_skip", 1 if $nspawn_skip;
	container_test();
}

done_testing();

# ---------------------------------------------------------------------------

sub socket_activation_test {
	BAIL_OUT('no mwsup binary at ' . mwsup_bin() . ' (build first, or set MWSUP_BUILD)')
		unless -x mwsup_bin();
	my $w = wiki('pool.workers' => 2);
	my $port = $w->{port};
	# mw.yaml names another address: mwsup must serve the passed socket and
	# bind nothing itself.
	my $unused = free_port();
	set_yaml($w, listen => ["127.0.0.1:$unused"]);

	my $dir = test_dir();
	my $nsock_path = "$dir/notify.sock";
	my $nsock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $nsock_path)
		or die "notify socket $nsock_path: $!\n";
	chmod 0777, $nsock_path;	# mwsup may run as www-data
	my $log = "$dir/socket-activate.log";
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log) or die "$log: $!\n";
		open(STDERR, '>&', \*STDOUT);
		$ENV{NOTIFY_SOCKET} = $nsock_path;
		exec('systemd-socket-activate', '-l', "127.0.0.1:$port",
		    '--fdname=http', '-E', 'NOTIFY_SOCKET', mwsup_bin(), '-c',
		    $w->{config}) or die "exec systemd-socket-activate: $!\n";
	}
	my $logtext = sub { -e $log ? read_file($log) : '' };

	# systemd-socket-activate listens first and starts mwsup on the first
	# connection, as systemd does; that request waits in the backlog.
	my $listening = wait_until(sub {
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
		close($s) if $s;	# this first connection starts mwsup
		return $s ? 1 : 0;
	}, 10);
	ok($listening, "systemd-socket-activate listens on 127.0.0.1:$port");
	my $r = http(GET => '/wiki/Main_Page', undef, undef,
	    { port => $port, timeout => 90 });
	is($r->{status}, 200, 'the Main Page answers 200 through the socket passed by systemd-socket-activate')
		or diag("log:\n" . $logtext->());
	like($r->{body}, qr{<title>\Q$w->{sitename}\E</title>}, 'and it is the wiki\'s Main Page');
	$r = http(GET => '/resources/assets/poweredby_mediawiki_88x31.png', undef,
	    undef, { port => $port });
	is($r->{status}, 200, 'a static file is served through the passed socket');
	like($logtext->(), qr/using 1 socket\(s\) from systemd/,
	    'mwsup logs that it took the socket from systemd');
	ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$unused", Timeout => 1),
	    'the listen: address of mw.yaml is not bound when systemd passes a socket');

	my $notes = read_notify($nsock, 5);
	like($notes, qr/^READY=1$/m, 'mwsup sent READY=1 to NOTIFY_SOCKET');
	like($notes, qr/^STATUS=.+/m, 'and a STATUS= line for systemctl status');

	kill('TERM', $pid);
	my $st = wait_pid($pid, 30);
	$notes .= read_notify($nsock, 2);
	like($notes, qr/^STOPPING=1$/m, 'on SIGTERM mwsup sends STOPPING=1');
	is($st, 0, 'and exits with status 0') or diag("log:\n" . $logtext->());
	my @reports = $logtext->() =~ /^(.*(?:ERROR: \w+Sanitizer|SUMMARY: \w+Sanitizer|runtime error:).*)$/mg;
	ok(!@reports, 'no sanitizer report (ASan, LeakSanitizer, UBSan) from mwsup or its workers')
		or diag(join("\n", @reports));
}

# All datagrams on the notify socket within $secs (stops early once the
# socket has been quiet for a moment after the first one).
sub read_notify {
	my ($sock, $secs) = @_;
	my $out = '';
	my $deadline = time() + $secs;
	my $rin = '';
	vec($rin, fileno($sock), 1) = 1;
	while ((my $left = $deadline - time()) > 0) {
		my $n = select(my $rout = $rin, undef, undef,
		    length($out) ? ($left < 0.5 ? $left : 0.5) : $left);
		last if $n <= 0;
		my $buf;
		defined(recv($sock, $buf, 4096, 0)) or last;
		$out .= "$buf\n";
	}
	return $out;
}

# waitpid with a deadline; SIGKILL after it.  Returns the exit code
# (128 + signal for a death by signal).
sub wait_pid {
	my ($pid, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline) {
		if (waitpid($pid, WNOHANG) == $pid) {
			return ($? & 127) ? 128 + ($? & 127) : $? >> 8;
		}
		sleep(0.1);
	}
	diag("pid $pid still running after $secs s; killing it");
	kill('KILL', $pid);
	waitpid($pid, 0);
	return 128 + 9;
}

# ---- the container part ---------------------------------------------------

sub nspawn_skip_reason {
	return 'MWSUP_SKIP_NSPAWN=1' if ($ENV{MWSUP_SKIP_NSPAWN} // '') eq '1';
	return 'runs once per test suite, in the pass against the normal build, not the ASan one'
		if build_dir() =~ m{build-asan/?$};
	return 'needs root (debootstrap, systemd-nspawn)' if $> != 0;
	for my $cmd (qw(systemd-nspawn debootstrap nsenter systemd-analyze)) {
		next if have_cmd($cmd);
		my $pkg = $cmd eq 'systemd-nspawn' ? 'systemd-container'
		    : $cmd eq 'nsenter' ? 'util-linux' : $cmd eq 'systemd-analyze' ? 'systemd' : $cmd;
		return "$cmd is missing (apt-get install $pkg)";
	}
	if (!$ENV{MWSUP_DEB}) {
		return 'dpkg-buildpackage is missing (apt-get install dpkg-dev debhelper), or set MWSUP_DEB'
			unless have_cmd('dpkg-buildpackage') && have_cmd('dh');
		return 'git is missing (the package is built from the files git knows)'
			unless have_cmd('git');
	}
	return 'cgroup file system is not mounted at /sys/fs/cgroup'
		unless -d '/sys/fs/cgroup';
	return;
}

my ($NSPAWN_PID, $PID1, $MACHINE, $NSPAWN_LOG);

END {
	my $status = $?;	# system() and waitpid() below would change it
	stop_container() if $NSPAWN_PID;
	$? = $status;
}

# Containers booted this way without a host systemd all use the same
# cgroups (/sys/fs/cgroup/*/payload), so two at once would share them:
# runs of this test on one machine take turns.  The lock is held until exit.
my $LOCK_FH;
sub lock_containers {
	my ($root, $secs) = @_;
	(my $parent = $root) =~ s{/[^/]+/?$}{};
	system('mkdir', '-p', $parent) == 0 or return 0;
	open($LOCK_FH, '>', "$root.boot.lock") or return 0;
	my $deadline = time() + $secs;
	until (flock($LOCK_FH, LOCK_EX | LOCK_NB)) {
		return 0 if time() >= $deadline;
		sleep(1);
	}
	return 1;
}

sub container_test {
	my $tmp = tempdir('t0600-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	chmod 0755, $tmp;
	my $deb = $ENV{MWSUP_DEB} ? $ENV{MWSUP_DEB} : build_deb($tmp);
	ok($deb && -f $deb, 'the Debian package is built') or return;
	note("package: $deb");
	my $debdir = "$tmp/deb";
	mkdir $debdir;
	system('cp', $deb, "$debdir/") == 0 or die "cp $deb: $?\n";
	(my $debname = $deb) =~ s{.*/}{};

	check_security($deb, $tmp);

	# The root holds the package's dependencies from the archive, so the
	# booted container needs no network.
	my @deps = deb_depends($deb);
	my $root = $ENV{MWSUP_NSPAWN_ROOT} // '/var/cache/mwsup-test/bookworm-root';
	lock_containers($root, 900)
		or skip('another t0600-systemd.t kept its container running for 15 minutes', 1);
	my @pkgs = (@deps, 'php8.2-cli', 'curl', 'procps');
	# Only an unreachable archive is a reason to skip, and only when the
	# cached root still needs it; any other failure to prepare or boot the
	# root (a Depends apt cannot satisfy, a broken debootstrap) fails.
	if (!root_ready($root, @pkgs)) {
		my $why = archive_unreachable();
		skip("the Debian 12 root must be made or completed from the archive, which is unreachable: $why", 1)
			if $why;
	}
	my ($rc, $out, $err) = run_cmd('timeout', '900', "$REPO/t/lib/nspawn.sh",
	    'prepare', $root, @pkgs);
	is($rc, 0, "t/lib/nspawn.sh prepares the Debian 12 root with the package's Depends (@deps)")
		or do { diag("t/lib/nspawn.sh prepare failed ($rc):\n$out$err"); return };

	ok(boot_container($root, $debdir, $tmp), 'a Debian 12 systemd boots in systemd-nspawn')
		or return;

	($rc, $out) = inside(300, 'apt-get', 'install', '-y', '-q',
	    '--no-install-recommends', "/mnt/deb/$debname");
	is($rc, 0, 'apt-get install ./mwsup_*.deb succeeds in the container')
		or do { diag($out); return };
	is(inside_out('systemctl', 'is-enabled', 'mediawiki.socket'), 'enabled',
	    'installing the package enables mediawiki.socket');
	is(inside_out('systemctl', 'is-active', 'mediawiki.socket'), 'inactive',
	    'but does not start it: the wiki is not set up yet');
	($rc, $out) = inside(60, 'systemd-analyze', 'verify',
	    'mediawiki.socket', 'mediawiki.service');
	# The container's minimal root has no man(1) to resolve Documentation=.
	my @complaints = grep { !/Command 'man / } split /\n/, $out;
	is(scalar(@complaints), 0, 'systemd-analyze verify finds nothing wrong with either unit')
		or diag($out);

	($rc, $out) = inside(300, 'sh', '-ec', setup_wiki_script());
	is($rc, 0, 'a SQLite wiki is set up in Debian\'s paths (/etc/mediawiki, /var/lib/mediawiki)')
		or do { diag($out); return };

	($rc, $out) = inside(60, 'systemctl', 'enable', '--now', 'mediawiki.socket');
	is($rc, 0, 'systemctl enable --now mediawiki.socket') or do { diag($out); return };
	is(inside_out('systemctl', 'is-active', 'mediawiki.socket'), 'active',
	    'the socket is active');
	is(inside_out('systemctl', 'is-active', 'mediawiki.service'), 'inactive',
	    'and the service is not started before a connection comes');

	my $r = curl('/');
	is($r->{code}, 200, 'the first connection to port 8080 gets 200 (it starts mediawiki.service)')
		or diag(journal());
	like($r->{body}, qr{<title>Systemd Wiki</title>}, 'and the wiki\'s Main Page');
	is(inside_out('systemctl', 'is-active', 'mediawiki.service'), 'active',
	    'mediawiki.service is active after the first connection');
	$r = curl('/resources/assets/poweredby_mediawiki_88x31.png');
	is($r->{code}, 200, 'a static file from /usr/share/mediawiki is served');
	is($r->{type}, 'image/png', 'as image/png');
	static_changes_test();

	my $mainpid = inside_out('systemctl', 'show', '-P', 'MainPID', 'mediawiki.service');
	like($mainpid, qr/^[1-9]\d*$/, 'the service has a main pid') or $mainpid = 'none';
	is(inside_out('ps', '-o', 'user=', '-p', $mainpid), 'www-data',
	    'mwsup runs as www-data');
	my @wusers = split /\n/, inside_out('ps', '-o', 'user=', '--ppid', $mainpid);
	ok(@wusers >= 1 && !grep({ $_ ne 'www-data' } @wusers),
	    'and so do its ' . scalar(@wusers) . ' workers') or diag("@wusers");
	my $status = inside_out('systemctl', 'status', '--no-pager', '-n', '0', 'mediawiki.service');
	like($status, qr/Active: active \(running\)/, 'systemctl status shows it running')
		or diag($status);
	like($status, qr/Status: "[^"]+"/, 'with the status line mwsup reports (STATUS=)');
	like($status, qr{mwworker --slot}, 'and the mwworker processes in its cgroup');

	($rc, $out) = inside(60, 'systemctl', 'stop', 'mediawiki.service');
	is($rc, 0, 'systemctl stop mediawiki.service') or diag($out);
	is(inside_out('systemctl', 'is-active', 'mediawiki.socket'), 'active',
	    'the socket stays active while the service is stopped');
	$r = curl('/wiki/Main_Page');
	is($r->{code}, 200, 'the next request is answered: the socket starts the service again');

	# Restart the service while requests arrive: they wait in the socket's
	# backlog (or are finished by the old mwsup) and none is refused.
	my $many = join(' ', map {
		"curl -s -o /dev/null -w '%{http_code}\\n' --max-time 120 http://127.0.0.1:8080/wiki/Main_Page &"
	    } 1 .. 6);
	($rc, $out) = inside(180, 'sh', '-c',
	    "systemctl restart mediawiki.service & $many wait");
	my @codes = grep { /^\d{3}$/ } split /\n/, $out;
	is(scalar(grep { $_ eq '200' } @codes), 6,
	    'six requests sent during a service restart all got 200: none was refused or lost')
		or diag("answers: @codes\n$out\n" . inside_out('journalctl', '--no-pager',
		    '-n', '40', '-u', 'mediawiki.service'));

	# Reload with a changed mw.yaml: same main process, new workers, and
	# requests sent meanwhile are all answered.
	my $pid_before = inside_out('systemctl', 'show', '-P', 'MainPID', 'mediawiki.service');
	inside(30, 'sed', '-i', 's/^\(  workers:\).*/\1 2/', '/etc/mwsup/mw.yaml');
	($rc, $out) = inside(180, 'sh', '-c',
	    "(systemctl reload mediawiki.service; echo reload=\$?) & $many wait");
	like($out, qr/^reload=0$/m, 'systemctl reload mediawiki.service succeeds') or diag($out);
	@codes = grep { /^\d{3}$/ } split /\n/, $out;
	is(scalar(grep { $_ eq '200' } @codes), 6,
	    'six requests sent during the reload all got 200') or diag($out);
	is(inside_out('systemctl', 'show', '-P', 'MainPID', 'mediawiki.service'), $pid_before,
	    'the reload keeps the same mwsup process');
	my $nworkers = wait_until(sub {
		my @w = split /\n/, inside_out('ps', '-o', 'pid=', '--ppid', $pid_before);
		return @w == 2 ? 2 : 0;
	}, 60);
	is($nworkers, 2, 'and it runs the 2 workers the new mw.yaml asks for (was 4)')
		or diag(journal());

	# The watchdog: with a short WatchdogSec mwsup must keep pinging.
	inside(30, 'sh', '-c', 'mkdir -p /etc/systemd/system/mediawiki.service.d && '
	    . 'printf "[Service]\nWatchdogSec=2\n" >/etc/systemd/system/mediawiki.service.d/wd.conf && '
	    . 'systemctl daemon-reload && systemctl restart mediawiki.service');
	sleep(6);
	is(inside_out('systemctl', 'show', '-P', 'NRestarts', 'mediawiki.service') . ' '
	    . inside_out('systemctl', 'is-active', 'mediawiki.service'), '0 active',
	    'with WatchdogSec=2 the service is still active 6 s later, never restarted');
	unlike(journal(), qr/[Ww]atchdog timeout/, 'and systemd saw no watchdog timeout');
	inside(30, 'sh', '-c', 'rm -r /etc/systemd/system/mediawiki.service.d && systemctl daemon-reload');

	($rc, $out) = inside(90, 'systemctl', 'stop', 'mediawiki.socket', 'mediawiki.service');
	is($rc, 0, 'systemctl stop mediawiki.socket mediawiki.service') or diag($out);
	is(inside_out('systemctl', 'show', '-P', 'Result', 'mediawiki.service'), 'success',
	    'the service stopped cleanly (Result=success, no SIGKILL)') or diag(journal());
	my $j = journal();
	like($j, qr/stopping/i, 'mwsup logged that it drains on stop');
	like($j, qr/ready:/, 'and logged readiness before');
	unlike($j, qr/(?:JIT compilation failed|Permission denied|Operation not permitted|Read-only file system)/,
	    'no sandbox denial in the journal') or diag($j);
	$r = curl('/', 5);
	isnt($r->{code}, 200, 'nothing answers on port 8080 once the socket is stopped');
}

# Static answers follow the files under the real unit's sandbox
# (ProtectSystem=strict, its own mount namespace): the supervisor keeps
# directory verdicts while inotify and /proc/self/mountinfo say nothing
# changed (supervisor/pathcache.c), and compressed forms by mtime and size
# (zcache.c).  A file replaced by rename or rewritten in place, a directory
# replaced, a file system mounted over one and taken away: each is served
# new by the next requests, within a second.
sub static_changes_test {
	my $d = '/var/lib/mediawiki/images/t0600';
	my $put = sub {		# as www-data, the owner of uploads
		my ($script) = @_;
		my ($rc, $out) = inside(30, 'runuser', '-u', 'www-data', '--', 'sh', '-ec', $script);
		diag("$script: $out") if $rc;
		return $rc == 0;
	};
	# the body of $path (decoded, when $gzip, from what gzip sent)
	my $get = sub {
		my ($path, $gzip) = @_;
		my ($rc, $out) = inside(30, 'sh', '-c', 'curl -sS --max-time 10 '
		    . ($gzip ? "-H 'Accept-Encoding: gzip' -D /tmp/h -o /tmp/b.gz "
		    . "'http://127.0.0.1:8080$path' && grep -qi '^content-encoding: gzip' /tmp/h "
		    . '&& gzip -dc /tmp/b.gz' : "'http://127.0.0.1:8080$path'"));
		return $rc == 0 ? $out : "(failed: $out)";
	};
	# the body is $want within a second of the change
	my $within = sub {
		my ($path, $want, $what, $gzip) = @_;
		my $t0 = time();
		my ($got, $tries);
		while (1) {
			$tries++;
			$got = $get->($path, $gzip);
			last if $got eq $want || time() - $t0 > 1;
			sleep(0.1);
		}
		# each try is a curl through nsenter, a few tenths of a second
		ok($got eq $want, sprintf('%s: served new (%s)', $what, $tries == 1 ?
		    'by the first request after it' : sprintf('after %d tries, %.2f s', $tries, time() - $t0)))
			or diag('got: ' . substr($got, 0, 200));
	};
	my $css = join('', map { ".t0600-$_ { margin: ${_}px; }\n" } 100 .. 199);
	(my $css2 = $css) =~ tr/m/M/;	# the same size, other bytes
	$put->("mkdir -p $d && printf one >$d/a.txt && printf '%s' '$css' >$d/s.css")
		or return fail('files written under /var/lib/mediawiki/images');
	is($get->('/images/t0600/a.txt'), 'one', 'an upload is served');
	is($get->('/images/t0600/s.css', 1), $css, 'and a stylesheet, gzip-encoded');
	$put->("printf two >$d/a.new && mv -f $d/a.new $d/a.txt");
	$within->('/images/t0600/a.txt', 'two', 'a file replaced by rename');
	$put->("printf '%s' '$css2' >$d/s.css");
	$within->('/images/t0600/s.css', $css2, 'a stylesheet rewritten in place, same size (gzip)', 1);
	$put->("mv $d $d.old && mkdir $d && printf three >$d/a.txt");
	$within->('/images/t0600/a.txt', 'three', 'its directory replaced by another');
	my ($rc, $out) = inside(30, 'sh', '-ec', "mkdir -p /srv/t0600 && printf four >/srv/t0600/a.txt"
	    . " && chown -R www-data: /srv/t0600 && mount --bind /srv/t0600 $d");
	is($rc, 0, 'a directory bind-mounted over it') or return diag($out);
	$within->('/images/t0600/a.txt', 'four', 'the mounted directory\'s file (mountinfo)');
	# -l: the directory is held open while its verdict is cached, so a
	# plain umount says "target is busy" (mwsup(8), as documented)
	($rc, $out) = inside(30, 'umount', '-l', $d);
	is($rc, 0, 'the mount taken away (umount -l)') or diag($out);
	$within->('/images/t0600/a.txt', 'three', 'the file under it again');
	inside(30, 'rm', '-rf', $d, "$d.old", '/srv/t0600');
}

# build_deb($tmp): dpkg-buildpackage -b on a copy of the work tree (every
# file git tracks or would add), so the build never touches the repository
# or a concurrent build in it.  Lintian, when installed, must report no
# errors.  Returns the path of mwsup_*.deb.
sub build_deb {
	my ($tmp) = @_;
	my $src = "$tmp/src/mwsup";
	system('mkdir', '-p', $src) == 0 or die "mkdir $src\n";
	my $copy = "cd '$REPO' && git ls-files -z --cached --others --exclude-standard"
	    . " | xargs -0 -r sh -c 'for f; do [ -e \"\$f\" ] && printf \"%s\\0\" \"\$f\"; done' sh"
	    . " | tar --null -T - -cf - | tar -C '$src' -xf -";
	my ($rc, $out, $err) = run_cmd('sh', '-c', $copy);
	$rc == 0 or do { diag("copying the work tree failed:\n$out$err"); return };
	my $t0 = time();
	($rc, $out, $err) = run_cmd('sh', '-c',
	    "cd '$src' && timeout 900 dpkg-buildpackage -us -uc -b >'$tmp/build.log' 2>&1");
	if ($rc != 0) {
		diag("dpkg-buildpackage failed ($rc); end of its log:\n"
		    . join('', (split /^/, read_file("$tmp/build.log"))[-40 .. -1]));
		return;
	}
	note(sprintf('dpkg-buildpackage took %.0f s', time() - $t0));
	my ($deb) = grep { !/dbgsym/ } glob("$tmp/src/mwsup_*.deb");
	my ($changes) = glob("$tmp/src/mwsup_*.changes");
	SKIP: {
		skip 'lintian is not installed', 1 unless have_cmd('lintian');
		($rc, $out, $err) = run_cmd('lintian', '--allow-root', $changes);
		my @errors = grep { /^E: / } split /\n/, $out . $err;
		is(scalar(@errors), 0, 'lintian reports no errors on the package')
			or diag(join("\n", @errors));
		note("lintian: $_") for grep { /^[WIP]: / } split /\n/, $out;
	}
	return $deb;
}

# The packaged mediawiki.service, checked offline: exposure exactly 1.4.
sub check_security {
	my ($deb, $tmp) = @_;
	my $root = "$tmp/unpacked";
	system('dpkg-deb', '-x', $deb, $root) == 0 or die "dpkg-deb -x $deb\n";
	my ($rc, $out, $err) = run_cmd('systemd-analyze', 'security', '--offline=yes',
	    "--root=$root", 'mediawiki.service');
	my ($score) = ($out . $err) =~ /Overall exposure level for mediawiki\.service:\s*([\d.]+)/;
	# The README states this figure; a unit that loses a sandboxing
	# setting (or gains one) changes it.
	is($score, '1.4', 'systemd-analyze security rates mediawiki.service 1.4, as the README says')
		or diag(join("\n", grep { /\x{2717}|^\S*\s*Overall|[Ff]ailed|[Ee]rror/ }
		    split /\n/, Encode::decode('UTF-8', $out . $err)));
}

# Whether t/lib/nspawn.sh prepare would find ROOT complete for PACKAGES
# and so not need the archive: its marker files (the package list is
# compared as a set; sort(1)'s order depends on the locale).
sub root_ready {
	my ($root, @pkgs) = @_;
	return 0 unless -f "$root/.mwsup-root-ok" && -f "$root/.mwsup-packages";
	my %want = map { $_ => 1 } @pkgs;
	my %have = map { $_ => 1 } grep { length } split /\n/, read_file("$root/.mwsup-packages");
	return join(' ', sort keys %want) eq join(' ', sort keys %have);
}

# Why the Debian archive that t/lib/nspawn.sh uses cannot be reached (its
# Release file, fetched with a short timeout), or undef when it can.
sub archive_unreachable {
	my ($rc, $mirror) = run_cmd("$REPO/t/lib/nspawn.sh", 'mirror');
	chomp $mirror;
	return "t/lib/nspawn.sh mirror failed ($rc)" if $rc != 0 || $mirror eq '';
	my $url = "$mirror/dists/bookworm/Release";
	my $r = HTTP::Tiny->new(timeout => 15)->get($url);
	return if $r->{success} && $r->{content} =~ /^Suite:\s*\S/m;
	return "GET $url: $r->{status} $r->{reason}"
	    . ($r->{status} == 599 ? ': ' . ($r->{content} =~ s/\s+\z//r) : '');
}

# Package names of the .deb's Depends (first alternative, no versions).
sub deb_depends {
	my ($deb) = @_;
	my ($rc, $out) = run_cmd('dpkg-deb', '-f', $deb, 'Depends');
	my @pkgs;
	for my $d (split /,/, $out) {
		my ($first) = split /\|/, $d;
		$first =~ s/\(.*?\)//g;
		$first =~ s/^\s+|\s+$//g;
		push @pkgs, $first if length $first;
	}
	return @pkgs;
}

sub boot_container {
	my ($root, $debdir, $tmp) = @_;
	$MACHINE = "mwsup-t0600-$$";
	$NSPAWN_LOG = "$tmp/nspawn.log";
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $NSPAWN_LOG) or die "$NSPAWN_LOG: $!\n";
		open(STDERR, '>&', \*STDOUT);
		setpgrp(0, 0);
		$ENV{SYSTEMD_NSPAWN_UNIFIED_HIERARCHY} = 1;
		exec('systemd-nspawn', '-b', '-D', $root, '-M', $MACHINE,
		    '--register=no', '--keep-unit', '--console=passive',
		    '--system-call-filter=bpf', '--private-network',
		    '--volatile=overlay', "--bind-ro=$debdir:/mnt/deb")
			or die "exec systemd-nspawn: $!\n";
	}
	$NSPAWN_PID = $pid;
	$PID1 = wait_until(sub {
		return 0 if waitpid($pid, WNOHANG) == $pid;
		my $p = child_named($pid, 'systemd');
		return $p && -S "/proc/$p/root/run/systemd/private" ? $p : 0;
	}, 60);
	if (!$PID1) {
		diag("systemd-nspawn log:\n" . (-e $NSPAWN_LOG ? read_file($NSPAWN_LOG) : ''));
		return 0;
	}
	my ($rc, $out) = inside(120, 'systemctl', 'is-system-running', '--wait');
	chomp $out;
	note("system state: $out");
	if ($out !~ /^(running|degraded)$/) {
		diag("systemctl is-system-running: $out\n"
		    . "systemd-nspawn log:\n" . read_file($NSPAWN_LOG));
		return 0;
	}
	if ($out eq 'degraded') {
		note(scalar inside_out('systemctl', '--failed', '--no-legend'));
	}
	return 1;
}

sub child_named {
	my ($ppid, $name) = @_;
	opendir(my $dh, '/proc') or return;
	for my $p (grep { /^\d+$/ } readdir($dh)) {
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh> // next;
		my ($comm, $pp) = $stat =~ /^\d+ \((.*)\) \S (\d+) /s or next;
		return $p if $pp == $ppid && $comm eq $name;
	}
	return;
}

# inside($timeout, @argv): run a command in the container; (rc, output).
sub inside {
	my ($secs, @argv) = @_;
	my ($rc, $out, $err) = run_cmd('timeout', '-k', '5', $secs, 'nsenter', '-t', $PID1, '-a',
	    'env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
	    'LANG=C.UTF-8', 'DEBIAN_FRONTEND=noninteractive', 'SYSTEMD_PAGER=cat',
	    'TERM=dumb', @argv);
	return ($rc, $out . $err);
}

sub inside_out {
	my ($rc, $out) = inside(60, @_);
	$out =~ s/\s+\z//;
	return $out;
}

# curl($path, $timeout): GET inside the container, following redirects.
sub curl {
	my ($path, $secs) = @_;
	$secs //= 120;
	my ($rc, $out) = inside($secs + 10, 'sh', '-c',
	    "curl -sS -L -o /tmp/body -w '%{http_code} %{content_type}' --max-time $secs"
	    . " 'http://127.0.0.1:8080$path'; echo; cat /tmp/body");
	my ($head, $body) = split /\n/, $out, 2;
	my ($code, $type) = ($head // '') =~ /^(\d{3}) ?(\S*)/;
	return { code => $code // 0, type => $type // '', body => $body // '' };
}

sub journal {
	return scalar inside_out('journalctl', '--no-pager', '-o', 'short',
	    '-u', 'mediawiki.service', '-u', 'mediawiki.socket');
}

# install.php as www-data into Debian's layout: database under
# /var/lib/mediawiki/data, LocalSettings.php in /etc/mediawiki (root:www-data
# 0640), short URLs under /wiki/ as etc/mw.yaml configures them.
sub setup_wiki_script {
	return <<'EOF';
install -d -o www-data -g www-data -m 0750 /var/lib/mediawiki/data
conf=$(mktemp -d)
chown www-data "$conf"
runuser -u www-data -- php /usr/share/mediawiki/maintenance/install.php \
	--quiet --dbtype sqlite --dbpath /var/lib/mediawiki/data \
	--confpath "$conf" --server http://127.0.0.1:8080 --scriptpath "" \
	--pass mwsup-test-admin -- "Systemd Wiki" Admin
cat >>"$conf/LocalSettings.php" <<'PHP'
$wgArticlePath = "/wiki/$1";
$wgCacheDirectory = "/var/lib/mediawiki/cache";
$wgJobRunRate = 0;
$wgMainCacheType = CACHE_DB;
$wgSessionCacheType = CACHE_DB;
PHP
install -o root -g www-data -m 0640 "$conf/LocalSettings.php" /etc/mediawiki/LocalSettings.php
rm -rf "$conf"
runuser -u www-data -- php /usr/share/mediawiki/maintenance/rebuildLocalisationCache.php \
	--lang=en --quiet
EOF
}

sub stop_container {
	return unless $NSPAWN_PID;
	kill('TERM', $NSPAWN_PID);
	my $deadline = time() + 30;
	my $done;
	while (time() < $deadline) {
		if (waitpid($NSPAWN_PID, WNOHANG) == $NSPAWN_PID) { $done = 1; last }
		sleep(0.2);
	}
	if (!$done) {
		kill('KILL', -$NSPAWN_PID);
		kill('KILL', $NSPAWN_PID);
		waitpid($NSPAWN_PID, 0);
	}
	$NSPAWN_PID = undef;
	# nspawn without a host systemd leaves its cgroups behind.
	for my $d (map { ("/sys/fs/cgroup/$_/payload", "/sys/fs/cgroup/$_/supervisor") }
	    qw(systemd unified)) {
		system("find '$d' -depth -type d -exec rmdir {} + 2>/dev/null") if -d $d;
	}
}
