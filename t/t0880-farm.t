#!/usr/bin/perl
# A farm on one machine: three mwsup hosts, each in its own network
# namespace (10.200.0.11, .12 and .13 on a bridge that only these
# namespaces see), behind a real HAProxy (deploy/haproxy.cfg, addresses
# substituted) in a fourth; MariaDB and Redis (object cache, sessions,
# JobQueueRedis) in a fifth, "db" (10.200.0.2), reached by the hosts over
# TCP as on a network; uploads on a directory every host sees.  The test
# reaches HAProxy and each host on unix sockets, so nothing is added to
# the machine's own network.  It shows: a login through HAProxy holds on
# every host; an edit through host A is read at once through B and C; an
# anonymous edit from a client namespace (10.200.0.50) through HAProxy
# is recorded under the client's address; a file uploaded through B is
# served by A and C; jobs queued once run once
# each; jobs queued through A while A and B are busy run on C, the idle
# one; a SIGTERM of one host under load (4 clients, 200 requests) fails
# none (timeouts.drain and /healthz take it out first); a rolling SIGHUP
# of every host under load fails none; a SIGKILL of one host under load
# fails none once HAProxy has retried what the host held; after a restart
# of MariaDB, edits through HAProxy succeed and every host reads them;
# after a restart of Redis a new login holds on every host and new jobs
# run once each.  Needs root (namespaces); skipped, saying why, without
# them.
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

my $T0 = time();
sub phase { note(sprintf('%5.1f s: %s', time() - $T0, $_[0])) }
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
my @hosts = qw(a b c);
my %addr = (db => '10.200.0.2', cl => '10.200.0.50',
    a => '10.200.0.11', b => '10.200.0.12', c => '10.200.0.13');
for my $h ('db', 'cl', @hosts) {	# cl: a client on the network
	ip('netns', 'add', "$N-$h");
	push @ns, "$N-$h";
	ip('-n', "$N-$h", 'link', 'set', 'lo', 'up');
	ip('-n', "$N-lb", 'link', 'add', "v$h", 'type', 'veth', 'peer', 'name', 'eth0', 'netns', "$N-$h");
	ip('-n', "$N-lb", 'link', 'set', "v$h", 'master', 'br0', 'up');
	ip('-n', "$N-$h", 'addr', 'add', "$addr{$h}/24", 'dev', 'eth0');
	ip('-n', "$N-$h", 'link', 'set', 'eth0', 'up');
}

phase('namespaces');
# --- the shared services and the shared wiki -------------------------------
# MariaDB and Redis listen on 10.200.0.2 in the "db" namespace for the
# hosts, and on unix sockets for tools/mkwiki and the test's own SQL.
my $dir = test_dir();
my @in_db = ('ip', 'netns', 'exec', "$N-db");
my $db = mariadb_start(undef, wrap => \@in_db,
    args => ['--skip-networking=0', "--bind-address=$addr{db}", '--port=3306']);
my $redis = redis_start(undef, wrap => \@in_db,
    args => ['--port', '6379', '--bind', $addr{db}, '--protected-mode', 'no']);
my $w = wiki(mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'redis', '--cache-server', $redis->{socket}],
    'pool.workers' => 2, 'status.health' => '/healthz',
    'timeouts.drain' => 3, 'jobs.poll' => 0.5, 'jobs.chron' => 1,
    'jobs.sqlite' => undef, 'jobs.reserve' => 0);
