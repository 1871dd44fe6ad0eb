#!/usr/bin/perl
# Faults of the servers a MariaDB + Redis wiki depends on, under load.
# MariaDB stopped while clients load pages: every request is answered
# with MediaWiki's database error page (5xx) within timeouts.request,
# none hangs; MariaDB back: the same workers (no restart) serve pages
# again within seconds.  Redis, then memcached (object cache, sessions)
# stopped and started: no request hangs, the pages come back.  Through both, a
# logged-in user's name never reaches another client, and the user's own
# requests are the user's or anonymous, never another's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use Test::More;
use MwTest;

for my $bin (qw(mariadbd mariadb-install-db redis-server)) {
	plan skip_all => "no $bin (tools/deps --test)"
		unless grep { -x "$_/$bin" } split /:/, "$ENV{PATH}:/usr/sbin";
}
$ENV{PATH} .= ':/usr/sbin';

my $TIMEOUT = 8;	# timeouts.request
my $db = mariadb_start();
my $redis = redis_start();
my $w = wiki('pool.workers' => 2, 'snapshot.enabled' => 'true', 'jobs.poll' => 0.5,
    'timeouts.request' => $TIMEOUT,
    mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'redis', '--cache-server', $redis->{socket}]);
my $srv = start_mwsup($w->{config});
my $admin = $w->{admin_user};
sub api { MwTest::api(@_) }

