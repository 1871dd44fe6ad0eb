#!/usr/bin/perl
# mwsup as the runner of a JobQueueRedis queue with daemonized => true
# (MediaWiki refuses that queue without a runner service), against a real
# redis-server: an edit's refreshLinks jobs run; a job whose worker is
# killed mid-way (SIGKILL) runs again after claimTTL; a job that throws
# is retried, then abandoned; delayed jobs are released when due.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $redis_bin = '/usr/bin/redis-server';
plan skip_all => 'no redis-server (apt-get install redis-server)' unless -x $redis_bin;
my ($hasext) = run_cmd('php', '-r', 'exit(extension_loaded("redis") ? 0 : 1);');
plan skip_all => 'no PHP redis extension (apt-get install php8.2-redis)' if $hasext != 0;

# Our own redis-server on a free loopback port, no persistence.
my $rport = free_port();
my $rdir = test_dir() . '/redis';
mkdir $rdir;
my $rpid = fork() // die "fork: $!";
if ($rpid == 0) {
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', "$rdir/redis.log");
	open(STDERR, '>&', \*STDOUT);
	exec($redis_bin, '--port', $rport, '--bind', '127.0.0.1', '--save', '',
	    '--appendonly', 'no', '--dir', $rdir) or POSIX::_exit(127);
}
END { if ($rpid) { kill('TERM', $rpid); waitpid($rpid, 0); } }
sub redis {
	my ($rc, $out) = run_cmd('redis-cli', '-p', $rport, @_);
	chomp $out;
	return $out;
}
ok(wait_until(sub { redis('PING') eq 'PONG' }, 10), "redis-server answers on port $rport");

my $w = wiki('pool.workers' => 3, 'jobs.poll' => 0.5, 'jobs.chron' => 1,
    'jobs.sqlite' => undef);
my $marks = $w->{images};
append_settings($w, <<"PHP");
\$wgJobTypeConf['default'] = [
	'class' => 'JobQueueRedis',
	'redisServer' => '127.0.0.1:$rport',
	'redisConfig' => [],
	'claimTTL' => 3,
	'daemonized' => true,
];
// Fails every time.
class MwsupTestFailJob extends Job implements GenericParameterJob {
	public function __construct( array \$params ) {
		parent::__construct( 'mwsupTestFail', \$params );
	}
	public function run() {
		file_put_contents( '$marks/fail.log', "attempt\\n", FILE_APPEND );
		throw new RuntimeException( 'mwsup test job fails on purpose' );
	}
}
// The first attempt hangs (its worker gets killed); the next one finishes.
class MwsupTestSlowJob extends Job implements GenericParameterJob {
	public function __construct( array \$params ) {
		parent::__construct( 'mwsupTestSlow', \$params );
	}
	public function run() {
		if ( !file_exists( '$marks/slow.started' ) ) {
			touch( '$marks/slow.started' );
			sleep( 120 );
		}
		file_put_contents( '$marks/slow.done', "done\\n", FILE_APPEND );
		return true;
	}
}
// Records that it ran, and when.
class MwsupTestMarkJob extends Job implements GenericParameterJob {
	public function __construct( array \$params ) {
		parent::__construct( 'mwsupTestMark', \$params );
	}
	public function run() {
		file_put_contents( '$marks/mark-' . \$this->params['name'], (string)microtime( true ) );
		return true;
	}
}
\$wgJobClasses['mwsupTestFail'] = MwsupTestFailJob::class;
\$wgJobClasses['mwsupTestSlow'] = MwsupTestSlowJob::class;
\$wgJobClasses['mwsupTestMark'] = MwsupTestMarkJob::class;
PHP

sub php_maint {
	my ($code) = @_;
	my $f = test_dir() . '/maint-' . int(rand(1e9)) . '.php';
	write_file($f, <<"PHP");
<?php
require_once '/usr/share/mediawiki/maintenance/Maintenance.php';
class MwsupTestMaint extends Maintenance {
	public function execute() {
		\$jqg = MediaWiki\\MediaWikiServices::getInstance()->getJobQueueGroup();
		$code
	}
}
\$maintClass = MwsupTestMaint::class;
require_once RUN_MAINTENANCE_IF_MAIN;
PHP
	chmod 0644, $f;
	my ($rc, $out, $err) = wiki_php($w, $f);
	diag("maintenance code failed ($rc): $out$err") if $rc;
	return $rc == 0;
}

my $srv = start_mwsup($w->{config});
sub status_json {
	my ($rc, $out) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
	return eval { decode_json($out) } // {};
}

# A plain job, and a delayed one (release time 3 s ahead).
my $t0 = time();
ok(php_maint(q{
	$jqg->push( new MwsupTestMarkJob( [ 'name' => 'now' ] ) );
	$jqg->push( new MwsupTestMarkJob( [ 'name' => 'later', 'jobReleaseTimestamp' => time() + 3 ] ) );
}), 'jobs are queued in Redis');
ok(wait_until(sub { -e "$marks/mark-now" }, 10), 'mwsup runs a job queued in Redis within 10 s')
    and diag(sprintf('it ran %.1f s after it was queued', read_file("$marks/mark-now") - $t0));
