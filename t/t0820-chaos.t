#!/usr/bin/perl
# Chaos: readers load pages and an editor saves edits through the API while
# workers are killed at random and the configuration is reloaded.  At the
# end every request got either a complete response (its Content-Length
# worth of body) or a clean 5xx, no connection hung, and every edit that was
# answered "Success" is in the wiki: nothing acknowledged is lost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $SECS = 16;
my $w = wiki('pool.workers' => 3, 'timeouts.request' => 30);
my $srv = start_mwsup($w->{config});
my $port = $srv->{port};
my $dir = test_dir();
my $jar = cookie_jar();

sub api { MwTest::api($jar, @_, _opt => { port => $port }) }

my ($j) = api(GET => action => 'query', meta => 'tokens', type => 'login');
($j) = api(POST => action => 'clientlogin', username => $w->{admin_user}, password => $w->{admin_pass},
    logintoken => $j->{query}{tokens}{logintoken} // '', loginreturnurl => "http://127.0.0.1:$port/");
is($j->{clientlogin}{status}, 'PASS', 'the editor logs in');
($j) = api(GET => action => 'query', meta => 'tokens', type => 'csrf');
my $csrf = $j->{query}{tokens}{csrftoken} // '';

my @kids;
for my $k (1 .. 2) {
	my $pid = fork() // die;
	if ($pid == 0) {
		my %n;
		my $end = time() + $SECS;
		my @paths = ('/wiki/Main_Page', '/api.php?action=query&meta=siteinfo&format=json',
		    '/load.php?modules=startup&only=scripts', '/resources/assets/poweredby_mediawiki_88x31.png');
		my $i = 0;
		while (time() < $end) {
			my $p = $paths[$i++ % @paths];
			my $t0 = time();
			my $out = raw($port, "GET $p HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout => 40);
			my $v = judge($out);
			$v = 'hung' if time() - $t0 >= 39;
			$n{$v}++;
			# What went wrong, for the diagnosis: the path and the head.
			if ($v !~ /^(?:complete|clean-5xx)$/) {
				my ($head) = ($out // '') =~ /\A(.*?)\r\n\r\n/s;
				my $got = length($out // '') - length($head // '') - 4;
				open(my $fh, '>>', "$dir/bad.$k");
				print $fh "$v $p after " . sprintf('%.2f s', time() - $t0)
				    . " ($got body bytes):\n" . ($head // substr($out // '', 0, 300)) . "\n\n";
				close($fh);
			}
			# PHP answers apart: static files alone would pass "served".
			if ($p !~ /\.png$/) {
				$n{'php-sent'}++;
				$n{'php-complete'}++ if $v eq 'complete';
			}
		}
		write_file("$dir/reader.$k", join('', map { "$_ $n{$_}\n" } sort keys %n));
		POSIX::_exit(0);
	}
	push @kids, $pid;
}
my $editor = fork() // die;
if ($editor == 0) {
	my (@ok, %n);
	my $end = time() + $SECS;
	my $i = 0;
	while (time() < $end) {
		$i++;
		my $text = "chaos edit $i of $$ " . int(rand(1e9));
		my ($ej, $r) = api(POST => action => 'edit', title => "Chaos page $i", text => $text,
		    summary => 'chaos', token => $csrf);
		my $res = $ej->{edit}{result} // "status $r->{status}";
		$n{$res eq 'Success' ? 'success' : $r->{status} >= 500 ? 'clean-5xx' : "other: $res"}++;
		push @ok, "$i\t$text" if $res eq 'Success';
	}
	write_file("$dir/edits.ok", join('', map { "$_\n" } @ok));
	write_file("$dir/edits.n", join('', map { "$_ $n{$_}\n" } sort keys %n));
	POSIX::_exit(0);
}

my ($kills, $t_end) = (0, time() + $SECS - 2);
my $reloaded = 0;
while (time() < $t_end) {
	sleep(1 + rand(1.5));
	my @p = worker_pids($srv);
	if (@p) { kill 'KILL', $p[int rand @p]; $kills++ }
	if (!$reloaded && time() > $t_end - $SECS / 2) { kill 'HUP', $srv->{pid}; $reloaded = 1 }
}
waitpid($_, 0) for @kids, $editor;
cmp_ok($kills, '>=', 4, "workers were killed during the run ($kills times)");

my %total;
for my $f (glob("$dir/reader.*"), "$dir/edits.n") {
	for (split /\n/, read_file($f)) { my ($k, $n) = /^(.*) (\d+)$/ or next; $total{$k} += $n }
}
diag(join(', ', map { "$_: $total{$_}" } sort keys %total));
diag(read_file($_)) for glob("$dir/bad.*");
my @bad = grep { !/^(complete|clean-5xx|success|php-sent|php-complete)$/ } keys %total;
is(join(', ', map { "$_: $total{$_}" } sort @bad), '', 'every request got a complete response or a clean 5xx; none hung or was cut');
# A kill costs the requests in the killed worker and, while the pool is
# short, some 503s; most PHP requests still get a whole answer.
my ($php, $php_ok) = ($total{'php-sent'} // 0, $total{'php-complete'} // 0);
cmp_ok($php_ok, '>', $php / 2, "most PHP requests got a complete answer ($php_ok of $php)");
log_like($srv, qr/generation 2 ready/, 'the reload sent during the run started a new generation');
cmp_ok(($total{success} // 0), '>', 0, 'some edits were saved');

# Nothing acknowledged is lost.
my @ok = grep { length } split /\n/, read_file("$dir/edits.ok");
my $missing = 0;
for my $e (@ok) {
	my ($i, $text) = split /\t/, $e, 2;
	my ($pj) = api(GET => action => 'query', prop => 'revisions', rvprop => 'content', rvslots => 'main',
	    titles => "Chaos page $i", formatversion => 2);
	my $c = $pj->{query}{pages}[0]{revisions}[0]{slots}{main}{content} // '';
	$missing++ unless $c eq $text;
}
is($missing, 0, 'every edit answered "Success" (' . scalar(@ok) . ') is in the wiki');
is(waitpid($srv->{pid}, POSIX::WNOHANG()), 0, 'the supervisor survived it all (not exited, not a zombie)');
stopped_cleanly($srv);
done_testing();