my $marks = $w->{images};
my $ls = read_file($w->{settings});
my ($dbname) = $ls =~ /^\$wgDBname = '([^']+)';/m;
my ($dbuser) = $ls =~ /^\$wgDBuser = '([^']+)';/m;
my ($dbpass) = $ls =~ /^\$wgDBpassword = '([^']*)';/m;
die "test bug: no database account in $w->{settings}\n" unless $dbname && $dbuser && defined $dbpass;
sql($db, "CREATE USER '$dbuser'\@'10.200.0.%' IDENTIFIED BY '$dbpass';
	GRANT ALL PRIVILEGES ON `$dbname`.* TO '$dbuser'\@'10.200.0.%'");
append_settings($w, <<"PHP");
\$wgDBserver = '$addr{db}';
\$wgObjectCaches['mwsup-redis']['servers'] = [ '$addr{db}:6379' ];
\$wgJobTypeConf['default'] = [
	'class' => 'JobQueueRedis',
	'redisServer' => '$addr{db}:6379',
	'redisConfig' => [],
	'claimTTL' => 30,
	'daemonized' => true,
];
\$wgJobRunRate = 0;
\$wgEnableUploads = true;
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
# api.php?...&farmqueue=N&farmfrom=K queues jobs jobK .. jobK+N-1 through
# the host that serves it; &farmbusy=MS then holds its worker that long.
\$wgHooks['ApiBeforeMain'][] = static function () {
	\$q = RequestContext::getMain()->getRequest();
	\$from = \$q->getInt( 'farmfrom' );
	\$jqg = MediaWiki\\MediaWikiServices::getInstance()->getJobQueueGroup();
	for ( \$i = \$from; \$i < \$from + \$q->getInt( 'farmqueue' ); \$i++ )
		\$jqg->push( new MwsupFarmMarkJob( [ 'name' => "job\$i" ] ) );
	if ( \$q->getInt( 'farmbusy' ) > 0 )
		usleep( 1000 * \$q->getInt( 'farmbusy' ) );
};
PHP

phase('services and wiki');
# HTTP::Tiny to a unix socket: host names "lb", "a" and "b".
my %sock = (lb => "$dir/lb.sock", map { $_ => "$dir/$_.sock" } @hosts);
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
sub start_host {	# start_host(HOST, wait => 0): do not wait for its answer
	my ($h, %opt) = @_;
	my $conf = "$dir/$h.yaml";
	my $text = read_file($w->{config});
	$text =~ s/^listen:\n(?:  - .*\n)+/listen:\n  - "unix:$sock{$h}"\n  - {address: "$addr{$h}:8080", proxy_protocol: true}\n/m
		or die "test bug: no listen list in $w->{config}\n";
	write_file($conf, $text);
	$srv{$h} = start_mwsup($conf, unix => $sock{$h}, wrap => ['ip', 'netns', 'exec', "$N-$h"], %opt);
	push @daemons, $srv{$h}{pid};
	return $srv{$h};
}
# The three at once, as a farm boots: each bootstraps its workers while
# the others do.
start_host($_, wait => 0) for @hosts;
for my $h (@hosts) {
	wait_until(sub { (raw($sock{$h}, "GET /healthz HTTP/1.1\r\nHost: $h\r\nConnection: close\r\n\r\n",
	    timeout => 5) // '') =~ m{^HTTP/1\.1 200 } }, 60)
		or BAIL_OUT("host $h did not start:\n" . log_text($srv{$h}));
}
phase('hosts started');
my $cfg = read_file(repo_dir() . '/deploy/haproxy.cfg');
$cfg =~ s{^\tlog /dev/log local0\n}{\tstats socket $dir/hap.stat level admin\n}m or die "test bug: haproxy.cfg log line\n";
$cfg =~ s{^\tbind :80\n}{\tbind $sock{lb} mode 666\n\tbind 10.200.0.1:80\n}m or die "test bug: haproxy.cfg bind\n";
$cfg =~ s{^\tbind :443.*\n}{}m;
$cfg =~ s{^\t# (server app3 )}{\t$1}m or die "test bug: haproxy.cfg app3\n";
$cfg =~ s{10\.0\.0\.11:}{$addr{a}:}; $cfg =~ s{10\.0\.0\.12:}{$addr{b}:}; $cfg =~ s{10\.0\.0\.13:}{$addr{c}:};
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
my $all_up = sub { my $st = hap_states(); 3 == grep { ($st->{"app$_"} // '') eq 'UP' } 1 .. 3 };
ok(wait_until($all_up, 20), 'HAProxy sees the three hosts UP through /healthz (PROXY v2 checks)')
    or diag(read_file("$dir/haproxy.log"));

phase('haproxy up');
# --- a login through HAProxy holds on every host ---------------------------
sub login {
	my ($what) = @_;
	my $jar = cookie_jar();
	my ($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', type => 'login', _opt => via('lb'));
	($j) = MwTest::api($jar, POST => action => 'clientlogin', username => $w->{admin_user},
	    password => $w->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
	    loginreturnurl => 'http://lb/', _opt => via('lb'));
	is($j->{clientlogin}{status}, 'PASS', "${what}clientlogin through HAProxy");
	for my $h (@hosts) {
		($j) = MwTest::api($jar, GET => action => 'query', meta => 'userinfo', _opt => via($h));
		is($j->{query}{userinfo}{name}, $w->{admin_user}, "${what}the session is the admin's on host $h");
	}
	return $jar;
}
my $jar = login('');
my $j;

phase('login');
# --- an edit through A is read through B and C at once --------------------
($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', _opt => via('a'));
my $text = "Farm edit " . time();
($j) = MwTest::api($jar, POST => action => 'edit', title => 'Farm_page', text => $text,
    token => $j->{query}{tokens}{csrftoken} // '', _opt => via('a'));
is($j->{edit}{result}, 'Success', 'an edit through host A');
for my $h (qw(b c)) {
	my $r = http(GET => '/index.php?title=Farm_page&action=raw', undef, undef, via($h));
	is($r->{body}, $text, "host \U$h\E reads the new text at once");
}
my $r = http(GET => '/index.php?title=Farm_page', undef, undef, via('c'));
like($r->{body}, qr/\Q$text\E/, 'and renders it');

# --- the client's address reaches MediaWiki through HAProxy ---------------
# An anonymous edit from the client namespace, through HAProxy on
# 10.200.0.1: MediaWiki names its author by the client's address (from the
# PROXY v2 header), not by HAProxy's.
{
	my ($rc, $out, $err) = run_cmd('ip', 'netns', 'exec', "$N-cl", 'curl', '-sS', '--max-time', '30',
	    (map { ('--data-urlencode', $_) } 'action=edit', 'title=Farm_anon', "text=anon $$",
		'token=+\\', 'format=json'), 'http://10.200.0.1/api.php');
	$j = eval { decode_json($out) } // {};
	is($j->{edit}{result}, 'Success', "an anonymous edit from a client at $addr{cl} through HAProxy")
	    or diag("curl $rc: $out$err");
	($j) = MwTest::api(undef, GET => action => 'query', prop => 'revisions', titles => 'Farm_anon',
	    rvprop => 'user', _opt => via('c'));
	my ($pg) = values %{ $j->{query}{pages} // {} };
	is($pg->{revisions}[0]{user} // '', $addr{cl}, 'MediaWiki records the client\'s address as its author');
}
phase('edit');
# --- a file uploaded through B is served by A and C ------------------------
my $png = read_file('/usr/share/mediawiki/resources/assets/mediawiki.png');
($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', _opt => via('b'));
{
	my $bound = "farm$$";
	my $body = '';
	for my $p ([action => 'upload'], [format => 'json'], [filename => 'Farm_upload.png'],
	    [ignorewarnings => 1], [token => $j->{query}{tokens}{csrftoken} // '']) {
		$body .= "--$bound\r\nContent-Disposition: form-data; name=\"$p->[0]\"\r\n\r\n$p->[1]\r\n";
	}
	$body .= "--$bound\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Farm_upload.png\"\r\n"
	    . "Content-Type: image/png\r\n\r\n$png\r\n--$bound--\r\n";
	$r = http(POST => '/api.php', { 'Content-Type' => "multipart/form-data; boundary=$bound" },
	    $body, { %{ via('b', $jar) } });
	$j = eval { decode_json($r->{body}) } // {};
}
is($j->{upload}{result}, 'Success', 'a file uploaded through host B') or diag(substr($r->{body}, 0, 500));
my ($upath) = ($j->{upload}{imageinfo}{url} // '') =~ m{^https?://[^/]+(/images/.+)$};
for my $h (qw(a c)) {
	$r = http(GET => $upath // '/images/none', undef, undef, via($h));
	ok($r->{status} == 200 && $r->{body} eq $png, "host \U$h\E serves it, the same bytes")
	    or diag("$r->{status}, " . length($r->{body}) . ' bytes');
}

phase('upload');
# --- jobs queued once run once each ----------------------------------------
# Which host ran each job: the worker pids of the job lines from $from on.
my $lines = sub { -e "$marks/jobs.log" ? [ split /\n/, read_file("$marks/jobs.log") ] : [] };
sub ran_where {
	my ($names) = @_;
	my %pids = map { my $h = $_; map { $_ => $h } worker_pids($srv{$h}) } grep { !$srv{$_}{stopped} } @hosts;
	my %where;
	for (@{ $lines->() }) {
		my ($name, $pid) = split / /;
		$where{$pids{$pid} // '?'}++ if $names->{$name};
	}
	return \%where;
}
sub queue_jobs {	# queue_jobs(HOST, FROM, N, BUSY_MS): through HOST's api.php
	my ($h, $from, $n, $busy) = @_;
	my ($j, $r) = MwTest::api(undef, GET => action => 'query', meta => 'siteinfo',
	    farmqueue => $n, farmfrom => $from, farmbusy => $busy // 0, _opt => via($h));
	return $r->{status} == 200;
}
sub ran_once {		# ran_once(FROM, N, WHAT): all N ran, each exactly once
	my ($from, $n, $what) = @_;
	my %want = map { ("job$_" => 1) } $from .. $from + $n - 1;
	wait_until(sub { $n == grep { $want{(split / /)[0]} } @{ $lines->() } }, 20);
	sleep(0.5);	# a job run twice would show by now
	my %seen;
	$seen{(split / /)[0]}++ for @{ $lines->() };
	is(scalar(grep { $seen{$_} } keys %want), $n, "${what}all $n ran");
	is(scalar(grep { ($seen{$_} // 0) > 1 } keys %want), 0, "${what}each exactly once");
	return \%want;
}
ok(queue_jobs('lb', 0, 12), 'twelve jobs queued in Redis through HAProxy');
my $where = ran_where(ran_once(0, 12, ''));
diag('jobs run by host: ' . join(', ', map { "$_ $where->{$_}" } sort keys %$where));

phase('12 jobs');
# Jobs queued through A while every worker of A and B is busy run on C:
# three requests hold A's other worker and both of B's for 3 s, the one
# that queues the jobs holds A's second.
my @busy;
my $hold = sub {
	my ($h, $q) = @_;
	my $s = IO::Socket::UNIX->new(Peer => $sock{$h}, Type => SOCK_STREAM) or die "$sock{$h}: $!";
	print $s "GET /api.php?action=query&meta=siteinfo&format=json&farmbusy=3000$q HTTP/1.1\r\n"
	    . "Host: $h\r\nConnection: close\r\n\r\n";
	push @busy, $s;
};
$hold->($_, '') for qw(a b b);
sleep(0.3);
my $tq = time();
$hold->('a', '&farmqueue=6&farmfrom=200');
my %six = map { ("job$_" => 1) } 200 .. 205;
wait_until(sub { 6 == grep { $six{(split / /)[0]} } @{ $lines->() } }, 20);
my $took = time() - $tq;
$where = ran_where(ran_once(200, 6, 'six queued through host A while A and B are busy: '));
is_deeply($where, { c => 6 }, 'the six ran on host C, the idle one')
    or diag(join(', ', map { "$_ $where->{$_}" } sort keys %$where));
ok($took < 2.7, sprintf('all in %.1f s, while A and B were still busy', $took));
for my $s (@busy) { local $/; my $o = <$s>; like($o // '', qr{^HTTP/1\.1 200 }, 'a busy request answered 200'); }

phase('idle jobs');
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

my $load = load_start('reload');
sleep(0.5);
for my $h (@hosts) {
	kill 'HUP', $srv{$h}{pid};
	ok(wait_until(sub { log_text($srv{$h}) =~ /generation 2 ready/ }, 30), "host $h reloads");
}
my $n = load_end('reload', $load);
is($n->{200} // 0, 200, 'a rolling SIGHUP of every host under load: all 200 answered 200') or diag(show($n));

phase('reload');
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
for my $h (@hosts) {
	is(http(GET => '/index.php?title=Farm_page&action=raw', undef, undef, via($h))->{body},
	    "$text after 2", "host $h reads it");
}

phase('mariadb');
# A restart of Redis (nothing saved): the sessions are gone, a new login
# holds on every host again, and new jobs run once each.
cache_stop($redis);
redis_start($redis);
login('after a Redis restart: ');
ok(queue_jobs('lb', 100, 12), 'after a Redis restart: twelve more jobs queued through HAProxy');
ran_once(100, 12, 'after a Redis restart: ');

phase('redis');
# SIGKILL of a host under load: what it held is lost to it, and HAProxy
# sends those requests (GETs) again, to the other hosts.
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

phase('sigkill');
# SIGTERM of host B under load, A dead and out: B drains, HAProxy takes
# it out before its listener closes, and C serves the rest.
ok(wait_until(sub { (hap_states()->{app1} // '') =~ /DOWN/ }, 10), 'HAProxy has host A DOWN');
my $trouble0 = hap_trouble('app2');
my $t0 = time();
$load = load_start('stop');
sleep(1);
kill 'TERM', $srv{b}{pid};
my $down = wait_until(sub { (hap_states()->{app2} // '') =~ /DOWN|MAINT/ }, 10);
ok($down, sprintf('HAProxy takes host B out %.1f s into its drain', time() - $t0 - 1));
waitpid($srv{b}{pid}, 0);
@{ $srv{b} }{qw(stopped status)} = (1, $?);
diag(sprintf('host B exited %.1f s after SIGTERM (timeouts.drain: 3)', time() - $t0 - 1));
$n = load_end('stop', $load);
is($n->{200} // 0, 200, 'SIGTERM of host B under load: all 200 requests answered 200') or diag(show($n));
is(hap_trouble('app2') - $trouble0, 0,
    'none needed a retry: HAProxy saw the drain before host B closed its listener');
stopped_cleanly($srv{b});	# exit 0, no sanitizer report

phase('sigterm');
kill 'TERM', $hpid; waitpid($hpid, 0); @daemons = grep { $_ != $hpid } @daemons;
stopped_cleanly($srv{c});
done_testing();
