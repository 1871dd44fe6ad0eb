# MwTest - helpers for mwsup's tests (t/tNNNN-*.t).
#
# Each test file is standalone: it makes its own wiki with tools/mkwiki in a
# temporary directory, starts the real mwsup from the build tree named by
# $MWSUP_BUILD, talks HTTP to it and looks at what a user would see.  Only
# core Perl modules are used, so the tests run on a bare Debian with perl.
# The temporary directory (wiki, mwsup logs) is removed at the end unless a
# test failed or MWSUP_KEEP=1; its path is printed then.
package MwTest;

use strict;
use warnings;
use Exporter 'import';
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Scalar::Util qw(blessed);
use Socket qw(SOCK_STREAM SOL_SOCKET SO_RCVBUF IPPROTO_TCP TCP_MAXSEG);
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
	repo_dir build_dir mwsup_bin mwworker_bin test_dir
	free_port free_port6 have_ipv6
	wiki set_yaml read_file write_file append_settings wiki_php
	start_mwsup stop_mwsup stopped_cleanly current_server
	log_text log_like log_unlike
	http raw raw_begin raw_end parse_response form cookie_jar
	judge once
	worker_pids wait_until run_cmd
	cold_config normalised warm_cold
	mariadb_start mariadb_stop sql redis_start memcached_start cache_stop test_servers
	test_cache_on
);

my $REPO = abs_path(dirname(__FILE__) . '/../..');
my $BUILD = abs_path($ENV{MWSUP_BUILD} // "$REPO/build")
	// ($ENV{MWSUP_BUILD} // "$REPO/build");
my $TIMEOUT_START = $ENV{MWSUP_START_TIMEOUT} // 60;

sub repo_dir { $REPO }
sub build_dir { $BUILD }
sub mwsup_bin { "$BUILD/supervisor/mwsup" }
sub mwworker_bin { "$BUILD/worker/mwworker" }

# --- temporary directory of this test file --------------------------------

my $TESTDIR;
my @SERVERS;		# every mwsup started, stopped in END
my @DAEMONS;		# mariadbd, redis-server, memcached: stopped in END
my $CURRENT;		# the server http() talks to by default

# test_dir(): this test file's scratch directory, made on first use under
# t/tmp (or $MWSUP_TEST_TMP).  Traversable by everyone because mwsup run as
# root serves the wiki as www-data.
sub test_dir {
	return $TESTDIR if $TESTDIR;
	my $base = $ENV{MWSUP_TEST_TMP} // "$REPO/t/tmp";
	make_path($base);
	chmod 0755, $base;
	my $name = $0;
	$name =~ s{.*/}{};
	$name =~ s{\.t$}{};
	$TESTDIR = tempdir("$name-XXXXXX", DIR => $base, CLEANUP => 0);
	chmod 0755, $TESTDIR;
	return $TESTDIR;
}

my $MAIN_PID = $$;	# forked children must not clean up

END {
	return unless $$ == $MAIN_PID;
	my $status = $?;
	stop_mwsup($_) for grep { !$_->{stopped} } @SERVERS;
	_stop_daemon($_) for grep { $_->{pid} } @DAEMONS;
	if ($TESTDIR && -d $TESTDIR) {
		my $builder = Test::More->builder;
		if (($ENV{MWSUP_KEEP} // '') eq '1' || !$builder->is_passing) {
			Test::More::diag("kept test files in $TESTDIR");
		} else {
			system('rm', '-rf', '--', $TESTDIR);
		}
	}
	$? = $status;
}

sub read_file {
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or die "read $path: $!\n";
	local $/;
	my $s = <$fh>;
	return $s // '';
}

sub write_file {
	my ($path, $content) = @_;
	open(my $fh, '>:raw', $path) or die "write $path: $!\n";
	print $fh $content;
	close($fh) or die "write $path: $!\n";
}

# --- ports -----------------------------------------------------------------

# free_port(): a TCP port nothing listens on right now (the kernel's pick).
sub free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1, ReuseAddr => 1)
		or die "free_port: bind 127.0.0.1:0: $!\n";
	my $port = $s->sockport;
	close($s);
	return $port;
}

sub have_ipv6 {
	my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1);
	return 0 unless $s;
	close($s);
	return 1;
}

sub free_port6 {
	my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1, ReuseAddr => 1)
		or die "free_port6: bind [::1]:0: $!\n";
	my $port = $s->sockport;
	close($s);
	return $port;
}

# --- database and cache servers of a test ---------------------------------
#
# Each is started by the test, as the user running it, in test_dir(), on a
# unix socket (no port, no system service), and stopped at the end.  Run
# as root, the sockets are open to everyone: the workers run as www-data.

# _daemon($name, $log, $ready, @argv): start a server in the background,
# wait until $ready->() is true (30 s at most, or bail out with its log).
sub _daemon {
	my ($name, $log, $ready, @argv) = @_;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log) or die "$log: $!\n";
		open(STDERR, '>&', \*STDOUT);
		exec(@argv) or do { print STDERR "exec $argv[0]: $!\n"; POSIX::_exit(127) };
	}
	my $d = { name => $name, pid => $pid, log => $log };
	push @DAEMONS, $d;
	my $deadline = time() + 30;
	until ($ready->()) {
		if (waitpid($pid, WNOHANG) == $pid || time() > $deadline) {
			$d->{pid} = 0;
			Test::More::diag("$name log:\n" . (-e $log ? read_file($log) : ''));
			Test::More::BAIL_OUT("$name did not start (@argv)");
		}
		sleep(0.05);
	}
	return $d;
}

