#!/usr/bin/perl
# A farm on one machine: two mwsup hosts, each in its own network namespace
# (10.200.0.11 and .12 on a bridge that only these namespaces see), behind
# a real HAProxy (deploy/haproxy.cfg, addresses substituted) in a third;
# one MariaDB and one Redis (object cache, sessions, JobQueueRedis) that
# both hosts share, reached on unix sockets, like the uploads directory.
# The test reaches HAProxy and each host on unix sockets, so nothing is
# added to the machine's own network.  It shows: a login through HAProxy
# holds on both hosts; an edit through host A is read at once through host
# B; jobs queued once run once each, on either host; a SIGTERM of one host
# under load (4 clients, 200 requests) fails none (timeouts.drain and
# /healthz take it out first); a rolling SIGHUP of both hosts under load
# fails none; a SIGKILL of one host under load fails none once HAProxy has
# retried what the host held; after a restart of MariaDB, edits through
# HAProxy succeed and both hosts read them; after a restart of Redis a
# new login holds on both and new jobs run once each.  Needs root (namespaces); skipped, saying why, without them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

plan skip_all => 'needs root for network namespaces' if $> != 0;
for my $bin (qw(haproxy mariadbd mariadb-install-db redis-server)) {
	plan skip_all => "no $bin" unless grep { -x "$_/$bin" } qw(/usr/sbin /usr/bin /sbin /bin);
}
my ($hasext) = run_cmd('php', '-r', 'exit(extension_loaded("redis") ? 0 : 1);');
plan skip_all => 'no PHP redis extension (apt-get install php8.2-redis)' if $hasext != 0;

my $N = "mwf$$";
my @ns;
sub ip { my ($rc, $out, $err) = run_cmd('ip', @_); die "ip @_: $err" if $rc; $out }
{
	my ($rc, $out, $err) = run_cmd('ip', 'netns', 'add', "$N-lb");
	plan skip_all => "cannot make a network namespace: $err" if $rc;
	push @ns, "$N-lb";
}
my @daemons;	# pids to stop before the namespaces go
END {
	for my $pid (grep { $_ } @daemons) { kill('TERM', $pid); waitpid($pid, 0); }
	system('ip', 'netns', 'del', $_) for @ns;
}
ip('-n', "$N-lb", 'link', 'set', 'lo', 'up');
ip('-n', "$N-lb", 'link', 'add', 'br0', 'type', 'bridge');
ip('-n', "$N-lb", 'addr', 'add', '10.200.0.1/24', 'dev', 'br0');
ip('-n', "$N-lb", 'link', 'set', 'br0', 'up');
my %addr = (a => '10.200.0.11', b => '10.200.0.12');
for my $h (qw(a b)) {
	ip('netns', 'add', "$N-$h");
	push @ns, "$N-$h";
	ip('-n', "$N-$h", 'link', 'set', 'lo', 'up');
	ip('-n', "$N-lb", 'link', 'add', "v$h", 'type', 'veth', 'peer', 'name', 'eth0', 'netns', "$N-$h");
	ip('-n', "$N-lb", 'link', 'set', "v$h", 'master', 'br0', 'up');
	ip('-n', "$N-$h", 'addr', 'add', "$addr{$h}/24", 'dev', 'eth0');
	ip('-n', "$N-$h", 'link', 'set', 'eth0', 'up');
}

# --- the shared services and the shared wiki -------------------------------
my $dir = test_dir();
my $db = mariadb_start();
my $redis = redis_start();
my $w = wiki(mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'redis', '--cache-server', $redis->{socket}],
    'pool.workers' => 2, 'status.health' => '/healthz',
    'timeouts.drain' => 3, 'jobs.poll' => 0.5, 'jobs.chron' => 1,
    'jobs.sqlite' => undef, 'jobs.reserve' => 0);
