#!/usr/bin/perl
# A job table of a million rows does not stop the supervisor's loop: the
# supervisor counts ready jobs in a JobQueueDB SQLite file itself, on its
# event loop, so the count must cost the same whatever the table holds.
# Static files keep answering promptly while it looks, a ready job among
# the million is still found and run, and a job file without MediaWiki's
# index (as MediaWiki 1.39's installer leaves it) is polled with slices
# instead, said once in the log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $w = wiki('pool.workers' => 2, 'jobs.poll' => 0.2, 'jobs.chron' => 1);
my $jobdb = "$w->{dir}/data/my_wiki_jobqueue.sqlite";

sub jobsql {
	my ($q) = @_;
	my ($rc, $out, $err) = run_cmd('sqlite3', '-cmd', '.timeout 10000', $jobdb, $q);
	diag("sqlite3 $q: $err") if $rc != 0;
	chomp $out;
	return $out;
}

like(jobsql("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'job_cmd_token'"),
    qr/^job_cmd_token$/, 'tools/mkwiki indexes the job queue file (job_cmd_token)');

# A million claimed, abandoned rows: nothing for a runner, but a count of
# the whole table reads every one of them.
my $t0 = time();
jobsql("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000) "
    . "INSERT INTO job (job_cmd, job_namespace, job_title, job_timestamp, job_params, "
    . "job_random, job_attempts, job_token, job_token_timestamp, job_sha1) "
    . "SELECT 'mwsupBig', 0, 'Page_' || x, '20260101000000', 'a:0:{}', x, 9, "
    . "'tok' || (x % 97), '20260101000000', '' FROM c");
is(jobsql("SELECT COUNT(*) FROM job"), '1000000',
    sprintf('a million abandoned jobs in the table (%.1f s)', time() - $t0));
# What the old count cost, as a yardstick for the bound below.
$t0 = time();
jobsql("SELECT job_cmd, job_token = '', job_attempts >= 3, COUNT(*) FROM job GROUP BY 1, 2, 3");
my $full = time() - $t0;
diag(sprintf('a GROUP BY over the table takes %.0f ms here', $full * 1000));
system('chown', '-R', '--reference', "$w->{dir}/data", "$w->{dir}/data") if $> == 0;

# slowest_static($seconds): the slowest of sequential static file fetches
# over that long (the look runs every 0.2 s).
sub slowest_static {
	my ($secs) = @_;
	my ($worst, $n, $bad, $end) = (0, 0, 0, time() + $secs);
	while (time() < $end) {
		my $s = time();
		my $r = raw($w->{port}, "GET /resources/assets/poweredby_mediawiki_88x31.png HTTP/1.1\r\n"
		    . "Host: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout => 10);
		my $d = time() - $s;
		$bad++ unless defined $r && $r =~ m{^HTTP/1\.1 200 };
		$worst = $d if $d > $worst;
		$n++;
		sleep(0.02);
	}
	return ($worst, $n, $bad);
}

sub job_counts {
	my ($srv) = @_;
	my ($rc, $out) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
	return $rc == 0 ? decode_json($out) : {};
}

my $srv = start_mwsup($w->{config});
log_like($srv, qr/running the job queue in idle workers \(counting jobs in jobs\.sqlite\)/,
    'mwsup runs the job queue, counting jobs.sqlite');
my ($worst, $n, $bad) = slowest_static(4);
is($bad, 0, "every static file answered 200 ($n of them) during the looks");
# The old count stalled the loop for the whole GROUP BY (~0.7 s here);
# a bound of 250 ms leaves room for a loaded machine and still fails it.
cmp_ok($worst, '<', 0.25, sprintf('the slowest static file took %.0f ms (a full count: %.0f ms)',
    $worst * 1000, $full * 1000));
log_unlike($srv, qr/jobs\.sqlite.*(too long|no index)/, 'no complaint about the count');

# A ready job among the million is found and run.
jobsql("INSERT INTO job (job_cmd, job_namespace, job_title, job_timestamp, job_params, "
    . "job_random, job_attempts, job_token, job_token_timestamp, job_sha1) VALUES "
    . "('null', 0, 'Main_Page', '20260101000000', 'a:1:{s:5:\"lives\";i:1;}', 1, 0, '', NULL, '')");
ok(wait_until(sub { jobsql("SELECT COUNT(*) FROM job WHERE job_cmd = 'null'") eq '0' }, 30),
    'a ready job among a million rows is run');
cmp_ok(job_counts($srv)->{jobs_run} // 0, '>=', 1, 'status counts it as run');
stopped_cleanly($srv);

# The same table without the index: the count is cut short, logged once,
# and the queue is polled with slices (which may block: they are workers).
jobsql("DROP INDEX job_cmd_token");
jobsql("DROP INDEX job_cmd_token_id");
jobsql("DROP INDEX job_cmd");
$srv = start_mwsup($w->{config});
($worst, $n, $bad) = slowest_static(3);
is($bad, 0, "without the index every static file answered 200 ($n of them)");
cmp_ok($worst, '<', 0.25, sprintf('without the index the slowest took %.0f ms', $worst * 1000));
log_like($srv, qr/jobs\.sqlite \Q$jobdb\E: the job table has no index job_cmd_token.*CREATE INDEX job_cmd_token/,
    'the log says the index is missing and how to make it');
my @said = log_text($srv) =~ /has no index job_cmd_token/g;
is(scalar @said, 1, 'said once');
jobsql("INSERT INTO job (job_cmd, job_namespace, job_title, job_timestamp, job_params, "
    . "job_random, job_attempts, job_token, job_token_timestamp, job_sha1) VALUES "
    . "('null', 0, 'Main_Page', '20260101000000', 'a:1:{s:5:\"lives\";i:1;}', 1, 0, '', NULL, '')");
ok(wait_until(sub { jobsql("SELECT COUNT(*) FROM job WHERE job_cmd = 'null'") eq '0' }, 60),
    'without the index a ready job is still run (polled with slices)');
stopped_cleanly($srv);

done_testing();
