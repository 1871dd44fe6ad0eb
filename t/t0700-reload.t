#!/usr/bin/perl
# SIGHUP reloads mw.yaml without dropping a request: while clients keep
# sending requests, three reloads (one of them growing the pool) each start
# a new generation of workers and retire the old one; every request gets a
# complete 200.  A reload with a broken file changes nothing and says why.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $w = wiki('pool.workers' => 2);
my $srv = start_mwsup($w->{config});
my $port = $srv->{port};

# warm each worker's opcache so the load loop measures reloads, not compiles
http(GET => '/wiki/Main_Page') for 1 .. 4;

my $dir = test_dir();
my $LOAD_SECS = 14;
my @kids;
# Each request is sent once on a connection of its own (HTTP::Tiny would
# send a GET cut short by a reload again, and pass) and must come back
# whole: its Content-Length worth of body.  The fourth client POSTs.
for my $k (1 .. 4) {
	my @req = $k == 1 ? (GET => '/wiki/Main_Page')
	    : $k == 2 ? (GET => '/api.php?action=query&meta=siteinfo&format=json')
	    : $k == 3 ? (GET => '/load.php?modules=startup&only=scripts')
	    : (POST => '/api.php', body => 'action=query&meta=siteinfo|userinfo&format=json');
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		my (%codes, $n);
		my $end = time() + $LOAD_SECS;
		while (time() < $end) {
			my ($v, $r) = once($port, @req, timeout => 30);
			my $ok = $v eq 'complete' && $r->{status} == 200 && length($r->{body}) > 100;
			$codes{$ok ? 'ok' : "bad $v $r->{status}"}++;
			$n++;
		}
		write_file("$dir/load.$k", join('', map { "$_ $codes{$_}\n" } sort keys %codes));
		POSIX::_exit(0);
	}
	push @kids, $pid;
}

my @gens;
for my $i (1 .. 3) {
	sleep(3);
	set_yaml($w, 'pool.workers' => 3) if $i == 2;
	kill 'HUP', $srv->{pid};
	push @gens, wait_until(sub { log_text($srv) =~ /generation ${\($i + 1)} ready/ }, 30);
}
waitpid($_, 0) for @kids;

ok(!grep({ !$_ } @gens), 'each reload starts a new generation that becomes ready');
my (%total, @per_client);
for my $k (1 .. 4) {
	my $ok = 0;
	for (split /\n/, read_file("$dir/load.$k")) {
		my ($what, $n) = /^(.*) (\d+)$/ or next;
		$total{$what} += $n;
		$ok += $n if $what eq 'ok';
	}
	push @per_client, $ok;
}
my $bad = join(', ', map { "$_: $total{$_}" } grep { $_ ne 'ok' } sort keys %total);
# How many depends on the machine; what matters is that every client kept
# requests in flight across the reloads (the loop never stops sending).
ok(!grep({ $_ < 2 } @per_client), "every client completed requests while the reloads ran (@per_client)");
is($bad, '', 'no request (GET or POST, each sent once) failed or was cut short across three reloads');

my @pids = @{ wait_until(sub { my @p = worker_pids($srv); @p == 3 ? \@p : undef }, 20) // [] };
is(scalar @pids, 3, 'the reload that set pool.workers to 3 leaves three workers (old ones exited)');

# A broken file: rejected with its position, and the server keeps going.
my $good = read_file($w->{config});
write_file($w->{config}, $good . "pool:\n  workers: lots\n");
kill 'HUP', $srv->{pid};
log_like($srv, qr/\Q$w->{config}\E:\d+:\d+: .*\n.*reload: \Q$w->{config}\E is not valid; still running the previous configuration/,
    'a reload with a broken file logs file:line:col and keeps the running configuration');
my $r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'after the failed reload the wiki still answers');
is(scalar(my @p = worker_pids($srv)), 3, 'and the worker pool is unchanged');
write_file($w->{config}, $good);

stopped_cleanly($srv);
done_testing();
