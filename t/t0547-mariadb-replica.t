#!/usr/bin/perl
# A MariaDB primary with one replica under a warm worker.  Two mariadbd,
# replication set up here (GTID, over a loopback port of the primary),
# the replica applying each change 3 s late (MASTER_DELAY); the wiki
# reads from the replica ($wgDBservers) and keeps its cache, sessions and
# ChronologyProtector positions in Redis.  One worker serves two clients
# in turn: the one that edits sees its edit on its next request (its
# chronology cookie makes MediaWiki wait for the replica), the other, on
# the same worker, reads the replica as it is (the old text), then the
# new one once the replica caught up.  With more than one server the load
# balancer is made per request (logged once), but its connections are the
# worker's idle ones: views open none, and what a view leaves on its
# replica connection is gone right after its response.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Time::HiRes qw(time sleep);
use Test::More;
use MwTest;

for my $bin (qw(mariadbd mariadb-install-db redis-server)) {
	plan skip_all => "no $bin (tools/deps --test)"
		unless grep { -x "$_/$bin" } split /:/, "$ENV{PATH}:/usr/sbin";
}
$ENV{PATH} .= ':/usr/sbin';

my $DELAY = 3;
my $port = free_port();
my $primary = mariadb_start(undef, name => 'primary', args => [
    '--skip-networking=0', '--bind-address=127.0.0.1', "--port=$port",
    '--log-bin=primary-bin', '--server-id=1', '--binlog-format=ROW']);
my $replica = mariadb_start(undef, name => 'replica', args => [
    '--server-id=2', '--read-only=1', '--skip-slave-start=0']);
sql($primary, "CREATE USER 'repl'\@'127.0.0.1' IDENTIFIED BY 'repl';
    GRANT REPLICATION SLAVE ON *.* TO 'repl'\@'127.0.0.1'");
sql($replica, "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $port,
    MASTER_USER = 'repl', MASTER_PASSWORD = 'repl', MASTER_USE_GTID = slave_pos,
    MASTER_CONNECT_RETRY = 1; START SLAVE");
my $redis = redis_start();
my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true',
    mkwiki => ['--db', 'mariadb', '--db-server', $primary->{socket},
	'--cache', 'redis', '--cache-server', $redis->{socket}]);
my ($dbname) = read_file($w->{settings}) =~ /^\$wgDBname = '([^']+)';/m;
my ($dbuser) = read_file($w->{settings}) =~ /^\$wgDBuser = '([^']+)';/m;
# MediaWiki reads the replica's lag with SHOW SLAVE STATUS (a lag it
# cannot read counts as too much: the wiki is read-only) and the primary's
# position with SHOW MASTER STATUS (unknown: ChronologyProtector has
# nothing to wait for); MariaDB 10.5 and later ask these privileges.
# tools/mkwiki grants SLAVE MONITOR and BINLOG MONITOR (the replica's lag and
# the primary's position) itself.
# The replica has the wiki (the install replicated).
sub replica_pos { sql($replica, 'SELECT @@gtid_slave_pos') }
sub primary_pos { sql($primary, 'SELECT @@gtid_binlog_pos') }
ok(wait_until(sub { replica_pos() eq primary_pos() }, 60),
    'the replica caught up with the install') or diag(sql($replica, 'SHOW SLAVE STATUS\G'));