ok(wait_until(sub { -e "$marks/mark-later" }, 15), 'the delayed job runs once due');
# Release times are whole seconds: "time() + 3" is 2 to 3 s after $t0.
cmp_ok(-e "$marks/mark-later" ? read_file("$marks/mark-later") - $t0 : 0, '>=', 2,
    'not before its release time');

# A worker killed in the middle of a job: the claim outlives it; after
# claimTTL the upkeep puts the job back and it runs to the end.
ok(php_maint(q{ $jqg->push( new MwsupTestSlowJob( [] ) ); }), 'a slow job is queued');
ok(wait_until(sub { -e "$marks/slow.started" }, 10), 'a worker starts it');
my $st = status_json();
my ($busy) = grep { $_->{state} eq 'jobs' } @{ $st->{slots} // [] };
ok($busy, 'the slot table shows that worker in state "jobs"')
	or diag(explain($st->{slots}));
like($busy->{request} // '', qr/^JOBS default/, 'running the default group');
kill('KILL', $busy->{pid}) if $busy;
my $killed = time();
is(redis('ZCARD', 'my_wiki:jobqueue:mwsupTestSlow:z-claimed'), 1,
    'the killed job stays claimed in Redis');
ok(wait_until(sub { -e "$marks/slow.done" }, 20), 'it runs again and finishes');
cmp_ok(time() - $killed, '>=', 2, 'after its claimTTL (3 s)');
log_like($srv, qr/ended during slice \d+ \(default\)/, 'the lost slice is logged');

# A job that always throws: attempts 1, 2, 3, then abandoned.
ok(php_maint(q{ $jqg->push( new MwsupTestFailJob( [] ) ); }), 'a failing job is queued');
my $n = sub { -e "$marks/fail.log" ? () = read_file("$marks/fail.log") =~ /attempt/g : 0 };
ok(wait_until(sub { $n->() >= 3 }, 40), 'it is tried 3 times') or diag('attempts: ' . $n->());
ok(wait_until(sub { redis('ZCARD', 'my_wiki:jobqueue:mwsupTestFail:z-abandoned') eq '1' }, 10),
    'then abandoned (z-abandoned)');
sleep(4);
is($n->(), 3, 'and not tried again');
is(redis('ZCARD', 'my_wiki:jobqueue:mwsupTestFail:z-claimed'), 0, 'no claim is left');
$st = status_json();
is($st->{jobs_failed}, 3, 'status: 3 failed jobs');
cmp_ok($st->{jobs_recycled}, '>=', 3, 'status: re-queued jobs counted (killed one + retries)');
cmp_ok($st->{jobs_abandoned_now}, '>=', 1, 'status: abandoned jobs counted');
is($st->{jobs_abandoned}, 1, 'status: the queue holds 1 abandoned job');
cmp_ok($st->{job_slice_errors}, '>=', 1, 'status: the killed slice is counted');

# A template used by 10 pages is edited: the refreshLinks jobs the edit
# queues in Redis bring every page's links up to date.
my $dir = test_dir() . '/pages';
mkdir $dir;
chmod 0755, $dir;
my $import = sub {
	my ($prefix, @files) = @_;
	chmod 0644, @files;
	my ($rc, $out, $err) = wiki_php($w,
	    '/usr/share/mediawiki/maintenance/importTextFiles.php', '--overwrite',
	    '--prefix', $prefix, @files);
	diag("importTextFiles: $out$err") if $rc;
	return $rc == 0;
};
write_file("$dir/RNav.wiki", "[[Redis target A]]\n");
$import->('Template:', "$dir/RNav.wiki");
my @pages = map { "$dir/Redis page $_.wiki" } 1 .. 10;
write_file($_, "{{RNav}}\n") for @pages;
ok($import->('', @pages), '10 pages use Template:RNav');
my $links = sub {
	my ($rc, $out) = run_cmd('sqlite3', '-readonly', '-cmd', '.timeout 10000',
	    "$w->{dir}/data/my_wiki.sqlite",
	    "SELECT COUNT(DISTINCT pl_from) FROM pagelinks JOIN page ON page_id = pl_from " .
	    "WHERE page_title LIKE 'Redis_page_%' AND pl_title = '$_[0]'");
	chomp $out;
	return $out;
};
is($links->('Redis_target_A'), 10, 'they link to Redis target A');
write_file("$dir/RNav.wiki", "[[Redis target B]]\n");
my $t1 = time();
ok($import->('Template:', "$dir/RNav.wiki"), 'the template is edited');
ok(wait_until(sub { $links->('Redis_target_B') == 10 }, 30),
    sprintf('all 10 pages link to Redis target B (%.1f s)', time() - $t1))
	or diag('linking: ' . $links->('Redis_target_B'));
cmp_ok(status_json()->{jobs_run}, '>=', 12, 'status counts the jobs run');

stopped_cleanly($srv);
done_testing();