sub _stop_daemon {
	my ($d) = @_;
	return unless $d->{pid} && $d->{pid} > 0;
	kill('TERM', $d->{pid});
	my $deadline = time() + 30;
	while (waitpid($d->{pid}, WNOHANG) != $d->{pid}) {
		if (time() > $deadline) {
			kill('KILL', $d->{pid});
			waitpid($d->{pid}, 0);
			last;
		}
		sleep(0.05);
	}
	$d->{pid} = 0;
}

sub _socket_answers {
	my ($path) = @_;
	return -S $path && IO::Socket::UNIX->new(Peer => $path, Type => SOCK_STREAM);
}

# _mariadb_template(): a data directory fresh from mariadb-install-db,
# made once for every test file of this user and MariaDB version (beside
# the test directories, renamed into place whole) and copied by each
# mariadb_start(): the install takes 5-10 s, a copy a fraction of one.
sub _mariadb_template {
	my ($rc, $ver) = run_cmd('mariadbd', '--version');
	$ver = $rc == 0 ? $ver : '';
	$ver =~ s/.*\bVer\s+(\S+).*/$1/s;
	$ver =~ s/[^A-Za-z0-9.-]/_/g;
	my $base = dirname(test_dir());
	my $tpl = "$base/.mariadb-datadir-$ver-uid$>";
	return $tpl if -d $tpl;
	my $stage = tempdir(".mariadb-stage-XXXXXX", DIR => $base, CLEANUP => 0);
	my $out;
	($rc, $out, my $err) = run_cmd('mariadb-install-db', '--no-defaults',
	    "--datadir=$stage/data", '--auth-root-authentication-method=normal',
	    '--skip-test-db', '--skip-name-resolve', ($> == 0 ? ('--user=root') : ()));
	if ($rc != 0) {
		system('rm', '-rf', '--', $stage);
		Test::More::diag("mariadb-install-db failed ($rc):\n$out$err");
		Test::More::BAIL_OUT('cannot make a MariaDB data directory');
	}
	# Another test file may have made it meanwhile: either is as good.
	rename("$stage/data", $tpl) or -d $tpl or
		Test::More::BAIL_OUT("cannot rename $stage/data to $tpl: $!");
	system('rm', '-rf', '--', $stage);
	return $tpl;
}