my $marks = $w->{images};
append_settings($w, <<"PHP");
\$wgJobTypeConf['default'] = [
	'class' => 'JobQueueRedis',
	'redisServer' => '$redis->{socket}',
	'redisConfig' => [],
	'claimTTL' => 30,
	'daemonized' => true,
];
\$wgJobRunRate = 0;
class MwsupFarmMarkJob extends Job implements GenericParameterJob {
	public function __construct( array \$params ) {
		parent::__construct( 'mwsupFarmMark', \$params );
	}
	public function run() {
		file_put_contents( '$marks/jobs.log',
		    \$this->params['name'] . ' ' . getmypid() . "\\n",
		    FILE_APPEND | LOCK_EX );
		usleep( 200000 );
		return true;
	}
}
\$wgJobClasses['mwsupFarmMark'] = MwsupFarmMarkJob::class;
PHP

# HTTP::Tiny to a unix socket: host names "lb", "a" and "b".
my %sock = (lb => "$dir/lb.sock", a => "$dir/a.sock", b => "$dir/b.sock");
{
	no warnings 'redefine';
	my $orig = \&HTTP::Tiny::Handle::connect;
	*HTTP::Tiny::Handle::connect = sub {
		my ($self, $scheme, $host, $port, $peer) = @_;
		return $orig->(@_) unless $sock{$host};
		$self->{fh} = IO::Socket::UNIX->new(Peer => $sock{$host}, Type => SOCK_STREAM)
			or die "Could not connect to '$sock{$host}': $!\n";
		binmode($self->{fh});
		@$self{qw(scheme host peer port pid tid)} = ($scheme, $host, $peer, $port, $$, 0);
		return $self;
	};
}
sub via { my ($h, $jar) = @_; return { host => $h, port => 80, ($jar ? (jar => $jar) : ()) } }

my %srv;
sub start_host {
	my ($h) = @_;
	my $conf = "$dir/$h.yaml";
	my $text = read_file($w->{config});
	$text =~ s/^listen:\n(?:  - .*\n)+/listen:\n  - "unix:$sock{$h}"\n  - {address: "$addr{$h}:8080", proxy_protocol: true}\n/m
		or die "test bug: no listen list in $w->{config}\n";
	write_file($conf, $text);
	$srv{$h} = start_mwsup($conf, unix => $sock{$h}, wrap => ['ip', 'netns', 'exec', "$N-$h"]);
	push @daemons, $srv{$h}{pid};
	return $srv{$h};
}
start_host($_) for qw(a b);