sql($replica, "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = $DELAY; START SLAVE");
my $rsock = $replica->{socket};
append_settings($w, <<"PHP");
\$wgDBservers = [
	[ 'host' => \$wgDBserver, 'dbname' => \$wgDBname, 'user' => \$wgDBuser,
	  'password' => \$wgDBpassword, 'type' => 'mysql', 'flags' => DBO_DEFAULT, 'load' => 0 ],
	[ 'host' => 'localhost:$rsock', 'dbname' => \$wgDBname, 'user' => \$wgDBuser,
	  'password' => \$wgDBpassword, 'type' => 'mysql', 'flags' => DBO_DEFAULT, 'load' => 1,
	  'max lag' => 30 ],
];
// Which server answered the page's reads: the replica's server id.
\$wgHooks['BeforePageDisplay'][] = static function ( \$out ) {
	\$db = MediaWiki\\MediaWikiServices::getInstance()->getDBLoadBalancer()
		->getConnectionRef( DB_REPLICA );
	\$out->getRequest()->response()->header( 'X-Mwsup-Server-Id: ' .
		\$db->selectField( '', '\@\@server_id', '', __METHOD__ ) );
};
// ?mwsup_r=ACTION: the state of the replica connection as the view
// finds it (a header, JSON), then ACTION leaves some in its session.
\$wgHooks['BeforePageDisplay'][] = static function ( \$out ) {
	\$do = \$_GET['mwsup_r'] ?? null;
	if ( \$do === null ) {
		return;
	}
	\$db = MediaWiki\\MediaWikiServices::getInstance()->getDBLoadBalancer()
		->getConnectionInternal( DB_REPLICA );
	\$h = Closure::bind( function () {
		return \$this->conn;
	}, \$db, Wikimedia\\Rdbms\\Database::class )();
	\$state = \$h->query( "SELECT CONNECTION_ID() AS id, \@mwsup AS var,
		IS_USED_LOCK('mwsup_r') IS NOT NULL AS rlock, \@\@character_set_client AS cs" )->fetch_assoc();
	\$state['temp'] = \$h->query( 'SELECT 1 FROM mwsup_tmp' ) !== false;
	\$out->getRequest()->response()->header( 'X-Mwsup-Replica: ' . json_encode( \$state ) );
	if ( \$do === 'lock' ) {
		\$h->query( "SELECT GET_LOCK('mwsup_r', 0)" );
		\$h->query( "SET \@mwsup = 'left'" );
		\$h->query( 'CREATE TEMPORARY TABLE mwsup_tmp (a INT)' );
	}
};
PHP
my $srv = start_mwsup($w->{config});
sub api { MwTest::api(@_) }

my $writer = cookie_jar();
my ($j) = api($writer, POST => action => 'edit', title => 'Replicated', text => 'first',
    token => '+\\');
is($j->{edit}{result}, 'Success', 'a page is made') or diag(explain($j));
ok(wait_until(sub { replica_pos() eq primary_pos() }, 20), 'the replica has it');

sub raw_text {
	my ($jar, $ua) = @_;
	my $t0 = time();
	my $r = http(GET => '/index.php?title=Replicated&action=raw',
	    { 'User-Agent' => $ua }, undef, ($jar ? { jar => $jar } : {}));
	return ($r->{body}, time() - $t0, $r->{status});
}
sub view {
	my ($ua) = @_;
	return http(GET => '/wiki/Replicated', { 'User-Agent' => $ua })->{headers}{'x-mwsup-server-id'};
}
is(view('reader'), 2, 'an anonymous page view reads from the replica');

for my $round (1 .. 2) {
	($j) = api($writer, POST => action => 'edit', title => 'Replicated',
	    text => "edit $round", token => '+\\');
	is($j->{edit}{result}, "Success", "round $round: the writer edits");
	my ($body, $took) = raw_text(undef, 'reader');
	is($body, $round == 1 ? 'first' : 'edit 1',
	    "round $round: another client, next on the same worker, reads the lagging replica");
	my ($wbody, $wtook) = raw_text($writer, 'mwsup-test');
	is($wbody, "edit $round", sprintf('round %d: the writer sees its edit (%.2f s)', $round, $wtook));
	ok(wait_until(sub { (raw_text(undef, 'reader'))[0] eq "edit $round" }, 20),
	    "round $round: and the edit once the replica applied it");
}

# Lag is honoured: with the replica's SQL thread stopped its lag cannot be
# read (Seconds_Behind_Master is NULL), and MediaWiki makes the wiki
# read-only until it can; pages are still served.
sub try_edit {
	my ($text) = @_;
	my ($j) = api(undef, POST => action => 'edit', title => 'Replicated', text => $text,
	    token => '+\\');
	return $j->{edit}{result} // $j->{error}{code} // 'nothing';
}
sql($replica, 'STOP SLAVE SQL_THREAD');
my $got;
ok(wait_until(sub { ($got = try_edit('lagged')) eq 'readonly' }, 15),
    "replication stopped: an edit is refused, read-only ($got)");
is(http(GET => '/wiki/Replicated')->{status}, 200, 'and pages are served');
sql($replica, 'START SLAVE SQL_THREAD');
ok(wait_until(sub { ($got = try_edit('caught up')) eq 'Success' }, 20),
    "replication started: edits again ($got)");
# The load balancer is made per request, but not its connections: the
# replica's, set back after each view, is the next view's.
sub rstate {
	my ($do) = @_;
	my $r = http(GET => "/wiki/Replicated?mwsup_r=$do", { 'User-Agent' => 'reader' });
	return eval { decode_json($r->{headers}{'x-mwsup-replica'} // '') } // {};
}
sub connections { sql($_[0], "SHOW GLOBAL STATUS LIKE 'Connections'") =~ /(\d+)$/ ? $1 : -1 }
my $first = rstate('none');
ok($first->{id}, 'a view reports its replica connection') or diag(explain($first));
my %rfresh = %$first;
delete $rfresh{id};
# The wiki's connections to the replica now: the worker's idle links.
my %links = map { $_ => 1 } split /\n/,
    sql($replica, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '$dbuser'");
my ($rc0, $pc0) = (connections($replica), connections($primary));
my @ids = map { rstate('none')->{id} // 0 } 1 .. 10;
is(scalar(grep { !$links{$_} } @ids), 0,
    'ten more views, one after the other: each on a replica connection the worker had before')
	or diag("views: @ids; before: @{[ sort keys %links ]}");
is(connections($replica) - $rc0, 1, 'they opened no connection to the replica (the one counted is this test\'s own)');
is(connections($primary) - $pc0, 1, 'nor to the primary');
my $left = rstate('lock');
ok($left->{id}, 'a view leaves a lock, a variable and a temporary table on its replica connection');
ok(wait_until(sub { sql($replica, "SELECT IS_FREE_LOCK('mwsup_r')") eq '1' }, 5),
    'after its response the lock is free, before any other request');
my $next = rstate('none');
ok($next->{id} && ($links{$next->{id}} || $next->{id} == $left->{id}),
    'the next view is on one of the worker\'s connections') or diag(explain($next));
my %got = %$next;
delete $got{id};
is_deeply(\%got, \%rfresh, 'and finds it as a new one would be') or diag(explain(\%got));
log_like($srv, qr/the services of snapshot.reset are made for each request: the database is not a single/,
    'with a replica nothing of the database layer is kept (logged)');
log_unlike($srv, qr/PHP (Warning|Fatal)|recycling|DBConnectionError/, 'no warning, no recycling');
stopped_cleanly($srv);
done_testing();