# mariadb_start([$db]): a MariaDB server of this test (a copy of
# _mariadb_template() into test_dir()/mariadb once, then mariadbd on the
# unix socket $db->{socket}, no network), root without a password.  Given a server
# stopped by mariadb_stop(), starts it again on the same data (a restart).
# Returns the server hash: dir, socket, pid, log.  Options: name (its
# directory under test_dir(), 'mariadb' by default: one per server), args
# (more mariadbd options, after the defaults: a later one wins), wrap (an
# array ref: a command that execs mariadbd, e.g. ip netns exec NS); both
# are kept for a restart.
sub mariadb_start {
	my ($db, %opt) = @_;
	if (!$db) {
		my $dir = test_dir() . '/' . ($opt{name} // 'mariadb');
		make_path("$dir/data", "$dir/tmp");
		chmod 0755, $dir;
		my $tpl = _mariadb_template();
		my ($rc, $out, $err) = run_cmd('cp', '-a', '--', "$tpl/.", "$dir/data");
		if ($rc != 0) {
			Test::More::diag("copying $tpl failed ($rc):\n$out$err");
			Test::More::BAIL_OUT('cannot make a MariaDB data directory');
		}
		$db = { dir => $dir, socket => "$dir/mysqld.sock", log => "$dir/mariadbd.log",
		    args => $opt{args} // [], wrap => $opt{wrap} // [] };
	}
	my $dir = $db->{dir};
	unlink($db->{socket});
	my $d = _daemon('mariadbd', $db->{log}, sub { _socket_answers($db->{socket}) },
	    @{ $db->{wrap} // [] }, 'mariadbd', '--no-defaults', "--datadir=$dir/data", "--tmpdir=$dir/tmp",
	    "--socket=$db->{socket}", '--skip-networking', "--pid-file=$dir/mariadbd.pid",
	    '--skip-name-resolve', '--skip-log-bin', '--innodb-buffer-pool-size=64M',
	    '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0',
	    '--max-connections=200', ($> == 0 ? ('--user=root') : ()), @{ $db->{args} // [] });
	$db->{pid} = $d->{pid};
	$db->{daemon} = $d;
	return $db;
}

# mariadb_stop($db): stop the server (SIGTERM: a clean shutdown), wait.
sub mariadb_stop {
	my ($db) = @_;
	_stop_daemon($db->{daemon});
	$db->{pid} = 0;
}

# sql($db, $sql, $database): run SQL as root with the mariadb client;
# returns the rows (tab-separated, no header) or dies with the error.
sub sql {
	my ($db, $query, $database) = @_;
	my ($rc, $out, $err) = run_cmd('mariadb', '--no-defaults', "--socket=$db->{socket}",
	    '--user=root', '--batch', '--skip-column-names', '-e', $query,
	    (defined $database ? ($database) : ()));
	die "sql: $query: $err" if $rc != 0;
	chomp $out;
	return $out;
}

# redis_start([$r], %opt): a redis-server of this test on the unix socket
# $r->{socket} (no TCP port, nothing saved to disk).  Returns {socket, pid,
# log}.  Given a server stopped by cache_stop(), starts it again on the
# same socket (empty: nothing was saved).  Options, kept for a restart:
# args (more redis-server options, after the defaults: a later one wins),
# wrap (a command that execs redis-server, e.g. ip netns exec NS).
my $NREDIS = 0;
sub redis_start {
	my ($r, %opt) = @_;
	my @args = @{ $r ? $r->{args} // [] : $opt{args} // [] };
	my @wrap = @{ $r ? $r->{wrap} // [] : $opt{wrap} // [] };
	my $dir = $r ? $r->{dir} : test_dir() . '/redis' . ($NREDIS++ || '');
	make_path($dir);
	chmod 0755, $dir;
	my $sock = "$dir/redis.sock";
	unlink($sock);
	my $d = _daemon('redis-server', "$dir/redis.log", sub { _socket_answers($sock) },
	    @wrap, 'redis-server', '--port', '0', '--unixsocket', $sock, '--unixsocketperm', '777',
	    '--save', '', '--appendonly', 'no', '--dir', $dir, @args);
	$r //= {};
	@$r{qw(dir socket pid log daemon args wrap)} = ($dir, $sock, $d->{pid}, $d->{log}, $d,
	    \@args, \@wrap);
	return $r;
}

# memcached_start([$m]): a memcached of this test on the unix socket
# $m->{socket}.  Returns {socket, pid, log}; given a stopped one, starts
# it again on the same socket (empty).
my $NMEMC = 0;
sub memcached_start {
	my ($m) = @_;
	my $dir = $m ? $m->{dir} : test_dir() . '/memcached' . ($NMEMC++ || '');
	make_path($dir);
	chmod 0755, $dir;
	my $sock = "$dir/memcached.sock";
	unlink($sock);
	my $d = _daemon('memcached', "$dir/memcached.log", sub { _socket_answers($sock) },
	    'memcached', '-s', $sock, '-a', '0777', '-m', '64',
	    ($> == 0 ? ('-u', 'root') : ()));
	$m //= {};
	@$m{qw(dir socket pid log daemon)} = ($dir, $sock, $d->{pid}, $d->{log}, $d);
	return $m;
}

# cache_stop($r): stop a server of redis_start() or memcached_start(), wait.
sub cache_stop {
	my ($c) = @_;
	_stop_daemon($c->{daemon});
	$c->{pid} = 0;
}

# --- the wiki --------------------------------------------------------------

# wiki(%yaml): a fresh wiki made by tools/mkwiki on a free port, in its own
# directory under test_dir().  Arguments are mw.yaml changes, as for
# set_yaml ('pool.workers' => 1).  Returns a hash: dir, port, config,
# settings, images, sitename, admin_user, admin_pass.  The key mkwiki (an
# array ref) gives tools/mkwiki options: (mkwiki => ['--extensions', 'all']).
# With MWSUP_TEST_DB=mariadb in the environment, a wiki made without --db
# is on a MariaDB server of this test with its cache and sessions in Redis
# (both started with the first such wiki): a SQLite test run on them.
my $NWIKI = 0;
my ($TEST_DB, $TEST_REDIS);
# test_servers(): the MariaDB and Redis of MWSUP_TEST_DB=mariadb, if made.
sub test_servers { return ($TEST_DB, $TEST_REDIS) }
# test_cache_on(): MWSUP_TEST_CACHE=on: wiki() leaves the page cache on.
sub test_cache_on { return ($ENV{MWSUP_TEST_CACHE} // '') eq 'on' }
sub wiki {
	my (%yaml) = @_;
	my @mk = @{ delete($yaml{mkwiki}) // [] };
	if (($ENV{MWSUP_TEST_DB} // '') eq 'mariadb' && !grep { $_ eq '--db' } @mk) {
		$TEST_DB //= mariadb_start();
		$TEST_REDIS //= redis_start();
		push @mk, '--db', 'mariadb', '--db-server', $TEST_DB->{socket},
		    '--cache', 'redis', '--cache-server', $TEST_REDIS->{socket};
	}
	my $dir = test_dir() . '/wiki' . ($NWIKI++ ? $NWIKI : '');
	my $port = free_port();
	my ($rc, $out, $err) = run_cmd("$REPO/tools/mkwiki", @mk, $dir, $port);
	if ($rc != 0) {
		Test::More::diag("tools/mkwiki @mk $dir $port failed ($rc):\n$out$err");
		Test::More::BAIL_OUT("cannot create a test wiki");
	}
	my $w = {
		dir => $dir,
		port => $port,
		config => "$dir/mw.yaml",
		settings => "$dir/LocalSettings.php",
		images => "$dir/images",
		sitename => $ENV{MW_SITENAME} || 'Mwsup Demo',
		admin_user => $ENV{MW_ADMIN_USER} || 'Admin',
		admin_pass => $ENV{MW_ADMIN_PASS} || 'mwsup-demo-admin',
	};
	# tools/mkwiki turns the page cache on; a test that does not set any
	# cache.* key gets its requests answered by workers, as it expects,
	# unless MWSUP_TEST_CACHE=on (t0549: the isolation tests with it on).
	$yaml{'cache.enabled'} //= 'false'
	    unless grep({ /^cache\./ } keys %yaml) || test_cache_on();
	set_yaml($w, %yaml) if %yaml;
	return $w;
}

# set_yaml($wiki_or_path, KEY => VALUE, ...): edit the mw.yaml text.
# KEY is "top" or "section.key"; VALUE is a scalar, an array ref (written
# as a block list) or undef (the line is removed).  Keys missing from the
# file are added (the section too).  Only the two-level layout that
# etc/mw.yaml and tools/mkwiki use is understood.
sub set_yaml {
	my ($w, @pairs) = @_;
	my $path = ref($w) ? $w->{config} : $w;
	my @lines = split /\n/, read_file($path), -1;
	pop @lines if @lines && $lines[-1] eq '';
	while (@pairs) {
		my ($key, $val) = splice(@pairs, 0, 2);
		my ($sec, $name) = $key =~ /^([^.]+)\.(.+)$/ ? ($1, $2) : (undef, $key);
		my @new = !defined($val) ? ()
		    : ref($val) eq 'ARRAY' ? ("$name:", map { "  - " . _yq($_) } @$val)
		    : ("$name: " . _yq($val));
		if (!defined $sec) {
			my ($start, $end) = _yaml_block(\@lines, $name);
			if (defined $start) {
				splice(@lines, $start, $end - $start, @new);
			} else {
				push @lines, '', @new;
			}
			next;
		}
		@new = map { "  $_" } @new;
		my ($start, $end) = _yaml_block(\@lines, $sec);
		if (!defined $start) {
			push @lines, '', "$sec:", @new;
			next;
		}
		my $found;
		for my $i ($start + 1 .. $end - 1) {
			if ($lines[$i] =~ /^  \Q$name\E:/) {
				my $j = $i + 1;	# a list value continues on "    - " lines
				$j++ while $j < $end && $lines[$j] =~ /^    /;
				splice(@lines, $i, $j - $i, map { s/^  -/    -/r } @new);
				$found = 1;
				last;
			}
		}
		splice(@lines, $start + 1, 0, @new) unless $found;
	}
	write_file($path, join("\n", @lines) . "\n");
}

# A YAML scalar, double-quoted when plain style would change its meaning
# ("[::1]:8080" would start a flow sequence).
sub _yq {
	my ($v) = @_;
	return $v if $v eq '[]' || $v eq '{}';
	return $v unless $v =~ /^[\[\]{}&*!|>'"%@`#,?:-]|: | #|^\s|\s$/;
	$v =~ s/(["\\])/\\$1/g;
	return "\"$v\"";
}

# Index of the top-level KEY line and of the line after its block (blank
# lines and comments in column 0 before the next key are not part of it).
sub _yaml_block {
	my ($lines, $key) = @_;
	for my $i (0 .. $#$lines) {
		next unless $lines->[$i] =~ /^\Q$key\E:/;
		my $j = $i + 1;
		$j++ while $j < @$lines && $lines->[$j] !~ /^[^\s#]/;
		$j-- while $j > $i + 1 && $lines->[$j - 1] =~ /^(#.*)?$/;
		return ($i, $j);
	}
	return;
}

# append_settings($wiki, $php): add PHP code at the end of LocalSettings.php.
sub append_settings {
	my ($w, $php) = @_;
	open(my $fh, '>>', $w->{settings}) or die "append $w->{settings}: $!\n";
	print $fh "\n# Added by test $0\n$php\n";
	close($fh) or die "append $w->{settings}: $!\n";
}

# --- running mwsup ---------------------------------------------------------

# start_mwsup($config, %opt): run "mwsup -c $config" with stdout and stderr
# going to a log file; return once it answers HTTP (GET /) or bail out
# with the log.  Options: port (default: the first 127.0.0.1 listen address
# of the config), host, unix (a socket path to wait on instead), args
# (extra command line arguments), wait => 0 (do not wait), env (hash),
# wrap (an array ref: a command that execs mwsup, e.g. prlimit).
# Returns a server hash: pid, log, port, host, unix, config.
my $NSRV = 0;
sub start_mwsup {
	my ($config, %opt) = @_;
	my $bin = mwsup_bin();
	Test::More::BAIL_OUT("no mwsup binary at $bin (build first, or set MWSUP_BUILD)")
		unless -x $bin;
	my ($host, $port) = ($opt{host} // '127.0.0.1', $opt{port});
	if (!defined $port && !$opt{unix}) {
		my $text = read_file($config);
		($port) = $text =~ /^\s+-\s+["']?127\.0\.0\.1:(\d+)/m;
		die "start_mwsup: no 127.0.0.1 listen address in $config; pass port\n"
			unless $port;
	}
	my $log = test_dir() . '/mwsup' . (++$NSRV) . '.log';
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log) or die "$log: $!\n";
		open(STDERR, '>&', \*STDOUT);
		%ENV = (%ENV, %{ $opt{env} // {} });
		# wrap: a command that execs mwsup in the same process
		# (prlimit, setpriv), so the pid stays mwsup's.
		exec(@{ $opt{wrap} // [] }, $bin, '-c', $config, @{ $opt{args} // [] })
			or die "exec $bin: $!\n";
	}
	my $srv = { pid => $pid, log => $log, config => $config, port => $port,
		host => $host, unix => $opt{unix}, started => time() };
	push @SERVERS, $srv;
	$CURRENT = $srv;
	return $srv if defined $opt{wait} && !$opt{wait};

	my $deadline = time() + $TIMEOUT_START;
	while (time() < $deadline) {
		if (waitpid($pid, WNOHANG) == $pid) {
			$srv->{stopped} = 1;
			$srv->{status} = $?;
			Test::More::diag("mwsup log:\n" . log_text($srv));
			Test::More::BAIL_OUT("mwsup exited (" . _wstat($?) .
			    ") before answering HTTP");
		}
		# A probe that connected waits for its answer as long as the
		# start may take: one sent again would be a second request
		# that tests counting a worker's requests do not expect.
		my $left = $deadline - time();
		my $head = raw($srv->{unix} // $port,
		    "GET / HTTP/1.1\r\nHost: $host:" . ($port // 80) .
		    "\r\nConnection: close\r\n\r\n",
		    timeout => ($left > 5 ? $left : 5), host => $host);
		return $srv if defined $head && $head =~ m{^HTTP/1\.[01] \d{3} };
		sleep(0.2);
	}
	Test::More::diag("mwsup log:\n" . log_text($srv));
	Test::More::BAIL_OUT("mwsup did not answer GET / within $TIMEOUT_START s");
}

sub current_server { $CURRENT }

sub _wstat {
	my ($st) = @_;
	return 'signal ' . ($st & 127) if $st & 127;
	return 'exit ' . ($st >> 8);
}

# stop_mwsup($srv): SIGTERM, then SIGKILL after 10 s; returns the wait
# status ($?-style).
sub stop_mwsup {
	my ($srv) = @_;
	$srv //= $CURRENT;
	return $srv->{status} if $srv->{stopped};
	# Never signal pid 0 or below: that would be this whole process group
	# (prove, and CI with it).
	if (!$srv->{pid} || $srv->{pid} <= 0) {
		$srv->{stopped} = 1;
		return $srv->{status} = 0;
	}
	kill('TERM', $srv->{pid});
	my $deadline = time() + 10;
	while (time() < $deadline) {
		if (waitpid($srv->{pid}, WNOHANG) == $srv->{pid}) {
			$srv->{stopped} = 1;
			return $srv->{status} = $?;
		}
		sleep(0.05);
	}
	Test::More::diag("mwsup $srv->{pid} ignored SIGTERM for 10 s; killing it");
	kill('KILL', $srv->{pid});
	waitpid($srv->{pid}, 0);
	$srv->{stopped} = 1;
	$srv->{killed} = 1;
	return $srv->{status} = $?;
}

# stopped_cleanly($srv): stop mwsup and check, as two test points, that it
# exited with status 0 and that neither it nor a worker (they share the log)
# printed a sanitizer report (ASan, LeakSanitizer, UBSan).
sub stopped_cleanly {
	my ($srv) = @_;
	$srv //= $CURRENT;
	my $st = stop_mwsup($srv);
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	Test::More::is(_wstat($st), 'exit 0', 'mwsup exits with status 0 on SIGTERM');
	my @reports = log_text($srv) =~ /^(.*(?:ERROR: \w+Sanitizer|runtime error:|SUMMARY: \w+Sanitizer|\w+Sanitizer: failed to|\w+Sanitizer:DEADLYSIGNAL).*)$/mg;
	Test::More::ok(!@reports, 'no sanitizer report in the log of mwsup and its workers')
		or Test::More::diag("in $srv->{log}:\n" . join("\n", @reports[0 .. ($#reports < 9 ? $#reports : 9)]));
	return $st;
}

sub log_text {
	my ($srv) = @_;
	$srv //= $CURRENT;
	return -e $srv->{log} ? read_file($srv->{log}) : '';
}

# log_like($srv, qr/.../, $description): the log matches (waits up to 5 s
# for the line to appear, since logging may trail the event).
sub log_like {
	my ($srv, $re, $desc) = @_;
	wait_until(sub { log_text($srv) =~ $re }, 5);
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return Test::More::like(log_text($srv), $re, $desc);
}

sub log_unlike {
	my ($srv, $re, $desc) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return Test::More::unlike(log_text($srv), $re, $desc);
}

# worker_pids($srv): pids of the live mwworker children of mwsup, sorted.
sub worker_pids {
	my ($srv) = @_;
	$srv //= $CURRENT;
	my @pids;
	opendir(my $dh, '/proc') or die "/proc: $!\n";
	for my $pid (grep { /^\d+$/ } readdir($dh)) {
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $stat = <$fh> // next;
		# pid (comm) state ppid ...; comm may hold spaces and parens.
		my ($comm, $state, $ppid) = $stat =~ /^\d+ \((.*)\) (\S) (\d+) /s
			or next;
		next unless $ppid == $srv->{pid} && $state ne 'Z' && $state ne 'X';
		next unless $comm =~ /mwworker/ || _cmdline($pid) =~ /mwworker/;
		push @pids, $pid;
	}
	return sort { $a <=> $b } @pids;
}

sub _cmdline {
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/cmdline") or return '';
	local $/;
	return <$fh> // '';
}

# wait_until(sub {...}, $seconds): poll until the code returns true;
# returns its last value.
sub wait_until {
	my ($code, $secs) = @_;
	my $deadline = time() + ($secs // 10);
	my $v;
	until ($v = $code->()) {
		last if time() >= $deadline;
		sleep(0.1);
	}
	return $v;
}

# run_cmd(@argv): run a program; returns (exit code, stdout, stderr).
# A death by signal gives 128 + signal number.
sub run_cmd {
	my @argv = @_;
	my $dir = tempdir(CLEANUP => 1);
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', "$dir/out") or die;
		open(STDERR, '>', "$dir/err") or die;
		exec(@argv) or do { print STDERR "exec $argv[0]: $!\n"; POSIX::_exit(127) };
	}
	waitpid($pid, 0);
	my $st = $?;
	my $rc = ($st & 127) ? 128 + ($st & 127) : $st >> 8;
	return ($rc, read_file("$dir/out"), read_file("$dir/err"));
}

# wiki_php($wiki, @args): run "php @args" for $wiki (MW_CONFIG_FILE set to
# its LocalSettings.php), as www-data when the tests run as root, as mwsup
# runs the wiki, so that SQLite files keep their owner.  Returns
# (exit code, stdout, stderr) as run_cmd does.
sub wiki_php {
	my ($w, @args) = @_;
	my @as = $> == 0 ? ('runuser', '-u', 'www-data', '--') : ();
	return run_cmd(@as, 'env', "MW_CONFIG_FILE=$w->{settings}", 'php', @args);
}

# --- HTTP ------------------------------------------------------------------

# http($method, $path, \%headers, $body, \%opt): one request with
# HTTP::Tiny to the current server (or opt port/host).  Redirects are not
# followed; the connection is closed after the request unless opt ua is an
# HTTP::Tiny made with keep_alive.  opt jar: a cookie_jar() to send and
# collect cookies.  Returns {status, reason, headers, body}: header names
# lowercased, each value a string, except "set-cookie", always a list.
# Beware: HTTP::Tiny sends a GET or HEAD a second time when the connection
# closes before any answer; use raw() where that matters (crashes).
sub http {
	my ($method, $path, $headers, $body, $opt) = @_;
	$opt //= {};
	my $port = $opt->{port} // ($CURRENT && $CURRENT->{port})
		// die "http: no port\n";
	my $host = $opt->{host} // ($CURRENT && $CURRENT->{host}) // '127.0.0.1';
	$host = "[$host]" if $host =~ /:/;
	my $ua = $opt->{ua} // HTTP::Tiny->new(max_redirect => 0,
	    keep_alive => 0, timeout => $opt->{timeout} // 60,
	    ($opt->{jar} ? (cookie_jar => $opt->{jar}) : ()));
	my %args = (headers => $headers // {});
	$args{content} = $body if defined $body;
	my $r = $ua->request($method, "http://$host:$port$path", \%args);
	my %h;
	while (my ($k, $v) = each %{ $r->{headers} }) {
		if ($k eq 'set-cookie') {
			$h{$k} = ref $v ? $v : [$v];
		} else {
			$h{$k} = ref $v ? join(', ', @$v) : $v;
		}
	}
	$h{'set-cookie'} //= [];
	return { status => $r->{status}, reason => $r->{reason},
		headers => \%h, body => $r->{content} // '' };
}

# form(key => value, ...): an application/x-www-form-urlencoded body.
sub form {
	my (@pairs) = @_;
	return HTTP::Tiny->new->www_form_urlencode(\@pairs);
}

# raw($port_or_socket_path, $bytes, %opt): write bytes, return everything
# the server sends until it closes the connection or goes quiet for
# opt timeout seconds (default 10).  In list context also returns whether
# the server closed the connection.  undef if the connection failed.
sub raw {
	my ($where, $bytes, %opt) = @_;
	my $timeout = $opt{timeout} // 10;
	my $s;
	if ($where =~ m{/}) {
		$s = IO::Socket::UNIX->new(Peer => $where, Type => SOCK_STREAM);
	} else {
		$s = IO::Socket::IP->new(PeerHost => $opt{host} // '127.0.0.1',
		    PeerPort => $where, Proto => 'tcp', Timeout => $timeout);
	}
	return unless $s;
	$s->autoflush(1);
	local $SIG{PIPE} = 'IGNORE';
	my $off = 0;
	while ($off < length $bytes) {
		my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
		last unless $n;	# the server may close early on a bad request
		$off += $n;
	}
	my ($out, $closed) = ('', 0);
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while (1) {
		my $n = select(my $rout = $rin, undef, undef, $timeout);
		last if $n <= 0;
		my $got = sysread($s, my $buf, 65536);
		if (!$got) { $closed = 1; last; }
		$out .= $buf;
	}
	close($s);
	return wantarray ? ($out, $closed) : $out;
}

# raw_begin($port, $bytes, %opt): connect and write bytes without waiting
# for the answer (to keep a worker busy while another request is sent;
# opt rcvbuf: the client socket's receive buffer, set before connecting;
# opt mss: its TCP maximum segment size, as on a real network (loopback's
# is 64 KB, for which the server's kernel buffers megabytes of a reply));
# raw_end($socket, timeout => S) reads it until the server closes the
# connection or goes quiet.  The supervisor gives each request to the
# worker that became idle last, so sequential requests all reach one
# worker: a request held busy is how a test reaches the other one.
sub raw_begin {
	my ($port, $bytes, %opt) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $opt{host} // '127.0.0.1',
	    PeerPort => $port, Proto => 'tcp', Timeout => 10,
	    Sockopts => [
		($opt{rcvbuf} ? ([SOL_SOCKET, SO_RCVBUF, $opt{rcvbuf}]) : ()),
		($opt{mss} ? ([IPPROTO_TCP, TCP_MAXSEG, $opt{mss}]) : ()),
	    ])
		or die "raw_begin: connect to port $port: $!\n";
	$s->autoflush(1);
	local $SIG{PIPE} = 'IGNORE';
	syswrite($s, $bytes) == length $bytes or die "raw_begin: short write\n";
	return $s;
}

sub raw_end {
	my ($s, %opt) = @_;
	my $timeout = $opt{timeout} // 30;
	my $out = '';
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while (select(my $rout = $rin, undef, undef, $timeout) > 0) {
		my $got = sysread($s, my $buf, 65536);
		last unless $got;
		$out .= $buf;
	}
	close($s);
	return $out;
}

# parse_response($bytes): the first HTTP response in raw bytes, as http()
# returns it (the body is whatever follows the head).
sub parse_response {
	my ($bytes) = @_;
	return { status => 0, headers => {}, body => '', 'set-cookie' => [] }
		unless defined $bytes && $bytes =~ /\A(.*?)\r?\n\r?\n(.*)\z/s;
	my ($head, $body) = ($1, $2);
	my ($line, @fields) = split /\r?\n/, $head;
	my ($status, $reason) = $line =~ m{^HTTP/\d\.\d (\d{3}) ?(.*)$};
	my %h = ('set-cookie' => []);
	for (@fields) {
		my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
		$k = lc $k;
		if ($k eq 'set-cookie') { push @{ $h{$k} }, $v }
		elsif (exists $h{$k}) { $h{$k} .= ", $v" }
		else { $h{$k} = $v }
	}
	if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
		my $plain = '';
		while ($body =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
			my $n = hex $1;
			last if $n == 0;
			$plain .= substr($body, 0, $n, '');
			$body =~ s/\A\r\n//;
		}
		$body = $plain;
	}
	return { status => $status // 0, reason => $reason, headers => \%h,
		body => $body };
}

# judge($bytes): what a client got from one raw exchange: 'complete' (a
# whole answer below 400: its Content-Length worth of body, or a chunked
# body up to its last chunk), 'clean-5xx' (a whole 5xx answer),
# 'status-NNN' (a whole 4xx), or what was wrong: 'no-answer',
# 'broken-head', 'broken-status', 'no-length', 'cut-body', 'cut-chunked'.
# A HEAD answer or a 204/304 has no body to count.
sub judge {
	my ($out, %opt) = @_;
	return 'no-answer' unless defined $out && length $out;
	my ($head, $body) = $out =~ /\A(.*?)\r\n\r\n(.*)\z/s or return 'broken-head';
	my ($code) = $head =~ m{\AHTTP/1\.[01] (\d{3}) } or return 'broken-status';
	my $kind = $code >= 500 ? 'clean-5xx' : $code < 400 ? 'complete' : "status-$code";
	return $kind if $opt{head} || $code == 204 || $code == 304;
	if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
		return $body =~ /(?:\A|\r\n)0\r\n\r\n\z/ ? $kind : 'cut-chunked';
	}
	my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
	return 'no-length' unless defined $len;
	return 'cut-body' unless length($body) == $len;
	return $kind;
}

# once($port, $method, $path, %opt): one request on a connection of its
# own, sent once: unlike HTTP::Tiny, nothing is sent again when the
# connection closes early, so a request dropped or cut short shows.
# opt body (sent with a Content-Length and, unless opt type says
# otherwise, as a form), headers (hash), timeout (default 60).  Returns
# (judge()'s verdict, parse_response()'s hash).
sub once {
	my ($port, $method, $path, %opt) = @_;
	my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
	my %h = %{ $opt{headers} // {} };
	if (defined $opt{body}) {
		$h{'Content-Type'} //= $opt{type} // 'application/x-www-form-urlencoded';
		$h{'Content-Length'} = length $opt{body};
	}
	$req .= "$_: $h{$_}\r\n" for sort keys %h;
	$req .= "\r\n" . ($opt{body} // '');
	my $out = raw($port, $req, timeout => $opt{timeout} // 60);
	return (judge($out, head => $method eq 'HEAD'), parse_response($out));
}

# --- warm against cold ------------------------------------------------------

# cold_config($wiki, %yaml): a second mw.yaml for the same wiki (its
# LocalSettings.php, data, uploads) that serves it cold (snapshot.enabled:
# false) on another free port, without the job runner (the first one's
# runs the queue) and with an OPcache file cache of its own (warm workers
# compile with other options); more changes as for set_yaml.  Returns the
# path, for start_mwsup.  A warm answer must be the cold one.
sub cold_config {
	my ($w, %yaml) = @_;
	my $path = "$w->{dir}/mw-cold.yaml";
	my $cache = "$w->{dir}/cache/opcache-cold";
	make_path($cache);
	if ($> == 0) {
		my ($uid, $gid) = (getpwnam('www-data'))[2, 3];
		chown($uid, $gid, $cache) if defined $uid;
	}
	write_file($path, read_file($w->{config}));
	set_yaml($path, listen => ['127.0.0.1:' . free_port()],
	    'snapshot.enabled' => 'false', 'jobs.enabled' => 'false',
	    'php.opcache.file_cache' => $cache, %yaml);
	return $path;
}

# normalised($response): what an answer says, as one string: status, the
# headers that describe the content, the names of the cookies set (and
# whether secure), and the body with what differs between two runs of one
# request replaced: request ids, tokens, timestamps, render ids, the
# parser's time reports.  Two servers that answer alike give the same
# string.
sub normalised {
	my ($r) = @_;
	my $h = $r->{headers};
	my $s = "status $r->{status}\n";
	for my $k (qw(content-type content-language content-disposition vary
	    cache-control location x-frame-options)) {
		$s .= "$k: $h->{$k}\n" if exists $h->{$k};
	}
	for my $c (sort @{ $h->{'set-cookie'} // [] }) {
		my ($name) = $c =~ /^([^=]*)=/;
		$s .= "set-cookie: " . ($name // '?')
		    . ($c =~ /;\s*secure\b/i ? ' secure' : '') . "\n";
	}
	my $b = $r->{body} // '';
	$b =~ s/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/gi;
	$b =~ s/("wgRequestId":)"[^"]*"/$1"<id>"/g;
	$b =~ s/("wgBackendResponseTime":)\d+/$1<ms>/g;
	$b =~ s/\b[0-9a-f]{32,40}\+\\\\?/<token>/g;
	$b =~ s/\b(?:19|20)\d{12}\b/<ts>/g;
	$b =~ s/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/<time>/g;
	$b =~ s/(<!-- (?:Served|Cached|Saved)[^>]*-->)/<cache comment>/g;
	# The time as the wiki shows it ("16:24, 4 December 2026"), plain
	# and URL-encoded (Special:RecentChanges's "changes from" link).
	my $month = qr/(?:January|February|March|April|May|June|July|August
	    |September|October|November|December)/x;
	$b =~ s/\b\d\d(?::|%3A)\d\d(?:,|%2C)(?: |\+)\d{1,2}(?: |\+)$month(?: |\+)\d{4}\b/<date>/g;
	$b =~ s/((?:CPU|Real) time usage: )[\d.]+/$1<s>/g;
	# The transclusion time report, in the page and in the API's JSON:
	# its lines are times, ordered by time.
	$b =~ s/(Transclusion expansion time report \(%,ms,calls,template\)).*?(-->)/$1 <report> $2/gs;
	$b =~ s/("timingprofile":)\[[^\]]*\]/$1<report>/g;
	$b =~ s/("?(?:cputime|walltime|ppvisitednodes|timestamp|cachereport)"?\s*[:=]\s*)"?[\w.:\-]+"?/$1<n>/gi;
	# The same times in the parser's limit report as text (the HTML
	# comment of a page parsed afresh, or action=parse's limitreporthtml).
	$b =~ s/((?:CPU|Real) time usage: )[\d.]+( seconds)/$1<n>$2/g;
	return "$s\n$b";
}

# warm_cold($warm_srv, $cold_srv, \@requests, %opt): the differential
# check.  The requests (hashes: method, path, headers, body, name) are sent
# in turn, opt times (3) rounds, to the cold server and then the warm one,
# so that the warm worker answers each after all the others; every
# normalised() answer, warm or cold, must be the cold server's first.
# Returns one entry per disagreement (the request, the round, the first
# differing line); none when all agree.  Only requests that change nothing
# in the wiki: the two servers share it.
sub warm_cold {
	my ($warm, $cold, $reqs, %opt) = @_;
	my $times = $opt{times} // 3;
	my (@diffs, @want);
	for my $round (1 .. $times) {
		for my $i (0 .. $#$reqs) {
			my $q = $reqs->[$i];
			my $name = $q->{name} // "$q->{method} $q->{path}";
			my @args = ($q->{method}, $q->{path}, $q->{headers}, $q->{body});
			my $c = normalised(http(@args, { port => $cold->{port} }));
			my $w = normalised(http(@args, { port => $warm->{port} }));
			$want[$i] //= $c;
			for my $got (['cold', $c], ['warm', $w]) {
				push @diffs, "$name, send $round: " .
				    _first_difference($want[$i], $got->[1], $got->[0])
					if $got->[1] ne $want[$i];
			}
		}
	}
	return @diffs;
}

# Where two normalised() strings part: the line, and up to 200 characters
# of each from a little before the first differing one.
sub _first_difference {
	my ($want, $got, $who) = @_;
	my @a = split /\n/, $want, -1;
	my @b = split /\n/, $got, -1;
	my $i = 0;
	$i++ while $i < @a && $i < @b && $a[$i] eq $b[$i];
	my ($x, $y) = ($a[$i] // '(end)', $b[$i] // '(end)');
	my $at = 0;
	$at++ while $at < length($x) && $at < length($y)
	    && substr($x, $at, 1) eq substr($y, $at, 1);
	$at = $at > 60 ? $at - 60 : 0;
	return "line " . ($i + 1) . "\n  first cold: " . substr($x, $at, 200)
	    . "\n  $who: " . substr($y, $at, 200);
}

# cookie_jar(): a minimal jar for HTTP::Tiny's cookie_jar option: keeps
# name=value per cookie name (one host per test), drops expired ones.
# MwTest::api($jar, $method, %params) (not exported; tests wrap it): one api.php call (format=json) in the
# session of $jar (undef: no session).  Returns (decoded JSON or {},
# response); says why in a diag when the answer is not 200 JSON.  Options
# for http() may be passed as params key "_opt".
sub api {
	my ($jar, $method, %p) = @_;
	my $opt = delete($p{_opt}) // {};
	$p{format} = 'json';
	my $q = form(%p);
	my %o = (%$opt, ($jar ? (jar => $jar) : ()));
	my $r = $method eq 'GET'
	    ? http(GET => "/api.php?$q", undef, undef, \%o)
	    : http(POST => '/api.php',
		{ 'Content-Type' => 'application/x-www-form-urlencoded' }, $q, \%o);
	my $j = eval { JSON::PP::decode_json($r->{body}) };
	Test::More::diag("api.php $method @{[ %p ]}: status $r->{status}: "
	    . substr($r->{body} // '', 0, 500))
		unless $j && $r->{status} == 200;
	return ($j // {}, $r);
}

sub cookie_jar { MwTest::Jar->new }

package MwTest::Jar;

sub new { bless { cookies => {} }, shift }

sub add {
	my ($self, $url, $header) = @_;
	my ($pair, @attrs) = split /;\s*/, $header;
	my ($name, $value) = split /=/, $pair, 2;
	return unless defined $name && length $name;
	my $expired = grep { /^max-age=\s*-?0*$/i || /^max-age=\s*-/i
	    || (/^expires=(.*)$/i && _past($1)) } @attrs;
	if ($expired || !defined $value || $value eq 'deleted') {
		delete $self->{cookies}{$name};
	} else {
		$self->{cookies}{$name} = $value;
	}
	return;
}

sub _past {
	my ($date) = @_;
	my ($y) = $date =~ /(\d{4})/;
	return defined $y && $y < 2000;	# MediaWiki deletes with a 1970 date
}

sub cookie_header {
	my ($self, $url) = @_;
	return join('; ', map { "$_=$self->{cookies}{$_}" }
	    sort keys %{ $self->{cookies} });
}

sub names { sort keys %{ $_[0]{cookies} } }

1;
