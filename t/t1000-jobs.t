#!/usr/bin/perl
# mwsup runs MediaWiki's job queue (JobQueueDB on SQLite, the wiki
# tools/mkwiki makes, $wgJobRunRate = 0): an edit of a template used by 50
# pages has every page's links table refreshed by mwsup within a bound,
# with no cron and no page views; a job that throws is retried after its
# claimTTL and abandoned after its attempts; `mwsup status` and the
# metrics count jobs run and failed and show the queue.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $w = wiki('pool.workers' => 2, 'jobs.poll' => 0.5, 'jobs.chron' => 1,
    'status.path' => '/mwsup-status');
my $db = "$w->{dir}/data/my_wiki.sqlite";
my $jobdb = "$w->{dir}/data/my_wiki_jobqueue.sqlite";
ok(-f $jobdb, 'the wiki keeps its job queue in SQLite (JobQueueDB)');
like(read_file($w->{config}), qr{^  sqlite: \Q$jobdb\E$}m,
    'tools/mkwiki names that file in mw.yaml (jobs.sqlite)');

my $attempts = "$w->{images}/fail-attempts.log";
append_settings($w, <<'PHP');
// A job that always throws, for the retry test.
class MwsupTestFailJob extends Job implements GenericParameterJob {
	public function __construct( array $params ) {
		parent::__construct( 'mwsupTestFail', $params );
	}
	public function run() {
		file_put_contents( $this->params['log'], "attempt\n", FILE_APPEND );
		throw new RuntimeException( 'mwsup test job fails on purpose' );
	}
}
$wgJobClasses['mwsupTestFail'] = MwsupTestFailJob::class;
// Failed jobs come back after 2 s instead of an hour.
$wgJobTypeConf['default']['claimTTL'] = 2;
PHP

sub maint {
	my ($script, @args) = @_;
	my ($rc, $out, $err) = wiki_php($w, "/usr/share/mediawiki/maintenance/$script", @args);
	diag("$script @args: exit $rc\n$out$err") if $rc != 0;
	return $rc == 0;
}
sub jobsql {
	my ($file, $q) = @_;
	my ($rc, $out, $err) = run_cmd('sqlite3', '-readonly', '-cmd', '.timeout 10000', $file, $q);
	diag("sqlite3 $q: $err") if $rc != 0;
	chomp $out;
	return $out;
}
# 50 pages using Template:Nav, made before mwsup starts, in one process.
my $pages = test_dir() . '/pages';
mkdir $pages;
write_file("$pages/Nav.wiki", "Navigation: [[Target A]]\n");
maint('importTextFiles.php', '--prefix', 'Template:', "$pages/Nav.wiki")
	or BAIL_OUT('cannot create Template:Nav');
my @files;
for my $i (1 .. 50) {
	push @files, "$pages/Jobs test page $i.wiki";
	write_file($files[-1], "Page $i. {{Nav}}\n");
}
chmod 0755, $pages;
chmod 0644, $_ for @files, "$pages/Nav.wiki";
maint('importTextFiles.php', @files) or BAIL_OUT('cannot create the 50 pages');

my $links_to = sub {
	my ($target) = @_;
	return jobsql($db, "SELECT COUNT(DISTINCT pl_from) FROM pagelinks " .
	    "JOIN page ON page_id = pl_from WHERE page_title LIKE 'Jobs_test_page_%' " .
	    "AND pl_title = '$target'");
};
is($links_to->('Target_A'), 50, 'the 50 pages link to Target A through the template');

my $srv = start_mwsup($w->{config});
sub status_json {
	my ($rc, $out) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
	return eval { decode_json($out) } // {};
}
# Whatever the page creation queued runs first.
ok(wait_until(sub { jobsql($jobdb, "SELECT COUNT(*) FROM job") eq '0' }, 60),
    'mwsup empties the queue the page creation left');

