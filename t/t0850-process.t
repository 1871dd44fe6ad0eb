#!/usr/bin/perl
# The supervisor as a process among others: started as root it refuses to
# run the wiki as root unless mw.yaml asks for that in words (user: root),
# and runs it as user: otherwise; no descriptor of mwsup's (control socket,
# slot table, config, the client's connection) reaches a program PHP
# starts, warm or cold; out of descriptors, a static file answers 503 (never
# 404) and a dead worker is started again as soon as descriptors are free;
# a huge mw.yaml given to a running supervisor (SIGHUP) is refused at once
# while the old configuration keeps serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::IP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $PNG = '/resources/assets/poweredby_mediawiki_88x31.png';

# The effective uid of a process, from /proc.
sub uid_of {
	my ($pid) = @_;
	my ($uid) = read_file("/proc/$pid/status") =~ /^Uid:\s+\d+\s+(\d+)/m;
	return $uid;
}

# --- started as root -------------------------------------------------------
SKIP: {
	skip 'needs root: the root checks are about a start as root', 11 unless $> == 0;
	my $w = wiki('pool.workers' => 1);
	my $www = getpwnam('www-data');

	# user: www-data, as tools/mkwiki writes it when run as root.
	my $srv = start_mwsup($w->{config});
	my @pids = worker_pids($srv);
	ok(@pids && !grep({ uid_of($_) != $www } @pids),
	    "with user: www-data the workers run as www-data (uid $www)")
		or diag(join ' ', map { "$_:" . uid_of($_) } @pids);
	stopped_cleanly($srv);

	# No user: at all.
	set_yaml($w, user => undef, group => undef);
	my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $w->{config});
	is($rc, 2, 'as root, mwsup -t refuses a mw.yaml without user: (exit 2)');
	like($err, qr/\Q$w->{config}\E: started as root, but no "user:" is set: set user: .*user: root/,
	    'the message names the file and what to set');
	# (Under timeout: a mwsup that does start would serve for ever.)
	my $t0 = time();
	($rc, $out, $err) = run_cmd('timeout', '-k', '5', '30', mwsup_bin(), '-c', $w->{config});
	is($rc, 2, 'and mwsup refuses to start with it (exit 2)');
	like($err, qr/\Q$w->{config}\E: started as root, but no "user:"/, 'saying why');
	cmp_ok(time() - $t0, '<', 10, 'at once, starting no worker');

	# user: root, written out: the wiki runs as root, on purpose.  A wiki
	# of its own, whose files root may then own.
	my $wr = wiki('pool.workers' => 1);
	set_yaml($wr, user => 'root', group => undef);
	$srv = start_mwsup($wr->{config});
	@pids = worker_pids($srv);
	ok(@pids && !grep({ uid_of($_) != 0 } @pids), 'with user: root written out, the workers run as root (uid 0)')
		or diag(join ' ', map { "$_:" . uid_of($_) } @pids);
	log_like($srv, qr/running as root: \Q$wr->{config}\E says "user: root"/,
	    'and the log says so, naming the file');
	is(http(GET => '/wiki/Main_Page')->{status}, 200, 'and serves the wiki');
	stop_mwsup($srv);
}

# --- descriptors in programs PHP starts ------------------------------------
# A hook runs a shell from PHP (shell_exec, as MediaWiki runs ImageMagick or
# diff3) which lists its own open descriptors: the glob opens the directory
# for a moment, and what is closed again by the time it is tested with -L
# is the glob's own descriptor, not one the shell got.
{
	my $w = wiki('pool.workers' => 1);
	my $run = "$w->{dir}/run";
	mkdir $run or die "mkdir $run: $!\n";
	chmod 0777, $run;	# the workers may run as www-data
	my $sh = 'cd /proc/$$/fd && for f in *; do [ -L "$f" ] && echo "$f"; done; '
	    . 'echo --; ls -l /proc/$$/fd; true';
	(my $php_sh = $sh) =~ s/([\\'])/\\$1/g;
	append_settings($w, <<"EOF" . "\t\t\$cmd = '$php_sh';\n" . <<"EOF2");
\$wgHooks['BeforeInitialize'][] = static function () {
	if ( isset( \$_GET['mwsup_test_fds'] ) ) {
EOF
		file_put_contents( '$run/fds.tmp', shell_exec( \$cmd ) );
		rename( '$run/fds.tmp', '$run/fds.' . \$_GET['mwsup_test_fds'] );
	}
};
EOF2
	for my $mode ('warm', 'cold') {
		set_yaml($w, 'snapshot.enabled' => $mode eq 'warm' ? 'true' : 'false');
		my $srv = start_mwsup($w->{config});
		for my $req (['get', 'GET', ''], ['post', 'POST', 'x=' . ('y' x 70000)]) {
			my ($name, $method, $body) = @$req;
			my $tag = "$mode-$name";
			my $r = http($method => "/index.php?title=Main_Page&mwsup_test_fds=$tag",
			    $body ne '' ? { 'Content-Type' => 'application/x-www-form-urlencoded' } : undef,
			    $body ne '' ? $body : undef);
			ok($r->{status} == 200 && -e "$run/fds.$tag", "$mode, $method: the hook ran (200)")
				or diag("status $r->{status}");
			my $text = -e "$run/fds.$tag" ? read_file("$run/fds.$tag") : '';
			my ($list) = split /^--\n/m, $text;
			my @fds = sort { $a <=> $b } grep { /^\d+$/ } split /\n/, $list // '';
			is("@fds", '0 1 2', "$mode, $method"
			    . ($body ne '' ? ' with a body in a memfd' : '')
			    . ': a program PHP starts has descriptors 0, 1 and 2 only')
				or diag($text);
		}
		stopped_cleanly($srv);
	}
}

done_testing();
