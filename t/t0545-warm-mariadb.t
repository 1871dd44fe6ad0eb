#!/usr/bin/perl
# A warm worker on a MariaDB wiki keeps its load balancer and connection
# from one read request to the next (with the reset services), and the
# next request finds the connection as a new one would be: what one
# request leaves in the session (an open transaction, a named lock, a
# temporary table, user and session variables, the character set) is gone.
# A connection the server closed meanwhile (killed, server restarted) is
# replaced without an error; a POST gets a new load balancer, on the
# worker's idle connection set back as new (none opened), its locks freed
# after its response, and its edit is seen; logins alternate with
# anonymous requests.  The object cache and
# sessions are in Redis, then in memcached (a session outlives the workers;
# the memcached clients are kept across requests and set back as new).
# One mariadbd for the file, started here on a unix socket.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Test::More;
use MwTest;

for my $bin (qw(mariadbd mariadb-install-db redis-server memcached)) {
	plan skip_all => "no $bin (tools/deps --test)"
		unless grep { -x "$_/$bin" } split /:/, "$ENV{PATH}:/usr/sbin";
}
$ENV{PATH} .= ':/usr/sbin';

my $db = mariadb_start();
my $redis = redis_start();
# No job runner: its slices in the idle worker would take turns with the
# requests on the connection this file follows.
my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'jobs.enabled' => 'false',
    mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'redis', '--cache-server', $redis->{socket}]);
my ($dbname) = read_file($w->{settings}) =~ /^\$wgDBname = '([^']+)';/m;
{
	my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
	is($rc, 0, 'the mw.yaml mkwiki wrote for a MariaDB wiki passes the check') or diag($err);
}

# tools/mkwiki refuses what it cannot do, with a message, before it
# touches anything.
my $mk = repo_dir() . '/tools/mkwiki';
my $scratch = test_dir() . '/refused';
for my $case (
	[ [ '--db', 'mysql' ], 2, qr/--db: unknown value 'mysql'/ ],
	[ [ '--db', 'mariadb' ], 1, qr/--db mariadb needs --db-server/ ],
	[ [ '--db-server', $db->{socket} ], 1, qr/--db-server and --db-name go with --db mariadb/ ],
	[ [ '--db', 'mariadb', '--db-server', $db->{socket}, '--db-name', 'a-b' ], 1,
	    qr/--db-name: 'a-b' is not/ ],
	[ [ '--db', 'mariadb', '--db-server', test_dir() . '/no.sock' ], 1,
	    qr/cannot reach the MariaDB server/ ],
	[ [ '--db', 'mariadb', '--db-server', $db->{socket}, '--db-name', $dbname ], 1,
	    qr/the database $dbname exists/ ],
	[ [ '--cache', 'redis' ], 1, qr/--cache redis needs --cache-server/ ],
	[ [ '--cache-server', '/x' ], 1, qr/--cache-server goes with --cache redis or memcached/ ],
	[ [ '--cache', 'apcu' ], 2, qr/--cache: unknown value 'apcu'/ ],
    ) {
	my ($args, $want, $re) = @$case;
	my ($rc, $out, $err) = run_cmd($mk, @$args, $scratch, 8080);
	is($rc, $want, "mkwiki @$args: exit $want");
	like($err, $re, '... and says why');
}
ok(!-e "$scratch/LocalSettings.php", 'no wiki made by the refused commands');
sql($db, 'CREATE TABLE mwsup_t (a INT) ENGINE=InnoDB', $dbname);