sub login {
	my $jar = cookie_jar();
	my ($j) = api($jar, GET => action => 'query', meta => 'tokens', type => 'login');
	($j) = api($jar, POST => action => 'clientlogin', username => $admin,
	    password => $w->{admin_pass}, logintoken => $j->{query}{tokens}{logintoken} // '',
	    loginreturnurl => "http://127.0.0.1:$w->{port}/");
	return ($j->{clientlogin}{status} // '') eq 'PASS' ? $jar : undef;
}
my $jar = login();
ok($jar, 'the sysop logs in');
my @pids = worker_pids($srv);
is(scalar @pids, 2, 'two workers');

# load(): three clients load anonymous pages (a page view, the API's
# userinfo) until stop(); each request's end time, status, duration and
# whether it showed the sysop's name go to a file per client.
my $dir = test_dir() . '/load';
mkdir $dir;
my @kids;
sub load {
	unlink("$dir/stop", glob("$dir/client.*"));
	for my $i (1 .. 3) {
		my $pid = fork() // die "fork: $!";
		if ($pid == 0) {
			my $ua = HTTP::Tiny->new(max_redirect => 0, keep_alive => 0, timeout => 60);
			open(my $out, '>', "$dir/client.$i") or die;
			$out->autoflush(1);
			my $n = 0;
			until (-e "$dir/stop") {
				my $path = $n++ % 2 ? '/wiki/Main_Page'
				    : '/api.php?action=query&meta=userinfo&format=json';
				my $t0 = time();
				my $r = $ua->get("http://127.0.0.1:$w->{port}$path");
				my $leak = ($r->{content} // '') =~ /\Q$admin\E/ ? 1 : 0;
				printf $out "%.3f %d %.3f %d %s\n", time(), $r->{status},
				    time() - $t0, $leak, $path;
				sleep(0.05);
			}
			POSIX::_exit(0);
		}
		push @kids, $pid;
	}
}
sub stop {
	write_file("$dir/stop", '');
	waitpid($_, 0) for @kids;
	@kids = ();
	my @r;
	for my $f (glob("$dir/client.*")) {
		push @r, map { [split / /] } split /\n/, read_file($f);
	}
	return @r;
}
sub sysop_name {
	my ($j, $r) = api($jar, GET => action => 'query', meta => 'userinfo');
	return ($r->{status}, $j ? $j->{query}{userinfo}{name} : undef);
}

# ---- MariaDB stopped under load, then started ----
load();
sleep(1);
my $down = time();
mariadb_stop($db);
sleep(3);
my $t0 = time();
my $r = http(GET => '/wiki/Main_Page');
my $took = time() - $t0;
like($r->{status}, qr/^5\d\d$/, "MariaDB down: a page view is answered $r->{status}");
like($r->{body}, qr/database|Cannot access/i, '... with MediaWiki\'s database error page')
	or diag(substr($r->{body}, 0, 500));
cmp_ok($took, '<', $TIMEOUT, sprintf('... at once (%.2f s)', $took));
my ($st, $name) = sysop_name();
ok($st >= 500 || !defined($name) || $name eq $admin, "the sysop's request: $st, not another's");
my $up = time();
mariadb_start($db);
my $back;
wait_until(sub {
	my $s = http(GET => '/wiki/Main_Page')->{status};
	$back = time() - $up if $s == 200;
	return $s == 200;
}, 30);
ok(defined $back, sprintf('MariaDB back: pages again after %.2f s', $back // -1));
cmp_ok($back // 99, '<', 5, 'within seconds');
sleep(2);
my @log = stop();
my @during = grep { $_->[0] > $down + 0.5 && $_->[0] < $up } @log;
my @after = grep { $_->[0] > $up + ($back // 0) + 1 } @log;
cmp_ok(scalar @during, '>=', 5, scalar(@during) . ' requests while MariaDB was down');
is(scalar(grep { $_->[1] !~ /^5\d\d$/ } @during), 0, 'all of them answered 5xx')
	or diag(join("\n", map { "@$_" } grep { $_->[1] !~ /^5\d\d$/ } @during));
is(scalar(grep { $_->[2] >= $TIMEOUT } @log), 0, 'none took timeouts.request or longer');
cmp_ok(scalar @after, '>=', 5, scalar(@after) . ' requests after it came back');
is(scalar(grep { $_->[1] != 200 } @after), 0, 'all of them answered 200');
is(scalar(grep { $_->[3] } @log), 0, 'no anonymous client saw the sysop\'s name');
($st, $name) = sysop_name();
is($name, $admin, 'the sysop is still logged in (the session is in Redis)');
is_deeply([worker_pids($srv)], \@pids, 'served by the same workers (none restarted)');

# ---- The cache server stopped under load, then started (empty) ----
# cache_fault(NAME, SERVER, START): Redis or memcached, which holds the
# object cache and the sessions.
sub cache_fault {
	my ($what, $cache, $start) = @_;
	load();
	sleep(1);
	my $down = time();
	cache_stop($cache);
	sleep(3);
	my $t0 = time();
	my $r = http(GET => '/wiki/Main_Page');
	my $took = time() - $t0;
	cmp_ok($took, '<', $TIMEOUT, sprintf('%s down: a page view is answered %d at once (%.2f s)',
	    $what, $r->{status}, $took));
	my ($st, $name) = sysop_name();
	ok(!defined($name) || $name eq $admin || $name =~ /^\d+\.\d+\.\d+\.\d+$/,
	    "$what down: the sysop's request: $st, " . ($name // 'no name') . ', not another user');
	my $up = time();
	$start->($cache);
	my $back;
	wait_until(sub {
		my $s = http(GET => '/wiki/Main_Page')->{status};
		$back = time() - $up if $s == 200;
		return $s == 200;
	}, 30);
	ok(defined $back, sprintf('%s back: pages after %.2f s', $what, $back // -1));
	cmp_ok($back // 99, '<', 5, 'within seconds');
	sleep(2);
	my @log = stop();
	my @during = grep { $_->[0] > $down + 0.5 && $_->[0] < $up } @log;
	my @after = grep { $_->[0] > $up + ($back // 0) + 1 } @log;
	cmp_ok(scalar @during, '>=', 5, scalar(@during) . " requests while $what was down");
	is(scalar(grep { $_->[1] != 200 && $_->[1] !~ /^5\d\d$/ } @during), 0,
	    'each answered 200 or 5xx');
	is(scalar(grep { $_->[2] >= $TIMEOUT } @log), 0, 'none took timeouts.request or longer');
	cmp_ok(scalar @after, '>=', 5, scalar(@after) . ' requests after it came back');
	is(scalar(grep { $_->[1] != 200 } @after), 0, 'all of them answered 200');
	is(scalar(grep { $_->[3] } @log), 0, 'no anonymous client saw the sysop\'s name');
	$jar = login();
	ok($jar, "the sysop logs in again (the sessions went with $what)");
	for (1 .. 3) {
		($st, $name) = sysop_name();
		is($name, $admin, "the sysop's request is the sysop's ($_)");
		my ($j) = api(undef, GET => action => 'query', meta => 'userinfo');
		ok(exists $j->{query}{userinfo}{anon}, "and an anonymous one anonymous ($_)");
	}
	is_deeply([worker_pids($srv)], \@pids, 'served by the same workers (none restarted)');
	log_unlike($srv, qr/PHP (Fatal|Warning)|recycling/, 'no PHP warning, no recycling');
	stopped_cleanly($srv);
}
cache_fault('Redis', $redis, \&redis_start);

# The same with memcached, on a wiki of its own (same MariaDB).
my $mc = memcached_start();
$w = wiki('pool.workers' => 2, 'snapshot.enabled' => 'true', 'jobs.poll' => 0.5,
    'timeouts.request' => $TIMEOUT,
    mkwiki => ['--db', 'mariadb', '--db-server', $db->{socket},
	'--cache', 'memcached', '--cache-server', $mc->{socket}]);
$srv = start_mwsup($w->{config});
$admin = $w->{admin_user};
$jar = login();
ok($jar, 'memcached: the sysop logs in');
@pids = worker_pids($srv);
cache_fault('memcached', $mc, \&memcached_start);
done_testing();