# The edit of the template queues refreshLinks (and htmlCacheUpdate) for
# every page using it; nobody views a page.
my $t0 = time();
write_file("$pages/Nav.wiki", "Navigation: [[Target B]]\n");
maint('importTextFiles.php', '--overwrite', '--prefix', 'Template:', "$pages/Nav.wiki")
	or BAIL_OUT('cannot edit Template:Nav');
my $queued = jobsql($jobdb, "SELECT COUNT(*) FROM job");
my $done = wait_until(sub { $links_to->('Target_B') == 50 }, 60);
my $took = time() - $t0;
ok($done, sprintf('within 60 s of the template edit, all 50 pages link to Target B (took %.1f s)', $took))
	or diag('pages linking to Target B: ' . $links_to->('Target_B'));
is($links_to->('Target_A'), 0, 'and none to Target A any more');
ok(wait_until(sub { jobsql($jobdb, "SELECT COUNT(*) FROM job") eq '0' }, 30),
    'the queue is empty again');

my $st = status_json();
cmp_ok($st->{jobs_run} // 0, '>=', 50, "mwsup status --json counts the jobs run ($st->{jobs_run})");
cmp_ok($st->{job_slices} // 0, '>=', 1, 'and the slices');
is($st->{jobs_failed}, 0, 'no job failed');
is($st->{jobs_ready}, 0, 'the ready queue is seen empty');

my ($rc, $text) = run_cmd(mwsup_bin(), 'status', '--pid', $srv->{pid});
like($text, qr/^jobs: \d+ run, 0 failed, \d+ slices \(0 failed\); queue: 0 ready/m,
    'mwsup status shows a jobs line');

# A job that throws: tried, re-queued after claimTTL, tried again, and
# abandoned after its 3 attempts.
my $push = test_dir() . '/push.php';
write_file($push, <<"PHP");
<?php
require_once '/usr/share/mediawiki/maintenance/Maintenance.php';
class PushFail extends Maintenance {
	public function execute() {
		MediaWiki\\MediaWikiServices::getInstance()->getJobQueueGroup()->push(
			new MwsupTestFailJob( [ 'log' => '$attempts' ] ) );
	}
}
\$maintClass = PushFail::class;
require_once RUN_MAINTENANCE_IF_MAIN;
PHP
chmod 0644, $push;
my ($prc, $pout, $perr) = wiki_php($w, $push);
is($prc, 0, 'a failing job is queued') or diag("$pout$perr");
my $n_attempts = sub { -e $attempts ? () = read_file($attempts) =~ /attempt/g : 0 };
ok(wait_until(sub { $n_attempts->() >= 1 }, 10), 'mwsup runs it');
ok(wait_until(sub { $n_attempts->() >= 3 }, 30),
    'and after it failed, runs it again after claimTTL, up to 3 attempts')
	or diag('attempts: ' . $n_attempts->());
sleep(5);
is($n_attempts->(), 3, 'not a fourth time: the job is abandoned');
is(jobsql($jobdb, "SELECT job_attempts FROM job WHERE job_cmd = 'mwsupTestFail'"), 3,
    'it stays in the table with its 3 attempts (pruned after a week)');
$st = status_json();
is($st->{jobs_failed}, 3, 'status counts 3 failed jobs');
cmp_ok($st->{jobs_recycled}, '>=', 2, 'and the re-queued ones');
is($st->{jobs_abandoned}, 1, 'and shows the abandoned job in the queue');
log_like($srv, qr/job\(s\) failed in group default: mwsupTestFail: RuntimeException: mwsup test job fails on purpose/,
    'the failure is logged with the job type and the error');

my $m = http(GET => '/mwsup-status/metrics');
like($m->{body}, qr/^mwsup_jobs_run_total \d+$/m, 'metrics: mwsup_jobs_run_total');
like($m->{body}, qr/^mwsup_jobs_failed_total 3$/m, 'metrics: mwsup_jobs_failed_total');
like($m->{body}, qr/^mwsup_jobs_queued 0$/m, 'metrics: mwsup_jobs_queued');
like($m->{body}, qr/^mwsup_workers\{state="jobs"\} \d+$/m, 'metrics: workers in state jobs');

stopped_cleanly($srv);
done_testing();