# ?mwsup_db=ACTION: the connection's state as the request finds it, in a
# header (JSON), read on the primary connection before anything else;
# then ACTION leaves something in the session, behind MediaWiki's back
# (on the mysqli handle) or through it.
# A job slice does 'slice' (leaves variables and a lock) when the wiki's
# directory has a file slice-dirty.
my $probe = <<'PHP';
$wgExtensionFunctions[] = static function () {
	$do = $_GET['mwsup_db'] ?? ( MW_ENTRY_POINT === 'mwsup-jobs' &&
		is_file( __DIR__ . '/slice-dirty' ) ? 'slice' : null );
	if ( $do === null ) {
		return;
	}
	$lbf = MediaWiki\MediaWikiServices::getInstance()->getDBLoadBalancerFactory();
	$db = $lbf->getMainLB()->getConnectionInternal( DB_PRIMARY );
	$h = Closure::bind( function () {
		return $this->conn;
	}, $db, Wikimedia\Rdbms\Database::class )();
	$state = $h->query( "SELECT CONNECTION_ID() AS id, @@in_transaction AS trx,
		IS_USED_LOCK('mwsup_raw') IS NOT NULL AS rawlock,
		IS_USED_LOCK('mwsup_mw') IS NOT NULL AS mwlock,
		(SELECT COUNT(*) FROM mwsup_t) AS rows_seen,
		@@group_concat_max_len AS gcml, @@sql_mode AS mode, @mwsup AS var,
		@@character_set_client AS cs, @@character_set_results AS csr,
		@@autocommit AS ac, @@wait_timeout AS wt" )->fetch_assoc();
	$state['temp'] = $h->query( 'SELECT 1 FROM mwsup_tmp' ) !== false;
	$info = Closure::bind( function () {
		return $this->requestInfo;
	}, $lbf, Wikimedia\Rdbms\LBFactory::class )();
	$state['ip'] = $info['IPAddress'];
	$state['ua'] = $info['UserAgent'];
	header( 'X-Mwsup-Db: ' . json_encode( $state ) );
	switch ( $do ) {
		case 'trx':
			// After MediaWiki committed its own, as the request ends.
			register_shutdown_function( static function () use ( $h ) {
				$h->query( 'START TRANSACTION' );
				$h->query( 'INSERT INTO mwsup_t VALUES (1)' );
			} );
			break;
		case 'lock':
			$h->query( "SELECT GET_LOCK('mwsup_raw', 0)" );
			$db->lock( 'mwsup_mw', __METHOD__, 0 );
			break;
		case 'temp':
			$h->query( 'CREATE TEMPORARY TABLE mwsup_tmp (a INT)' );
			break;
		case 'vars':
			$h->query( "SET @mwsup = 'left', group_concat_max_len = 5, sql_mode = 'ANSI',
				autocommit = 0, wait_timeout = 7" );
			$h->query( 'SET NAMES latin1' );
			break;
		case 'slice':
			$h->query( "SET @mwsup = 'left', group_concat_max_len = 5" );
			$h->query( "SELECT GET_LOCK('mwsup_raw', 0)" );
			break;
	}
};
PHP
append_settings($w, $probe);

my $srv = start_mwsup($w->{config}, env => { MWSUP_WARM_VERIFY => 1 });

# state(ACTION, UA): one GET; its status and the state it found.
sub state {
	my ($do, $ua) = @_;
	my $r = http(GET => "/api.php?action=query&meta=siteinfo&format=json&mwsup_db=$do",
	    { 'User-Agent' => $ua // 'mwsup-test' });
	my $s = eval { decode_json($r->{headers}{'x-mwsup-db'} // '') } // {};
	diag("GET ($do): $r->{status}: " . substr($r->{body}, 0, 300))
		unless $r->{status} == 200 && %$s;
	return ($r->{status}, $s);
}

my (undef, $new) = state('none');
ok($new->{id}, 'a request reports its connection') or BAIL_OUT('no report');
my (undef, $s) = state('none');
is($s->{id}, $new->{id}, 'the next read request has the same connection (kept)');
my %fresh = %$new;
delete @fresh{qw(id ua)};
is($fresh{trx}, 0, 'a new connection has no transaction');

for my $do (qw(trx lock temp vars)) {
	my ($st) = state($do);
	is($st, 200, "a request leaves state in the session: $do");
	($st, $s) = state('none');
	is($st, 200, "the next request is answered ($do)");
	my %got = %$s;
	my $id = delete $got{id};
	delete $got{ua};
	is($id, $new->{id}, "it has the same connection ($do)");
	is_deeply(\%got, \%fresh, "and finds it as a new one would be ($do)")
		or diag(explain(\%got));
}
is(sql($db, 'SELECT COUNT(*) FROM mwsup_t', $dbname), 0,
    'the transaction left open was rolled back');

# The request's own client information, not the previous one's.
(undef, $s) = state('none', 'agent-one');
is($s->{ua}, 'agent-one', 'the load balancer has the request\'s user agent');
(undef, $s) = state('none', 'agent-two');
is($s->{ua}, 'agent-two', 'and the next request\'s');
is($s->{ip}, '127.0.0.1', 'and its address');

# The server closes the connection between two requests.
my $kept = $s->{id};
sql($db, "KILL $kept");
my $st;
($st, $s) = state('none');
is($st, 200, 'a connection killed between two requests: the next one is answered');
isnt($s->{id}, $kept, 'on a new connection');
$kept = $s->{id};
mariadb_stop($db);
mariadb_start($db);
($st, $s) = state('none');
is($st, 200, 'MariaDB restarted between two requests: the next one is answered');
isnt($s->{id} // $kept, $kept, 'on a new connection');
(undef, $s) = state('none');
my %got = %$s;
delete @got{qw(id ua)};
is_deeply(\%got, \%fresh, 'which is a new one') or diag(explain(\%got));

# A POST gets a load balancer of its own (MediaWiki follows its writes
# from it), on a connection as new: the reads' connection, set back, from
# the worker's idle links.  Its edit is seen by the next GET.
sub api { MwTest::api($_[0], @_[1 .. $#_]) }
sub connections { sql($db, "SHOW GLOBAL STATUS LIKE 'Connections'") =~ /(\d+)$/ ? $1 : -1 }
sub edit_post {
	my ($text, $do) = @_;
	my $r = http(POST => '/api.php?mwsup_db=' . ($do // 'none'),
	    { 'Content-Type' => 'application/x-www-form-urlencoded' },
	    form(action => 'edit', title => 'Main Page', text => $text,
		token => '+\\', summary => 'test', format => 'json'));
	my $j = eval { decode_json($r->{body}) } // {};
	my $p = eval { decode_json($r->{headers}{'x-mwsup-db'} // '') } // {};
	my %pgot = %$p;
	delete @pgot{qw(id ua)};
	return ($j->{edit}{result} // 'no result', \%pgot);
}
my $j;
(undef, $s) = state('lock');
my ($res, $pgot) = edit_post('mwsup-mariadb-marker');
is($res, 'Success', 'an anonymous edit by POST');
is_deeply($pgot, \%fresh, 'the POST found its connection as a new one would be (after a request that left locks)')
	or diag(explain($pgot));
my $r = http(GET => '/index.php?title=Main_Page&action=raw');
like($r->{body}, qr/mwsup-mariadb-marker/, 'the next GET sees the edit');
# The first POST opened its second connection (MediaWiki's autocommit
# one); from then on the worker has both.
# A POST's connections go back to the worker's idle links after its
# response, set back at once: a lock it left is not held meanwhile.
(undef, $s) = state('vars');
my $before = connections();
($res, $pgot) = edit_post('mwsup-mariadb-marker-2', 'lock');
is($res, 'Success', 'a second edit by POST, which leaves locks');
is_deeply($pgot, \%fresh, 'on a connection as new (after a request that left variables)')
	or diag(explain($pgot));
my $asked = 0;
ok(wait_until(sub { $asked++; sql($db, "SELECT IS_FREE_LOCK('mwsup_raw')") eq '1' }, 5),
    'after its response its lock is free, before any other request');
(undef, $s) = state('none');
my %sgot = %$s;
delete @sgot{qw(id ua)};
is_deeply(\%sgot, \%fresh, 'the next request finds its connection as new') or diag(explain(\%sgot));
$r = http(GET => '/index.php?title=Main_Page&action=raw');
like($r->{body}, qr/mwsup-mariadb-marker-2/, 'a GET sees the edit');
is(connections() - $before - $asked, 1,
    'the POST and the GETs after it opened no connection (the one counted is this test\'s own)');
# Idle links the server closed meanwhile (a restart) are not handed out.
mariadb_stop($db);
mariadb_start($db);
($res, $pgot) = edit_post('mwsup-mariadb-marker-3');
is($res, 'Success', 'MariaDB restarted after the POSTs: the next POST edits');
is_deeply($pgot, \%fresh, 'on a connection as new') or diag(explain($pgot));

# Logins and anonymous requests alternate.
my $jar = cookie_jar();
($j) = api($jar, GET => action => 'query', meta => 'tokens', type => 'login');
($j) = api($jar, POST => action => 'clientlogin', username => $w->{admin_user},
    password => $w->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://127.0.0.1:$w->{port}/");
is($j->{clientlogin}{status}, 'PASS', 'the sysop logs in');
for (1 .. 2) {
	($j) = api($jar, GET => action => 'query', meta => 'userinfo');
	is($j->{query}{userinfo}{name}, $w->{admin_user}, 'the sysop\'s request is the sysop\'s');
	my ($anon) = api(undef, GET => action => 'query', meta => 'userinfo');
	ok(exists $anon->{query}{userinfo}{anon}, 'and the anonymous one anonymous');
}

# The server's wait_timeout closes the idle connection between two
# requests (a connection takes the global value; the reset after each
# request gives it again).
sql($db, 'SET GLOBAL wait_timeout = 1');
(undef, $s) = state('none');
(undef, $s) = state('none');
$kept = $s->{id};
is($s->{wt}, 1, 'the kept connection has wait_timeout = 1');
wait_until(sub { sql($db, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = $kept") eq '0' }, 10);
($st, $s) = state('none');
is($st, 200, 'a connection closed by wait_timeout between two requests: the next one is answered');
isnt($s->{id}, $kept, 'on a new connection');
sql($db, 'SET GLOBAL wait_timeout = 28800');
log_unlike($srv, qr/is not (kept across requests|reset but)|made for each request/,
    'nothing of a request in what is kept; the reset services are kept');
log_unlike($srv, qr/recycling|PHP (Warning|Fatal|Notice)|DBConnectionError|DBQueryError/,
    'no warning, no database error, no recycling');
stopped_cleanly($srv);

# A request that sent nothing on the kept connection (mysqlnd counts the
# packets each one sent) leaves it as the set-back after the request
# before left it, and is not set back again.  Where PHP counts nothing
# (mysqlnd.collect_statistics off) every connection is set back.
set_yaml($w, 'php.mysqlnd.collect_statistics' => 0);
$srv = start_mwsup($w->{config});
state('none');
for my $do (qw(lock vars)) {
	state($do);
	(undef, $s) = state('none');
	my %got = %$s;
	delete @got{qw(id ua)};
	is_deeply(\%got, \%fresh,
	    "mysqlnd.collect_statistics off: the next request finds the connection as new ($do)")
		or diag(explain(\%got));
}
stopped_cleanly($srv);
set_yaml($w, 'php.mysqlnd.collect_statistics' => undef);

# Job slices on a MariaDB wiki.  Its job table is in MariaDB, which the
# supervisor does not count: it polls with a slice every jobs.poll.  A
# slice is a POST, but on MySQL it keeps and resets the connection as a
# read does: an idle wiki opens no connection per poll, and what a slice
# leaves in the session is gone for the next request.
my $jw = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'jobs.poll' => 0.2,
    mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'redis', '--cache-server', $redis->{socket}]);
my ($jdb) = read_file($jw->{settings}) =~ /^\$wgDBname = '([^']+)';/m;
sql($db, 'CREATE TABLE mwsup_t (a INT) ENGINE=InnoDB', $jdb);
append_settings($jw, $probe);
my $jsrv = start_mwsup($jw->{config});
sub jobstat {
	my (undef, $out) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $jsrv->{pid});
	return (eval { decode_json($out) } // {})->{$_[0]} // 0;
}
# The server's count of connections made (this query's own included).
sub connections { (sql($db, "SHOW GLOBAL STATUS LIKE 'Connections'") =~ /(\d+)$/)[0] }
# Jobs queued by the install run first (their slices write, and drop the
# connection): then three slices in a row find no job.
ok(wait_until(sub {
	my ($r0, $n0) = (jobstat('jobs_run'), jobstat('job_slices'));
	wait_until(sub { jobstat('job_slices') >= $n0 + 3 }, 10);
	return jobstat('jobs_run') == $r0;
}, 60), 'the idle wiki is polled with job slices that find no job');
(undef, $s) = state('none');
my $jid = $s->{id};
my ($n0, $c0) = (jobstat('job_slices'), connections());
wait_until(sub { jobstat('job_slices') >= $n0 + 10 }, 20);
my ($n1, $c1) = (jobstat('job_slices'), connections());
cmp_ok($n1 - $n0, '>=', 10, 'ten more slices ran');
is($c1 - $c0 - 1, 0, 'and they opened no connection to MariaDB');
($st, $s) = state('none');
is($s->{id}, $jid, 'the next GET has the connection the GET before the slices had');
write_file("$jw->{dir}/slice-dirty", '');
$n0 = jobstat('job_slices');
ok(wait_until(sub { jobstat('job_slices') >= $n0 + 2 }, 10), 'slices leave state in the session');
unlink("$jw->{dir}/slice-dirty");
($st, $s) = state('none');
%got = %$s;
is(delete $got{id}, $jid, 'the GET after them has the same connection');
delete $got{ua};
is_deeply(\%got, \%fresh, 'and finds it as a new one would be') or diag(explain(\%got));
# Slices that run jobs write: their connection is not kept.
($j) = api(undef, POST => action => 'edit', title => 'Template:Mwsup', text => 'one',
    token => '+\\');
($j) = api(undef, POST => action => 'edit', title => 'Uses template', text => '{{Mwsup}}',
    token => '+\\');
($j) = api(undef, POST => action => 'edit', title => 'Template:Mwsup', text => 'two',
    token => '+\\');
is($j->{edit}{result}, 'Success', 'a template used by a page is edited');
ok(wait_until(sub { jobstat('jobs_run') >= 1 }, 20), 'its jobs run');
($st, $s) = state('none');
is($st, 200, 'the next GET is answered');
%got = %$s;
delete @got{qw(id ua)};
is_deeply(\%got, \%fresh, 'on a connection as new') or diag(explain(\%got));
is(jobstat('job_slice_errors'), 0, 'no slice failed');
log_unlike($jsrv, qr/recycling|PHP (Warning|Fatal|Notice)|DBConnectionError|DBQueryError/,
    'jobs: no warning, no database error');
stopped_cleanly($jsrv);

# The same wiki with its cache and sessions in memcached, two workers: a
# login made before mwsup restarts (new workers) is still valid after.
my $mc = memcached_start();
my $m = wiki('pool.workers' => 2, 'snapshot.enabled' => 'true',
    mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'memcached', '--cache-server', $mc->{socket}]);
my $msrv = start_mwsup($m->{config});
$jar = cookie_jar();
($j) = api($jar, GET => action => 'query', meta => 'tokens', type => 'login');
($j) = api($jar, POST => action => 'clientlogin', username => $m->{admin_user},
    password => $m->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://127.0.0.1:$m->{port}/");
is($j->{clientlogin}{status}, 'PASS', 'memcached: the sysop logs in');
stopped_cleanly($msrv);
$msrv = start_mwsup($m->{config});
for (1 .. 2) {
	($j) = api($jar, GET => action => 'query', meta => 'userinfo');
	is($j->{query}{userinfo}{name}, $m->{admin_user}, 'memcached: the session outlives the workers');
	my ($anon) = api(undef, GET => action => 'query', meta => 'userinfo');
	ok(exists $anon->{query}{userinfo}{anon}, 'memcached: and anonymous requests stay anonymous');
}
log_unlike($msrv, qr/recycling|PHP (Warning|Fatal|Notice)|DBConnectionError/, 'memcached: no warning');
stopped_cleanly($msrv);

# The memcached clients are kept from one request to the next (one
# worker, no job runner): ten page views open no connection to memcached.
# What a request leaves in a kept client or cache is gone for the next
# one: no-reply mode (every write would look like a success), a lock it
# took and never released (the next request would take it as its own:
# a new cache does not), the last error; and memcached's compression
# threshold, which MediaWiki's constructor sets, holds for it too (the
# WAN cache and the stash, made per request, construct a cache that sets
# it as well, so this check alone would not see it missing).
# ?mwsup_mc=ACTION: the cache as the request finds it, in a header; then
# ACTION leaves something in it.
my $mk1 = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'jobs.enabled' => 'false',
    mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'memcached', '--cache-server', $mc->{socket}]);
append_settings($mk1, <<'PHP');
$wgExtensionFunctions[] = static function () {
	$do = $_GET['mwsup_mc'] ?? null;
	if ( $do === null ) {
		return;
	}
	$cache = ObjectCache::getLocalClusterInstance();
	$client = Closure::bind( function () {
		return $this->client;
	}, $cache, MemcachedPeclBagOStuff::class )();
	$key = $cache->makeKey( 'mwsup-add', $_GET['n'] ?? '0' );
	$state = [
		'noreply' => (bool)$client->getOption( Memcached::OPT_NOREPLY ),
		'error' => $cache->getLastError(),
		'add' => [ $cache->add( $key, 1, 60 ), $cache->add( $key, 2, 60 ) ],
		'lock' => $cache->lock( $cache->makeKey( 'mwsup-lock' ), 0, 60, 'mwsup' ),
		'threshold' => ini_get( 'memcached.compression_threshold' ),
	];
	header( 'X-Mwsup-Mc: ' . json_encode( $state ) );
	switch ( $do ) {
		case 'noreply':
			$client->setOption( Memcached::OPT_NOREPLY, true );
			break;
		case 'error':
			Closure::bind( function () {
				$this->lastError = BagOStuff::ERR_UNEXPECTED;
				$this->lastErrorId = PHP_INT_MAX;
			}, $cache, BagOStuff::class )();
			break;
	}
};
PHP
my $mksrv = start_mwsup($mk1->{config}, env => { MWSUP_WARM_VERIFY => 1 });
# The server's count of connections accepted.
sub mc_connections {
	my $sock = IO::Socket::UNIX->new(Peer => $mc->{socket}, Type => SOCK_STREAM)
	    or return -1;
	print $sock "stats\r\n";
	my $n = -1;
	while (my $l = <$sock>) {
		$n = $1 if $l =~ /^STAT total_connections (\d+)/;
		last if $l =~ /^END/;
	}
	return $n;
}
my $nmc = 0;
sub mc_state {
	my ($do) = @_;
	$nmc++;
	my $r = http(GET => "/api.php?action=query&meta=siteinfo&format=json&mwsup_mc=$do&n=$$-$nmc");
	my $s = eval { decode_json($r->{headers}{'x-mwsup-mc'} // '') } // {};
	diag("GET ($do): $r->{status}: " . substr($r->{body}, 0, 300))
		unless $r->{status} == 200 && %$s;
	return ($r->{status}, $s);
}
http(GET => '/wiki/Main_Page') for 1 .. 2;
my $mc0 = mc_connections();
is(http(GET => '/wiki/Main_Page')->{status}, 200, 'memcached: a page view') for 1 .. 10;
is(mc_connections() - $mc0 - 1, 0, 'memcached: ten page views opened no connection to it');
my (undef, $mfresh) = mc_state('none');
is_deeply($mfresh, { noreply => JSON::PP::false, error => 0, add => [JSON::PP::true, JSON::PP::false],
    lock => JSON::PP::true, threshold => '1500' },
    'memcached: the cache as a request finds it (replies, no error, its own lock, the threshold)')
    or diag(explain($mfresh));
for my $do (qw(noreply error none)) {
	my ($st) = mc_state($do);
	is($st, 200, "memcached: a request leaves state in the cache: $do");
	my $s;
	($st, $s) = mc_state('none');
	is($st, 200, "memcached: the next request is answered ($do)");
	# The lock the first mc_state() took is held in memcached (60 s):
	# a new cache does not have it.
	is_deeply($s, { %$mfresh, lock => JSON::PP::false },
	    "memcached: and finds the cache as a new one would be ($do)") or diag(explain($s));
}
# memcached restarted (empty) between two requests: the kept client's
# socket is dead, and its next command would fail before it reconnects;
# the next request has new clients, whose writes are answered.
cache_stop($mc);
memcached_start($mc);
my ($mst, $ms) = mc_state('none');
is($mst, 200, 'memcached restarted between two requests: the next one is answered');
is_deeply($ms->{add}, [JSON::PP::true, JSON::PP::false], 'and its writes are answered')
    or diag(explain($ms));
log_unlike($mksrv, qr/is not (kept across requests|reset but)|made for each request/,
    'memcached: the reset services, which hold the kept caches, are reset, not made per request');
log_unlike($mksrv, qr/recycling|PHP (Warning|Fatal|Notice)|DBConnectionError/,
    'memcached, kept clients: no warning');
stopped_cleanly($mksrv);
done_testing();
