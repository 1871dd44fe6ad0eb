#!/usr/bin/perl
# Jobs in warm workers (snapshot.enabled): a job slice is one more entry
# point of the bootstrapped MediaWiki, with the checkpoint restored after
# it as after a web request: no worker bootstraps again for jobs, and web
# requests keep being served warm by the same processes.  With a pool of
# one, the slice's state (its user, its memory limit, the services the
# jobs made) does not reach the next web request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 2, 'snapshot.enabled' => 'true', 'jobs.poll' => 0.5);
my $dir = test_dir() . '/pages';
mkdir $dir;
chmod 0755, $dir;
sub import_pages {
	my ($prefix, @files) = @_;
	chmod 0644, @files;
	my ($rc, $out, $err) = wiki_php($w,
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
cmp_ok($st->{job_slices} // 0, '>=', 1, 'job slices ran');
my @boots = log_text($srv) =~ /checkpoint: \d+ globals/g;
is(scalar @boots, 2, 'each of the 2 workers bootstrapped once: slices ran in the warm state')
	or diag("bootstraps: " . scalar @boots . ", slices: " . ($st->{job_slices} // 0));
log_unlike($srv, qr/warm mode off|restoring the checkpoint failed/, 'warm mode stays on in every worker');
stopped_cleanly($srv);

# Pool of one: every web request follows a job slice in the same process.
my $w1 = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'jobs.poll' => 0.5,
    'jobs.reserve' => 0);
append_settings($w1, <<'PHP');
class MwsupJobProbe extends Job {
	public function __construct( $title, $params ) {
		parent::__construct( 'mwsupProbe', $title, $params );
	}
	public function run() {
		global $wgSitename;
		$wgSitename = 'Changed by a job';
		header( 'X-Mwsup-From-Job: yes' );
		return true;
	}
}
$wgJobClasses['mwsupProbe'] = MwsupJobProbe::class;
$wgHooks['BeforePageDisplay'][] = static function ( $out ) {
	if ( $out->getRequest()->getVal( 'probejob' ) ) {
		MediaWiki\MediaWikiServices::getInstance()->getJobQueueGroup()->push(
			new MwsupJobProbe( $out->getTitle(), [] ) );
	}
};
PHP
$srv = start_mwsup($w1->{config});
my $r = http(GET => '/wiki/Main_Page?probejob=1');
is($r->{status}, 200, 'a page view queues a job that changes $wgSitename and sends a header');
ok(wait_until(sub {
	my ($rc, $o) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
	(eval { decode_json($o) } // {})->{jobs_run};
}, 30), 'the one warm worker runs the job');
$r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'the next page view, by the same worker');
like($r->{body}, qr/<title>[^<]*Mwsup Demo<\/title>/, 'still has the site name of the configuration');
unlike($r->{body}, qr/Changed by a job/, 'nothing of the job\'s change');
ok(!exists $r->{headers}{'x-mwsup-from-job'}, 'nor its header');
@boots = log_text($srv) =~ /checkpoint: \d+ globals/g;
is(scalar @boots, 1, 'the worker bootstrapped once');
stopped_cleanly($srv);
done_testing();
