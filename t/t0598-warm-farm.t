#!/usr/bin/perl
# A wiki farm (mw.yaml sites:): one mwsup, three wikis made by
# tools/mkwiki, each with a pool of warm workers of its own that
# bootstrapped its LocalSettings.php.  A request goes to the site its Host
# names (name or alias, then the longest "*.suffix" alias, then the
# default site), and only a worker of that site answers it: each answer
# has its own wiki's name, pages and uploads, however the hosts alternate.
# An edit on one wiki is not seen on another; each wiki's job queue is run
# by its own workers; a reload that moves an alias keeps every answer
# right; status and the access log name the site.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use MwTest;

my @names = qw(alpha beta gamma);
my %wiki;
for my $n (@names) {
	$wiki{$n} = wiki();
	append_settings($wiki{$n}, "\$wgSitename = 'Farm \u$n';");
	write_file("$wiki{$n}{images}/farm.txt", "upload of $n\n");
	chmod 0644, "$wiki{$n}{images}/farm.txt";
}
my $first = $wiki{alpha};

# Each wiki's job queue gets work before mwsup starts: a template and a
# page using it, imported (the import queues jobs; $wgJobRunRate is 0).
sub jobs_left {
	my ($w) = @_;
	my ($rc, $out, $err) = run_cmd('sqlite3', '-readonly', '-cmd', '.timeout 10000',
	    "$w->{dir}/data/my_wiki_jobqueue.sqlite", 'SELECT COUNT(*) FROM job');
	diag("sqlite3: $err") if $rc != 0;
	chomp $out;
	return $out;
}
my $pages = test_dir() . '/pages';
mkdir $pages;
chmod 0755, $pages;
write_file("$pages/Nav.wiki", "Navigation: [[Somewhere]]\n");
write_file("$pages/Farm page.wiki", "A page. {{Nav}}\n");
chmod 0644, "$pages/Nav.wiki", "$pages/Farm page.wiki";
for my $n (@names) {
	for my $args (['--prefix', 'Template:', "$pages/Nav.wiki"], ["$pages/Farm page.wiki"],
	    ['--overwrite', '--prefix', 'Template:', "$pages/Nav.wiki"]) {
		my ($rc, $out, $err) = wiki_php($wiki{$n},
		    '/usr/share/mediawiki/maintenance/importTextFiles.php', @$args);
		$rc == 0 or BAIL_OUT("importTextFiles.php on $n: $out$err");
	}
}
cmp_ok(jobs_left($wiki{$_}), '>', 0, "$_: jobs are queued before mwsup starts")
	for @names;

my $port = $first->{port};
my $farm = test_dir() . '/farm.yaml';
my $access = test_dir() . '/access.log';
sub farm_yaml {
	my ($beta_aliases, $alpha_aliases, $reversed) = @_;
	my $site = sub {
		my ($n, @extra) = @_;
		return ("  $n.test:", "    settings: $wiki{$n}{settings}",
		    "    workers: 1", @extra,
		    '    static:', "      /images/: $wiki{$n}{images}");
	};
	# One entry per site, so that a reload can list them in another order.
	my @sites = (join("\n", $site->('alpha', "    aliases: [\"*.x.gamma.test\"$alpha_aliases]")),
	    join("\n", $site->('beta', '    default: true', "    aliases: [$beta_aliases]")),
	    join("\n", $site->('gamma', '    aliases: ["*.gamma.test"]')));
	write_file($farm, join("\n",
	    'listen:', "  - 127.0.0.1:$port",
	    'mediawiki:', '  root: /usr/share/mediawiki', '  short_urls: /wiki/',
	    'pool:', '  workers: 2',
	    # A worker at its limit is replaced by one of its own site.
	    'recycle:', '  max_requests: 12',
	    'php:', "  opcache.file_cache: $first->{dir}/cache/opcache",
	    "temp_dir: $first->{dir}/tmp",
	    'jobs:', '  poll: 0.5', '  chron: 1',
	    'log:', "  access: $access",
	    'user: www-data', 'group: www-data',
	    'sites:', ($reversed ? reverse(@sites) : @sites),
	    '') . "\n");
}
farm_yaml('beta.example.net, Beta.Example.ORG', '');
my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-t', '-c', $farm);
is($rc, 0, 'the farm configuration is valid') or diag("$out$err");

my $srv = start_mwsup($farm);

