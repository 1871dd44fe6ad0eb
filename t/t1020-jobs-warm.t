#!/usr/bin/perl
# Jobs in warm workers (snapshot.enabled): a job slice runs as a cold
# request of its own, and the worker bootstraps warm again before it is
# idle, so web requests keep being served warm by the same processes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 2, 'snapshot.enabled' => 'true', 'jobs.poll' => 0.5);
my @as = $> == 0 ? ('runuser', '-u', 'www-data', '--') : ();
my $dir = test_dir() . '/pages';
mkdir $dir;
chmod 0755, $dir;
sub import_pages {
	my ($prefix, @files) = @_;
	chmod 0644, @files;
	my ($rc, $out, $err) = run_cmd(@as, 'env', "MW_CONFIG_FILE=$w->{settings}", 'php',
	    '/usr/share/mediawiki/maintenance/importTextFiles.php', '--overwrite',
	    '--prefix', $prefix, @files);
	diag("importTextFiles: $out$err") if $rc;
	return $rc == 0;
}
sub links {
	my ($rc, $out) = run_cmd('sqlite3', '-readonly', '-cmd', '.timeout 10000',
	    "$w->{dir}/data/my_wiki.sqlite",
	    "SELECT COUNT(DISTINCT pl_from) FROM pagelinks JOIN page ON page_id = pl_from " .
	    "WHERE page_title LIKE 'Warm_page_%' AND pl_title = '$_[0]'");
	chomp $out;
	return $out;
}
write_file("$dir/WNav.wiki", "[[Warm target A]]\n");
import_pages('Template:', "$dir/WNav.wiki");
my @pages = map { "$dir/Warm page $_.wiki" } 1 .. 10;
write_file($_, "{{WNav}}\n") for @pages;
ok(import_pages('', @pages), '10 pages use Template:WNav');

my $srv = start_mwsup($w->{config});
my @pids = worker_pids($srv);
is(http(GET => '/wiki/Main_Page')->{status}, 200, 'a warm worker serves the Main Page');

write_file("$dir/WNav.wiki", "[[Warm target B]]\n");
ok(import_pages('Template:', "$dir/WNav.wiki"), 'the template is edited');
ok(wait_until(sub { links('Warm_target_B') == 10 }, 60),
    'warm workers run the jobs: all 10 pages link to Warm target B')
	or diag('linking: ' . links('Warm_target_B'));
my ($rc, $out) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
my $st = eval { decode_json($out) } // {};
cmp_ok($st->{jobs_run} // 0, '>=', 10, 'status counts the jobs');
is($st->{job_slice_errors}, 0, 'no slice failed');
for (1 .. 4) {
	is(http(GET => '/wiki/Warm_page_1')->{status}, 200, "page view $_ after the jobs");
}
is_deeply([worker_pids($srv)], \@pids, 'by the same worker processes (none recycled)');
log_unlike($srv, qr/warm mode off/, 'warm mode stays on in every worker');
stopped_cleanly($srv);
done_testing();
