#!/usr/bin/perl
# Interface messages in warm workers: each worker keeps its own copy of
# the message cache (APCu, $wgUseLocalMessageCache as tools/mkwiki sets it),
# checked against the hash in the shared cache before use.  An edit in the
# MediaWiki namespace served by one worker must reach the pages every other
# worker renders next, with no restart: two workers, each of them asked
# until both have answered, before and after the edit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 2, 'snapshot.enabled' => 'true', 'log.access' => 'stderr');
# A view asked to wait keeps its worker busy (views_by_worker below).
append_settings($w, <<'PHP');
$wgHooks['BeforeInitialize'][] = static function () {
	if ( isset( $_GET['mwsup_test_hold'] ) ) {
		usleep( 600000 );
	}
};
PHP
like(read_file($w->{settings}), qr/^\$wgUseLocalMessageCache = true;/m,
    'tools/mkwiki keeps interface messages in the local server cache');
my $srv = start_mwsup($w->{config});
my @pids = worker_pids($srv);
is(scalar @pids, 2, 'two warm workers');

# Views of a page (the Main Page unless named) until each worker has
# answered at least $n of them; returns the bodies seen, by worker pid
# (the access log's last field).  Requests are numbered across calls so
# that each URL is seen once.  They go in pairs: the first is held in a
# hook for a while, so the second goes to the other worker (sequential
# requests would all reach the worker that became idle last).
my $nview = 0;
sub views_by_worker {
	my ($n, $page) = @_;
	$page //= 'Main_Page';
	my (%seen, %bodies);
	for (1 .. 20) {
		my ($i, $k) = (++$nview, ++$nview);
		my $held = raw_begin($srv->{port}, "GET /wiki/$page?v=$i&mwsup_test_hold=1 HTTP/1.1\r\n" .
		    "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
		select(undef, undef, undef, 0.2);
		$bodies{$k} = http(GET => "/wiki/$page?v=$k")->{body};
		$bodies{$i} = parse_response(raw_end($held))->{body};
		for my $line (split /\n/, log_text($srv)) {
			my ($j, $pid) = $line =~ m{GET /wiki/\Q$page\E\?v=(\d+)\S* .* (\d+)$} or next;
			next unless defined $bodies{$j};
			$seen{$pid} //= [];
			push @{ $seen{$pid} }, delete $bodies{$j} if @{ $seen{$pid} } < $n;
		}
		last if keys %seen == 2 && !grep { @{ $seen{$_} } < $n } keys %seen;
	}
	return \%seen;
}

my $jar = cookie_jar();
my ($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', type => 'login');
($j) = MwTest::api($jar, POST => action => 'login', lgname => $w->{admin_user},
    lgpassword => $w->{admin_pass}, lgtoken => $j->{query}{tokens}{logintoken} // '');
is($j->{login}{result}, 'Success', 'the admin logs in');
($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens');
my $csrf = $j->{query}{tokens}{csrftoken} // '';

# A first notice, seen (and so cached) by both workers; then a second
# one, written through one of them, must replace it in both.
my $old = 'First sitenotice, seen by both workers ' . time;
my $tagline = 'Sitenotice written through one worker ' . time;
($j) = MwTest::api($jar, POST => action => 'edit', title => 'MediaWiki:Sitenotice',
    text => $old, token => $csrf);
is($j->{edit}{result}, 'Success', 'the admin sets a first site notice');
my $before = views_by_worker(2);
is(scalar keys %$before, 2, 'both workers render the Main Page');
my @bb = map { @$_ } values %$before;
is(scalar(grep { /\Q$old\E/ } @bb), scalar(@bb), 'every view shows the first site notice (' . scalar(@bb) . ')');
ok(!grep({ /\Q$tagline\E/ } @bb), 'none shows the second yet');

($j) = MwTest::api($jar, POST => action => 'edit', title => 'MediaWiki:Sitenotice',
    text => $tagline, token => $csrf);
is($j->{edit}{result}, 'Success', 'the admin edits MediaWiki:Sitenotice');

my $after = views_by_worker(2);
is(scalar keys %$after, 2, 'both workers render the Main Page again');
for my $pid (sort keys %$after) {
	my @bodies = @{ $after->{$pid} };
	is(scalar(grep { /\Q$tagline\E/ && !/\Q$old\E/ } @bodies), scalar @bodies,
	    "worker $pid shows the new site notice, not the first, on every page after the edit");
}
# The same for a page's text: a worker that kept its database connection
# from its last read sees a write made through the other worker at once.
my $page = 'Coherence_probe';
($j) = MwTest::api($jar, POST => action => 'edit', title => $page, text => 'First text.', token => $csrf);
is($j->{edit}{result}, 'Success', 'the admin creates a page');
$before = views_by_worker(2, $page);
is(scalar(grep { /First text\./ } map { @$_ } values %$before), 4, 'both workers show its text');
($j) = MwTest::api($jar, POST => action => 'edit', title => $page, text => 'Second text.', token => $csrf);
is($j->{edit}{result}, 'Success', 'the admin changes it');
$after = views_by_worker(2, $page);
is(scalar keys %$after, 2, 'both workers render the page again');
for my $pid (sort keys %$after) {
	my @bodies = @{ $after->{$pid} };
	is(scalar(grep { /Second text\./ } @bodies), scalar @bodies,
	    "worker $pid shows the new text on every view after the edit");
}
stopped_cleanly($srv);
done_testing();
