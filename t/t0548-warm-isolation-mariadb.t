#!/usr/bin/perl
# The isolation checks of t0500 (a logged-in user with a German interface,
# then anonymous requests on the same worker; globals, statics, status,
# headers and cookies left by a request) and t0550 (an interface message
# edited through one worker reaches the pages of the other: the message
# cache's hash is in Redis here) and t0590 (what is derived from the
# request: the request id, the session cookie's secure flag; a setting
# made from the Host header served cold) on a MariaDB wiki with its object
# cache and sessions in Redis: the same files, run with
# MWSUP_TEST_DB=mariadb (t/lib/MwTest.pm, wiki()).  t0545 runs the jobs of such a wiki in warm
# workers; t0546 checks isolation after server faults.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

for my $bin (qw(mariadbd mariadb-install-db redis-server)) {
	plan skip_all => "no $bin (tools/deps --test)"
		unless grep { -x "$_/$bin" } split /:/, "$ENV{PATH}:/usr/sbin";
}
$ENV{PATH} .= ':/usr/sbin';
$ENV{MWSUP_TEST_DB} = 'mariadb';
for my $file (qw(t0500-warm-isolation.t t0550-warm-messages.t t0590-warm-request-derived.t)) {
	subtest "$file on MariaDB + Redis" => sub {
		my $rc = do "$FindBin::Bin/$file";
		die "$file: $@" if $@;
	};
}
# The wikis were on those servers, not on SQLite.
my ($db, $redis) = test_servers();
ok($db && grep({ !/^(information_schema|mysql|performance_schema|sys)$/ }
    split /\n/, sql($db, 'SHOW DATABASES')), 'the wikis\' databases are in MariaDB');
my ($rc, $keys) = run_cmd('redis-cli', '-s', $redis ? $redis->{socket} : '/nonexistent', 'DBSIZE');
cmp_ok($rc == 0 ? $keys : 0, '>', 0, 'and their cache in Redis');
done_testing();