my $cfg = read_file(repo_dir() . '/deploy/haproxy.cfg');
$cfg =~ s{^\tlog /dev/log local0\n}{\tstats socket $dir/hap.stat level admin\n}m or die "test bug: haproxy.cfg log line\n";
$cfg =~ s{^\tbind :80\n}{\tbind $sock{lb} mode 666\n}m or die "test bug: haproxy.cfg bind\n";
$cfg =~ s{^\tbind :443.*\n}{}m;
$cfg =~ s{10\.0\.0\.11:}{$addr{a}:}; $cfg =~ s{10\.0\.0\.12:}{$addr{b}:};
write_file("$dir/haproxy.cfg", $cfg);
my $hpid = fork() // die;
if ($hpid == 0) {
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', "$dir/haproxy.log"); open(STDERR, '>&', \*STDOUT);
	exec('ip', 'netns', 'exec', "$N-lb", 'haproxy', '-db', '-f', "$dir/haproxy.cfg") or POSIX::_exit(127);
}
push @daemons, $hpid;
sub hap_stat {		# server name => its "show stat" fields
	my $s = IO::Socket::UNIX->new(Peer => "$dir/hap.stat", Type => SOCK_STREAM) or return {};
	print $s "show stat\n";
	my %st;
	while (<$s>) { my @f = split /,/; $st{$f[1]} = \@f if $f[0] eq 'mwsup' && $f[1] =~ /^app/ }
	return \%st;
}
sub hap_states {	# server name => "UP" / "DOWN" / ...
	my $st = hap_stat();
	return { map { $_ => $st->{$_}[17] } keys %$st };
}
# What HAProxy had to make up for on a server: connection errors, response
# errors, retries, redispatches.
sub hap_trouble { my $f = hap_stat()->{$_[0]} or return -1; $f->[13] + $f->[14] + $f->[15] + $f->[16] }
my $both_up = sub { my $st = hap_states(); ($st->{app1} // '') eq 'UP' && ($st->{app2} // '') eq 'UP' };
ok(wait_until($both_up, 20), 'HAProxy sees both hosts UP through /healthz (PROXY v2 checks)')
    or diag(read_file("$dir/haproxy.log"));

# --- a login through HAProxy holds on both hosts ---------------------------
sub login {
	my ($what) = @_;
	my $jar = cookie_jar();
	my ($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', type => 'login', _opt => via('lb'));
	($j) = MwTest::api($jar, POST => action => 'clientlogin', username => $w->{admin_user},
	    password => $w->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
	    loginreturnurl => 'http://lb/', _opt => via('lb'));
	is($j->{clientlogin}{status}, 'PASS', "${what}clientlogin through HAProxy");
	for my $h (qw(a b)) {
		($j) = MwTest::api($jar, GET => action => 'query', meta => 'userinfo', _opt => via($h));
		is($j->{query}{userinfo}{name}, $w->{admin_user}, "${what}the session is the admin's on host $h");
	}
	return $jar;
}
my $jar = login('');
my $j;

# --- an edit through A is read through B at once ---------------------------
($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', _opt => via('a'));
my $text = "Farm edit " . time();
($j) = MwTest::api($jar, POST => action => 'edit', title => 'Farm_page', text => $text,
    token => $j->{query}{tokens}{csrftoken} // '', _opt => via('a'));
is($j->{edit}{result}, 'Success', 'an edit through host A');
my $r = http(GET => '/index.php?title=Farm_page&action=raw', undef, undef, via('b'));
is($r->{body}, $text, 'host B reads the new text at once');
$r = http(GET => '/index.php?title=Farm_page', undef, undef, via('b'));
like($r->{body}, qr/\Q$text\E/, 'and renders it');

# --- jobs queued once run once each, on either host ------------------------
my $f = "$dir/queue.php";
write_file($f, <<'PHP');
<?php
require_once '/usr/share/mediawiki/maintenance/Maintenance.php';
class MwsupFarmQueue extends Maintenance {
	public function execute() {
		$jqg = MediaWiki\MediaWikiServices::getInstance()->getJobQueueGroup();
		$from = (int)getenv( 'FARM_FROM' );
		for ( $i = $from; $i < $from + 12; $i++ )
			$jqg->push( new MwsupFarmMarkJob( [ 'name' => "job$i" ] ) );
	}
}
$maintClass = MwsupFarmQueue::class;
require_once RUN_MAINTENANCE_IF_MAIN;
PHP
chmod 0644, $f;
my ($rc, $out, $err) = wiki_php($w, $f);	# FARM_FROM unset: job0 .. job11
is($rc, 0, 'twelve jobs queued in Redis') or diag("$out$err");
my $lines = sub { -e "$marks/jobs.log" ? [ split /\n/, read_file("$marks/jobs.log") ] : [] };
wait_until(sub { @{ $lines->() } >= 12 }, 20);
sleep(2);	# a job run twice would show by now
my %seen;
$seen{(split / /)[0]}++ for @{ $lines->() };
is(scalar(keys %seen), 12, 'all twelve ran');
is(scalar(grep { $seen{$_} != 1 } keys %seen), 0, 'each exactly once');
my %where;
for (@{ $lines->() }) {
	my (undef, $pid) = split / /;
	my ($h) = grep { my $x = $_; grep { $_ == $pid } worker_pids($srv{$x}) } qw(a b);
	$where{$h // '?'}++;
}
diag('jobs run by host: ' . join(', ', map { "$_ $where{$_}" } sort keys %where));

# --- load: 4 clients, 50 requests each, through HAProxy --------------------
my $API = '/api.php?action=query&meta=siteinfo&format=json';
sub load_start {
	my ($tag) = @_;
	my @pids;
	for my $c (1 .. 4) {
		my $pid = fork() // die;
		if ($pid == 0) {
			my @got;
			for my $i (1 .. 50) {
				my ($o) = raw($sock{lb}, "GET $API&c=$c&i=$i HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n", timeout => 30);
				push @got, ($o // '') =~ m{^HTTP/1\.[01] (\d{3})} ? $1 : 'none';
				sleep(0.04);
			}
			write_file("$dir/load-$tag-$c", join("\n", @got) . "\n");
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	return \@pids;
}
sub load_end {
	my ($tag, $pids) = @_;
	waitpid($_, 0) for @$pids;
	my %n;
	for my $c (1 .. 4) { $n{$_}++ for split /\n/, read_file("$dir/load-$tag-$c") }
	return \%n;
}
sub show { my ($n) = @_; join(', ', map { "$_: $n->{$_}" } sort keys %$n) }

my $trouble0 = hap_trouble('app1');
my $t0 = time();
my $load = load_start('stop');
sleep(1);
kill 'TERM', $srv{a}{pid};
my $down = wait_until(sub { (hap_states()->{app1} // '') =~ /DOWN|MAINT/ }, 10);
ok($down, sprintf('HAProxy takes host A out %.1f s into its drain', time() - $t0 - 1));
waitpid($srv{a}{pid}, 0);
is(MwTest::_wstat($?), 'exit 0', 'host A stops and exits 0');
diag(sprintf('host A exited %.1f s after SIGTERM (timeouts.drain: 3)', time() - $t0 - 1));
$srv{a}{stopped} = 1;
my $n = load_end('stop', $load);
is($n->{200} // 0, 200, 'SIGTERM of host A under load: all 200 requests answered 200') or diag(show($n));
is(hap_trouble('app1') - $trouble0, 0,
    'none needed a retry: HAProxy saw the drain before host A closed its listener');

start_host('a');
ok(wait_until($both_up, 20), 'host A started again is UP in HAProxy');

$load = load_start('reload');
sleep(0.5);
for my $h (qw(a b)) {
	kill 'HUP', $srv{$h}{pid};
	ok(wait_until(sub { log_text($srv{$h}) =~ /generation 2 ready/ }, 30), "host $h reloads");
}
$n = load_end('reload', $load);
is($n->{200} // 0, 200, 'a rolling SIGHUP of both hosts under load: all 200 answered 200') or diag(show($n));

# A restart of MariaDB: the workers' kept connections are gone; the next
# edit and read through HAProxy reach the new server.
mariadb_stop($db);
mariadb_start($db);
for my $i (1 .. 2) {
	($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', _opt => via('lb'));
	($j) = MwTest::api($jar, POST => action => 'edit', title => 'Farm_page', text => "$text after $i",
	    token => $j->{query}{tokens}{csrftoken} // '', _opt => via('lb'));
	is($j->{edit}{result}, 'Success', "after a MariaDB restart: edit $i through HAProxy");
}
for my $h (qw(a b)) {
	is(http(GET => '/index.php?title=Farm_page&action=raw', undef, undef, via($h))->{body},
	    "$text after 2", "host $h reads it");
}

# A restart of Redis (nothing saved): the sessions are gone, a new login
# holds on both hosts again, and new jobs run once each.
cache_stop($redis);
redis_start($redis);
login('after a Redis restart: ');
($rc, $out, $err) = run_cmd('runuser', '-u', 'www-data', '--', 'env', "MW_CONFIG_FILE=$w->{settings}",
    'FARM_FROM=100', 'php', $f);
is($rc, 0, 'after a Redis restart: twelve more jobs queued') or diag("$out$err");
wait_until(sub { @{ $lines->() } >= 24 }, 20);
sleep(2);
%seen = ();
$seen{(split / /)[0]}++ for @{ $lines->() };
is(scalar(grep { /^job1\d\d$/ } keys %seen), 12, 'all twelve ran');
is(scalar(grep { $seen{$_} != 1 } keys %seen), 0, 'each exactly once');

# SIGKILL of a host under load: what it held is lost to it, and HAProxy
# sends those requests (GETs) again, to the other host.
$load = load_start('kill');
sleep(1);
kill 'KILL', $srv{a}{pid};
waitpid($srv{a}{pid}, 0);
$srv{a}{stopped} = 1;
$n = load_end('kill', $load);
is($n->{200} // 0, 200, 'SIGKILL of host A under load: all 200 answered 200, after HAProxy\'s retries')
    or diag(show($n));
diag('HAProxy\'s connection errors, response errors, retries and redispatches on host A: '
    . hap_trouble('app1'));

kill 'TERM', $hpid; waitpid($hpid, 0); @daemons = grep { $_ != $hpid } @daemons;
stopped_cleanly($srv{b});
done_testing();