# GET path with a Host of our choice (HTTP::Tiny will not send one).
sub get {
	my ($host, $path, %opt) = @_;
	my $req = ($opt{method} // 'GET') . " $path HTTP/1.1\r\n" .
	    (defined $host ? "Host: $host\r\n" : '') . "Connection: close\r\n";
	if (defined $opt{body}) {
		$req .= "Content-Type: application/x-www-form-urlencoded\r\n" .
		    'Content-Length: ' . length($opt{body}) . "\r\n";
	}
	$req .= "\r\n" . ($opt{body} // '');
	$req =~ s/ HTTP\/1\.1\r\n/ HTTP\/1.0\r\n/ if !defined $host;
	return parse_response(scalar raw($port, $req, timeout => 60));
}
sub sitename_of {
	my ($r) = @_;
	return ($r->{body} =~ m{<title>(?:[^<]* - )?([^<]*)</title>})[0] // "status $r->{status}";
}
sub site_is {
	my ($host, $want, $desc) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is(sitename_of(get($host, '/wiki/Main_Page')), "Farm \u$want", $desc);
}

# Warm: each site's worker bootstrapped once, with nothing request-derived.
my $booted = () = log_text($srv) =~ /left the same globals/g;
is($booted, 3, 'three workers compared two bootstraps of their site and found them alike');
log_unlike($srv, qr/depends on the request|warm mode off/, 'none is served cold');
# Each worker's own lines name its site; without sites: they do not
# (t0920 matches the plain form).
my %named = map { $_ => 1 } log_text($srv) =~ /site (\w+)\.test: warm mode: .*left the same globals/g;
is_deeply([sort keys %named], [qw(alpha beta gamma)], "each worker's log lines name its site")
	or diag(log_text($srv));

# Alternating hosts: each answer is its own site's, many times over.
my @order = map { $names[$_ % 3] } 0 .. 17;
my @got = map { sitename_of(get("$_.test", '/wiki/Main_Page')) } @order;
is_deeply(\@got, [map { "Farm \u$_" } @order],
    '18 requests alternating three hosts: each answer has its own site\'s name');
my @api = map { (get("$_.test:$port", '/api.php?action=query&meta=siteinfo&format=json')->{body}
    =~ /"sitename":"([^"]*)"/)[0] // '' } @names;
is_deeply(\@api, [map { "Farm \u$_" } @names], 'api.php with a port in the Host: each site\'s siteinfo');

site_is('beta.example.net', 'beta', 'an alias is its site');
site_is('BETA.example.org.', 'beta', 'in any case, with a trailing dot');
site_is('www.gamma.test', 'gamma', 'a "*.gamma.test" wildcard');
site_is('a.b.gamma.test', 'gamma', 'of any depth');
site_is('a.x.gamma.test', 'alpha', 'the longest wildcard wins ("*.x.gamma.test")');
site_is('gamma.test', 'gamma', 'the site\'s own name');
site_is('unknown.example', 'beta', 'an unknown host goes to the default site');
site_is('127.0.0.1', 'beta', 'so does an address');
site_is(undef, 'beta', 'and an HTTP/1.0 request without a Host');

# Uploads: each site's own static prefix.
is(get('alpha.test', '/images/farm.txt')->{body}, "upload of alpha\n", 'alpha.test/images/ is alpha\'s uploads');
is(get('gamma.test', '/images/farm.txt')->{body}, "upload of gamma\n", 'gamma.test/images/ is gamma\'s');
is(get('nowhere.test', '/images/farm.txt')->{body}, "upload of beta\n", 'an unknown host gets the default site\'s');

# An edit on alpha is alpha's only.
my $edit = get('alpha.test', '/api.php', method => 'POST',
    body => form(action => 'edit', title => 'Farm only page', text => 'Written on alpha only.',
	token => '+\\', format => 'json'));
like($edit->{body}, qr/"result":"Success"/, 'an anonymous edit on alpha succeeds')
	or diag(substr($edit->{body}, 0, 500));
like(get('alpha.test', '/wiki/Farm_only_page')->{body}, qr/Written on alpha only\./,
    'alpha shows the new page');
for my $n (qw(beta gamma)) {
	my $r = get("$n.test", '/wiki/Farm_only_page');
	is($r->{status}, 404, "$n has no such page (404)");
	unlike($r->{body}, qr/Written on alpha only/, "$n does not show alpha's text");
}

# Workers at their limit were replaced by workers of their own site.
@got = map { sitename_of(get("$_.test", '/wiki/Main_Page')) } @order;
is_deeply(\@got, [map { "Farm \u$_" } @order], '18 more alternating requests: still each site\'s own');
ok(wait_until(sub { log_text($srv) =~ /replaced by worker/ }, 30), 'workers at recycle.max_requests were replaced');
log_like($srv, qr/worker \d+ \(pid \d+, site (?:alpha|beta|gamma)\.test\): at its limit/,
    'the supervisor names the site of the worker it replaces');
@got = map { sitename_of(get("$_.test", '/wiki/Main_Page')) } @order[0 .. 5];
is_deeply(\@got, [map { "Farm \u$_" } @order[0 .. 5]], 'by workers of their own site');

# One worker per site, each named in status.
sub status_json {
	my ($rc, $out) = run_cmd(mwsup_bin(), 'status', '--json', '--pid', $srv->{pid});
	return eval { decode_json($out) } // {};
}
my %by_site;
wait_until(sub {
	%by_site = ();
	# idle, or running a job slice of its site's queue
	$by_site{$_->{site} . ($_->{state} =~ /^(?:idle|jobs|busy)$/ ? '' : " $_->{state}")}++
	    for @{ status_json()->{slots} // [] };
	keys %by_site == 3 && !grep { $_ != 1 } values %by_site;
}, 30);
is_deeply(\%by_site, { map { ("$_.test" => 1) } @names },
    'mwsup status --json: one worker of each site ("site"), once the replaced ones are gone');
($rc, $out) = run_cmd(mwsup_bin(), 'status', '--prometheus', '--pid', $srv->{pid});
my $gamma = 0;
$gamma += $1 while $out =~ /^mwsup_site_workers\{site="gamma\.test",state="(?:idle|jobs|busy)"\} (\d+)$/mg;
is($gamma, 1, 'Prometheus: mwsup_site_workers{site,state} counts gamma.test\'s worker');
($rc, $out) = run_cmd(mwsup_bin(), 'status', '--pid', $srv->{pid});
like($out, qr/^\d+\s+\d+\s+1\s+(?:idle|jobs|busy)\s.*\balpha\.test\b/m, 'the text status has a site column');

# Each wiki's job queue is emptied, by its own workers.
for my $n (@names) {
	ok(wait_until(sub { jobs_left($wiki{$n}) eq '0' }, 60), "$n: its job queue is run to empty");
}
log_like($srv, qr/running the job queue of each site/, 'the job runner runs each site\'s queue');

# The access log ends with the Host and the site.
wait_until(sub { -s $access && read_file($access) =~ /"a\.x\.gamma\.test" alpha\.test$/m }, 5);
like(read_file($access), qr{"GET /wiki/Main_Page HTTP/1\.1" 200 .* "a\.x\.gamma\.test" alpha\.test$}m,
    'the access log names the Host and the site');

# Reload: beta.example.net moves to alpha, and the sites are listed the
# other way round.  Until the new workers are ready the old ones serve,
# each still its own site (matched by name, not by place in the list).
# A bootstrap made slow (LocalSettings.php runs at a warm worker's
# bootstrap only) keeps the new workers starting for some seconds.
append_settings($wiki{$_}, 'usleep(1500000);') for @names;
my @before = worker_pids($srv);
farm_yaml('Beta.Example.ORG', ', beta.example.net', 1);
kill 'HUP', $srv->{pid};
ok(wait_until(sub { log_text($srv) =~ /reload: starting generation 2/ }, 10), 'SIGHUP starts generation 2');
@got = map { sitename_of(get("$_.test", '/wiki/Main_Page')) } @order[0 .. 5];
unlike(log_text($srv), qr/generation 2 ready/, 'these were answered before the new workers were ready');
is_deeply(\@got, [map { "Farm \u$_" } @order[0 .. 5]],
    'by the old workers, each its own site\'s: matched by name, not by place');
ok(wait_until(sub { log_text($srv) =~ /generation 2 ready/ }, 60), 'the reload\'s workers are ready');
wait_until(sub { my @p = worker_pids($srv); @p == 3 && !grep { my $o = $_; grep { $_ == $o } @p } @before }, 20);
site_is('beta.example.net', 'alpha', 'after the reload, the moved alias is alpha\'s');
site_is('beta.example.org', 'beta', 'the alias left in place is still beta\'s');
@got = map { sitename_of(get("$_.test", '/wiki/Main_Page')) } @order[0 .. 8];
is_deeply(\@got, [map { "Farm \u$_" } @order[0 .. 8]], 'and alternating hosts still get their own sites');
is_deeply([sort map { $_->{site} } grep { $_->{generation} == 2 } @{ status_json()->{slots} // [] }],
    [map { "$_.test" } @names], 'the new generation has one worker per site');

log_unlike($srv, qr/PHP (?:Warning|Fatal)|recycling|failed/, 'no PHP warning, recycling or failure');
stopped_cleanly($srv);
done_testing();
