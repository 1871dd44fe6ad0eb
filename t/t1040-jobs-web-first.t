#!/usr/bin/perl
# Web requests win over jobs.
#
# A backlog of 2000 slow jobs (each sleeps 200 ms; a slice takes new jobs
# for up to jobs.max_time = 10 s, and up to jobs.max_jobs = 100 of them, so
# the backlog alone would keep 20 workers busy) on a pool of three workers with
# jobs.reserve: 1.  The supervisor must never give the last idle worker a
# slice: mwsup status, sampled every 50 ms all along, may show at most two
# workers in state "jobs" and never a request waiting in the queue (one
# worker is idle whenever the page view of this one client comes).  Page
# views sent one after another during the backlog are all answered while
# jobs keep running, each well before a slice could end: none waits for a
# slice (the bound, half of max_time, is over ten times what a warm page
# view takes here, and what waiting behind a slice takes on average).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $MAX_TIME = 10;
my $NJOBS = 2000;
my $w = wiki('pool.workers' => 3, 'jobs.reserve' => 1, 'jobs.max_jobs' => 100,
    'jobs.max_time' => $MAX_TIME, 'jobs.poll' => 0.5);
append_settings($w, <<'PHP');
// A slow job: 200 ms of waiting (an HTTP call, a slow query).
class MwsupTestSlowJob extends Job implements GenericParameterJob {
	public function __construct( array $params ) {
		parent::__construct( 'mwsupTestSlow', $params );
		$this->removeDuplicates = false;
	}
	public function run() {
		usleep( 200000 );
		return true;
	}
}
$wgJobClasses['mwsupTestSlow'] = MwsupTestSlowJob::class;
PHP

my $push = test_dir() . '/push.php';
write_file($push, <<"PHP");
<?php
require_once '/usr/share/mediawiki/maintenance/Maintenance.php';
class PushSlow extends Maintenance {
	public function execute() {
		\$jobs = [];
		for ( \$i = 0; \$i < $NJOBS; \$i++ ) {
			\$jobs[] = new MwsupTestSlowJob( [ 'i' => \$i ] );
		}
		MediaWiki\\MediaWikiServices::getInstance()->getJobQueueGroup()->push( \$jobs );
	}
}
\$maintClass = PushSlow::class;
require_once RUN_MAINTENANCE_IF_MAIN;
PHP
chmod 0644, $push;
my ($rc, $out, $err) = wiki_php($w, $push);
is($rc, 0, "$NJOBS slow jobs are queued before mwsup starts") or diag("$out$err");
my $jobdb = "$w->{dir}/data/my_wiki_jobqueue.sqlite";
my (undef, $count) = run_cmd('sqlite3', '-readonly', $jobdb,
    "SELECT COUNT(*) FROM job WHERE job_cmd = 'mwsupTestSlow'");
is($count + 0, $NJOBS, "the job table holds the $NJOBS");

my $srv = start_mwsup($w->{config});
sub status_json {
	my (undef, $o) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
	return eval { decode_json($o) };
}
sub in_jobs { scalar grep { $_->{state} eq 'jobs' } @{ $_[0]{slots} // [] } }

# The backlog runs: two workers take slices, the third stays idle.
my $st = wait_until(sub { my $s = status_json(); $s && in_jobs($s) == 2 ? $s : undef }, 60);
ok($st, 'two of the three workers run job slices') or diag(explain(status_json()));
# The first page view parses the Main Page into the parser cache; not timed.
is(http(GET => '/wiki/Main_Page', undef, undef, { timeout => 120 })->{status}, 200,
    'a first page view during the backlog');
my $run0 = (status_json() // {})->{jobs_run} // 0;

# Page views one after another, each timed, with mwsup status sampled
# between them and in a second process all along.
my $samples = test_dir() . '/samples';
my $sampler = fork() // die "fork: $!\n";
if ($sampler == 0) {
	open(my $fh, '>', $samples) or POSIX::_exit(1);
	$fh->autoflush(1);
	while (1) {
		my $s = status_json() or next;
		print $fh join(' ', in_jobs($s), $s->{queued} // 0, $s->{jobs_run} // 0), "\n";
		sleep(0.05);
	}
}
my (@took, @codes);
my $t_end = time() + 3 * $MAX_TIME;
while (time() < $t_end || @took < 20) {
	my $t0 = time();
	my $r = http(GET => '/wiki/Main_Page', undef, undef, { timeout => 120 });
	push @took, time() - $t0;
	push @codes, $r->{status};
	sleep(0.1);
}
kill('TERM', $sampler);
waitpid($sampler, 0);
my $after = status_json() // {};

is(scalar(grep { $_ != 200 } @codes), 0, scalar(@codes) . ' page views during the backlog all got 200')
	or diag("statuses: @codes");
my ($max) = sort { $b <=> $a } @took;
cmp_ok($max, '<', $MAX_TIME / 2, sprintf('none waited for a job slice: the slowest took %.2f s '
    . '(a slice takes new jobs for %d s)', $max, $MAX_TIME))
	or diag(join(' ', map { sprintf('%.2f', $_) } @took));
note('page view times: ' . join(' ', map { sprintf('%.2f', $_) } @took));
my @s = map { [split] } grep { /^\d+ \d+ \d+$/ } split /\n/, read_file($samples);
cmp_ok(scalar(@s), '>=', 20, scalar(@s) . ' samples of mwsup status were taken meanwhile');
is(scalar(grep { $_->[0] > 2 } @s), 0,
    'in none of them more than two workers ran jobs: one worker is always kept for web requests')
	or diag(join(' ', map { $_->[0] } @s));
is(scalar(grep { $_->[1] > 0 } @s), 0,
    'and in none a request waited in the queue for a worker')
	or diag(join(' ', map { $_->[1] } @s));
cmp_ok(scalar(grep { $_->[0] == 2 } @s), '>=', @s / 2,
    'and in most, two did: the backlog ran all along ('
    . scalar(grep { $_->[0] == 2 } @s) . ' of ' . scalar(@s) . ')');
cmp_ok(($after->{jobs_run} // 0) - $run0, '>=', 20,
    'jobs ran while the page views were served (' . (($after->{jobs_run} // 0) - $run0) . ')');
cmp_ok(($after->{jobs_ready} // 0), '>', 0, 'and the backlog was not used up');
is($after->{jobs_failed}, 0, 'no job failed');
is($after->{rejected}, 0, 'no request was refused');
# On SIGTERM mwsup lets the running slices end (each takes no new job
# after max_time), which can take longer than stop_mwsup's 10 s.
kill('TERM', $srv->{pid});
wait_until(sub {
	return 0 unless waitpid($srv->{pid}, POSIX::WNOHANG()) == $srv->{pid};
	@$srv{qw(stopped status)} = (1, $?);
	return 1;
}, 3 * $MAX_TIME);
stopped_cleanly($srv);
done_testing();
