#!/usr/bin/perl
# The page cache (mw.yaml: cache): mwsup keeps what anonymous readers get
# and MediaWiki, with $wgUseCdn and $wgCdnServers naming mwsup (as
# tools/mkwiki sets them), purges it on every edit.  A second anonymous
# view is a hit; an edit shows at once; a template edit reaches the pages
# that use it once its jobs ran; a logged-in reader never gets, nor
# leaves, a cached page; PURGE from an address not allowed is refused;
# the size bound holds under a flood of URLs; entries survive a reload
# and a restart starts empty.  Range is answered from an entry; the
# scheme a trusted proxy names is part of the key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use IO::Socket::IP;
use JSON::PP;
use Test::More;
use MwTest;

my $size = 256 * 1024;
# 127.0.0.1 is a trusted proxy (its X-Forwarded-Proto is believed);
# 127.0.0.2 is not.
my $w = wiki('cache.size' => '256K', 'cache.max_entry' => '64K',
    'cache.purge_allow' => ['127.0.0.1/32'],
    'proxy.trusted' => ['127.0.0.1/32']);
# ?mwsup_test_sleep=N: the page takes N more seconds to make.
append_settings($w, <<'EOF');
$mwsupTestSleep = static function () {
	if ( isset( $_GET['mwsup_test_sleep'] ) ) {
		sleep( (int)$_GET['mwsup_test_sleep'] );
	}
};
$wgHooks['BeforeInitialize'][] = $mwsupTestSleep;
$wgHooks['ApiBeforeMain'][] = $mwsupTestSleep;
EOF
my $access = "$w->{dir}/access.log";
set_yaml($w, 'log.access' => $access);
my $srv = start_mwsup($w->{config});
my $host = "127.0.0.1:$w->{port}";

sub status_json {
	my (undef, $out) = run_cmd(mwsup_bin(), 'status', '-c', $w->{config},
	    '--json');
	return eval { decode_json($out) } // {};
}

# Anonymous views go on one kept-alive connection: mwsup reads the next
# request on it only once the worker handed the connection back, with the
# copy of its answer for the cache; a new connection could come first.
my $ua = HTTP::Tiny->new(keep_alive => 1, max_redirect => 0, timeout => 60);
sub view {
	my ($path, $opt) = @_;
	return http(GET => $path, undef, undef, $opt // { ua => $ua });
}

sub xcache { $_[0]{headers}{'x-cache'} // '(none)' }

# Wait until the jobs an edit queued have run: they purge pages too (links
# updates), and a purge that comes while a miss is rendered keeps that
# answer out of the cache, as it must.
my $jobdb = "$w->{dir}/data/my_wiki_jobqueue.sqlite";
sub settle {
	wait_until(sub {
		my (undef, $n) = run_cmd('sqlite3', '-readonly', '-cmd',
		    '.timeout 10000', $jobdb, 'SELECT COUNT(*) FROM job');
		chomp $n;
		$n eq '0';
	}, 60) or diag('jobs still queued after 60 s');
}

# --- a second anonymous view is a hit ------------------------------------
my $r1 = view('/wiki/Main_Page');
my $r2 = view('/wiki/Main_Page');
is($r1->{status}, 200, 'Main Page: 200');
is(xcache($r1), 'miss', 'the first anonymous view is a miss');
is(xcache($r2), 'hit', 'the second is a hit');
like($r2->{headers}{age} // '', qr/^\d+$/, 'a hit carries Age');
is($r2->{body}, $r1->{body}, 'with the same page');
my $st = status_json();
ok($st->{cache_hits} >= 1 && $st->{cache_entries} >= 1,
    'status counts the hit and the entry')
	or diag(explain($st));

my $r = http(HEAD => '/wiki/Main_Page', undef, undef, { ua => $ua });
is(xcache($r), 'hit', 'HEAD is answered from the GET entry');
is($r->{headers}{'content-length'}, length($r1->{body}),
    'with the length of the stored body');

SKIP: {
	my $lm = $r1->{headers}{'last-modified'};
	skip('no Last-Modified on the page', 1) unless $lm;
	$r = http(GET => '/wiki/Main_Page', { 'If-Modified-Since' => $lm });
	is("$r->{status} " . xcache($r), '304 hit',
	    'a conditional request gets 304 from the entry');
}

# --- Range from an entry (one byte range; the body as stored) -----------
my $len = length($r1->{body});
$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=0-99' });
is("$r->{status} " . xcache($r), '206 hit', 'a byte range is answered 206 from the entry');
is($r->{headers}{'content-range'}, "bytes 0-99/$len", 'with its Content-Range');
is($r->{body}, substr($r1->{body}, 0, 100), 'and those bytes of the page');
$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=-50' });
is("$r->{status} $r->{headers}{'content-range'}", "206 bytes " . ($len - 50)
    . '-' . ($len - 1) . "/$len", 'a suffix range: the last 50 bytes');
is($r->{body}, substr($r1->{body}, -50), 'with those bytes');
$r = http(GET => '/wiki/Main_Page', { Range => "bytes=10-$len" });
is("$r->{status} $r->{headers}{'content-range'} " . length($r->{body}),
    "206 bytes 10-" . ($len - 1) . "/$len " . ($len - 10),
    'a range past the end is cut at the end');
$r = http(GET => '/wiki/Main_Page', { Range => "bytes=$len-" });
is("$r->{status} " . xcache($r) . ' ' . ($r->{headers}{'content-range'} // ''),
    "416 hit bytes */$len", 'a range that starts past the end: 416');
is($r->{body}, '', 'without a body');
$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=0-1,5-6' });
is("$r->{status} " . length($r->{body}), "200 $len",
    'several ranges: the whole page (200)');
$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=0-9',
    'If-Range' => 'Thu, 01 Jan 1970 00:00:00 GMT' });
is("$r->{status} " . length($r->{body}), "200 $len",
    'If-Range with another date: the whole page');
SKIP: {
	my $lm = $r1->{headers}{'last-modified'};
	skip('no Last-Modified on the page', 1) unless $lm;
	$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=0-9',
	    'If-Range' => $lm });
	is("$r->{status} $r->{body}", '206 ' . substr($r1->{body}, 0, 10),
	    'If-Range with the entry\'s Last-Modified: the range');
}
# The same bound on the header as for a file (static.h): one range in a
# 1 KB header (empty list members) is a part, a header over 2 KB the whole.
$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=0-9' . (',' x 1000) });
is("$r->{status} $r->{body}", '206 ' . substr($r1->{body}, 0, 10),
    'one range in a 1 KB Range header: the range');
$r = http(GET => '/wiki/Main_Page', { Range => 'bytes=0-9' . (',' x 2100) });
is("$r->{status} " . length($r->{body}), "200 $len",
    'a Range header over 2 KB: the whole page');
$r = http(HEAD => '/wiki/Main_Page', { Range => 'bytes=0-99' });
is("$r->{status} $r->{headers}{'content-length'}", '206 100',
    'HEAD with a range: 206, the length of the part');

# --- an edit shows at once -------------------------------------------------
my $jar = cookie_jar();
my ($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens',
    type => 'login');
($j) = MwTest::api($jar, POST => action => 'clientlogin',
    username => $w->{admin_user}, password => $w->{admin_pass},
    logintoken => $j->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://$host/");
is($j->{clientlogin}{status}, 'PASS', 'the admin logs in');
($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens',
    type => 'csrf');
my $csrf = $j->{query}{tokens}{csrftoken} // '';

sub edit {
	my ($title, $text) = @_;
	my ($e) = MwTest::api($jar, POST => action => 'edit', title => $title,
	    text => $text, token => $csrf);
	return $e->{edit}{result} // 'failed';
}

my $tag = sprintf('%08x', int(rand(2**32)));
is(edit('Cache test page', "first-$tag"), 'Success', 'a page is made');
settle();
view('/wiki/Cache_test_page');
$r = view('/wiki/Cache_test_page');
is(xcache($r), 'hit', 'its second anonymous view is a hit');
like($r->{body}, qr/first-$tag/, 'with its text');
is(edit('Cache test page', "second-$tag"), 'Success', 'the page is edited');
$r = view('/wiki/Cache_test_page');
like($r->{body}, qr/second-$tag/, 'the next anonymous view shows the edit');
unlike($r->{body}, qr/first-$tag/, 'not the old text');
is(xcache($r), 'miss', 'as the purge emptied the entry');

# --- a template edit, once its jobs ran ---------------------------------
is(edit('Template:Cache test', "tpl-one-$tag"), 'Success', 'a template is made');
is(edit('Cache test user', "Uses {{Cache test}}."), 'Success',
    'a page transcludes it');
settle();
view('/wiki/Cache_test_user');
$r = view('/wiki/Cache_test_user');
is(xcache($r), 'hit', 'the transcluding page is cached');
like($r->{body}, qr/tpl-one-$tag/, 'with the template\'s text');
# MediaWiki compares its parser cache's time with page_touched in whole
# seconds: a template edit in the second the page was parsed leaves that
# parse current (without any CDN too).
select(undef, undef, undef, 1.2);
is(edit('Template:Cache test', "tpl-two-$tag"), 'Success',
    'the template is edited');
my $fresh = wait_until(sub {
	view('/wiki/Cache_test_user')->{body} =~ /tpl-two-$tag/ }, 60);
ok($fresh, 'the transcluding page shows the new template text once its jobs ran');

# --- logged-in readers -------------------------------------------------------
settle();
my $name = $w->{admin_user};
my $seen_hit = 0;
for my $p ('/wiki/Main_Page', '/wiki/Cache_test_page', '/wiki/Main_Page') {
	my $u = view($p, { jar => $jar });
	$seen_hit++ if xcache($u) eq 'hit';
	like($u->{body}, qr/"wgUserName":"\Q$name\E"/,
	    "the admin sees $p as himself");
	is(xcache($u), 'pass', "and is passed by the cache ($p)");
}
is($seen_hit, 0, 'a logged-in reader never gets a cached page');
for my $p ('/wiki/Main_Page', '/wiki/Cache_test_page') {
	view($p);
	my $a = view($p);
	is(xcache($a), 'hit', "the anonymous entry of $p is there");
	unlike($a->{body}, qr/"wgUserName":"\Q$name\E"/,
	    'and holds nothing of the logged-in user');
}
$r = http(GET => '/wiki/Main_Page', { Authorization => 'Basic eDp5' });
is(xcache($r), 'pass', 'a request with Authorization passes');

# --- PURGE from an address not allowed -----------------------------------
sub purge_from {
	my ($local, $path) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
	    PeerPort => $w->{port}, LocalHost => $local, Proto => 'tcp',
	    Timeout => 10) or return "connect: $!";
	print $s "PURGE http://$host$path HTTP/1.1\r\nHost: $host\r\n"
	    . "Connection: close\r\n\r\n";
	local $/;
	my $ans = <$s> // '';
	return $ans =~ m{^HTTP/1\.1 (\d+)} ? $1 : "no answer: $ans";
}
view('/wiki/Cache_test_page');
is(purge_from('127.0.0.2', '/wiki/Cache_test_page'), 403,
    'PURGE from 127.0.0.2 (not in cache.purge_allow) is refused');
is(xcache(view('/wiki/Cache_test_page')), 'hit', 'and purges nothing');
is(purge_from('127.0.0.1', '/wiki/Cache_test_page'), 200,
    'PURGE from 127.0.0.1 is accepted');
is(xcache(view('/wiki/Cache_test_page')), 'miss', 'and empties the entry');
like(log_text($srv), qr/PURGE refused to 127\.0\.0\.2/, 'the refusal is logged');

# --- a purge while a miss is being made -------------------------------------
my $slow = '/wiki/Main_Page?mwsup_test_sleep=2';
my $misses = status_json()->{cache_misses};
my $s = raw_begin($w->{port}, "GET $slow HTTP/1.1\r\nHost: $host\r\n"
    . "Connection: close\r\n\r\n");
ok(wait_until(sub { status_json()->{cache_misses} > $misses }, 10),
    'a slow page is being made (a miss)');
is(purge_from('127.0.0.1', $slow), 200, 'its URL is purged meanwhile');
my $ans = parse_response(raw_end($s));
is("$ans->{status} " . xcache($ans), '200 miss', 'the slow page is answered');
is(xcache(view($slow)), 'miss',
    'and was not stored: the purge came after it was begun');
is(xcache(view($slow)), 'hit', 'the next answer for it is stored');
# (the line is written once the answer is sent: the client may be first)
ok(wait_until(sub { read_file($access) =~
    qr{"GET /wiki/Main_Page\?mwsup_test_sleep=2 HTTP/1\.1" 200 .* hit\n} }, 5),
    'the access log line of a hit ends in "hit"');

# --- concurrent misses for one URL go to one worker --------------------------
sub at_once {
	my ($path, $n) = @_;
	my @s = map { raw_begin($w->{port}, "GET $path HTTP/1.1\r\n"
	    . "Host: $host\r\nConnection: close\r\n\r\n") } 1 .. $n;
	return map { parse_response(raw_end($_)) } @s;
}
my $co = '/wiki/Main_Page?mwsup_test_sleep=2&co=1';
my $b = status_json();
my @a = at_once($co, 3);
is(join(', ', sort map { "$_->{status} " . xcache($_) } @a),
    '200 hit, 200 hit, 200 miss',
    'three requests at once for a page not cached: one miss, two hits');
is(scalar(grep { $_->{body} eq $a[0]{body} } @a), 3, 'all three get the page');
$st = status_json();
is($st->{cache_coalesced} - $b->{cache_coalesced}, 2,
    'two waited for the first one\'s answer');
is($st->{cache_misses} - $b->{cache_misses}, 1, 'one went to a worker');

my $api = '/api.php?action=query&meta=siteinfo&format=json&mwsup_test_sleep=1';
$b = status_json();
@a = at_once($api, 2);
is(join(', ', map { "$_->{status} " . xcache($_) } @a), '200 miss, 200 miss',
    'two at once for an answer no cache may keep: each from a worker');
like($_->{body}, qr/"sitename"/, 'with the API\'s answer') for @a;
is(status_json()->{cache_coalesced} - $b->{cache_coalesced}, 1,
    'the second waited for the first once');
$b = status_json();
@a = at_once($api, 2);
is(join(', ', map { $_->{status} } @a), '200, 200', 'two more at once');
is(status_json()->{cache_coalesced} - $b->{cache_coalesced}, 0,
    'do not wait: the URL is marked as not stored');

# --- the scheme is part of the key ----------------------------------------
# A trusted proxy's X-Forwarded-Proto: https makes the request https, to
# mwsup and MediaWiki alike: its answer is never given for http, nor an
# http one for https.  From a peer not trusted, the header is dropped
# before PHP and the request is http.
sub get_from {
	my ($local, $path, $extra) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
	    PeerPort => $w->{port}, LocalHost => $local, Proto => 'tcp',
	    Timeout => 10) or return { status => "connect: $!" };
	print $s "GET $path HTTP/1.1\r\nHost: $host\r\n$extra"
	    . "Connection: close\r\n\r\n";
	local $/;
	return parse_response(<$s> // '');
}
my %https = ('X-Forwarded-Proto' => 'https');
my $sp = '/wiki/Main_Page?scheme=1';
is(xcache(http(GET => $sp, \%https, undef, { ua => $ua })), 'miss',
    'https (from a trusted proxy): a miss');
is(xcache(http(GET => $sp, \%https, undef, { ua => $ua })), 'hit',
    'https again: a hit');
is(xcache(view($sp)), 'miss', 'http: not the https entry');
is(xcache(view($sp)), 'hit', 'http again: its own entry');
is(xcache(get_from('127.0.0.2', $sp, "X-Forwarded-Proto: https\r\n")), 'hit',
    'X-Forwarded-Proto from a peer not trusted: the http entry');
my $sp2 = '/wiki/Main_Page?scheme=2';
view($sp2);
is(xcache(view($sp2)), 'hit', 'another URL, stored for http');
is(xcache(http(GET => $sp2, \%https, undef, { ua => $ua })), 'miss',
    'asked for by https: not served the http entry');
$b = status_json();
$r = get_from('127.0.0.2', '/wiki/Main_Page?scheme=3', '');
is(xcache($r), 'miss', 'http from 127.0.0.2 (stored)');
set_yaml($w, 'proxy.trusted' => []);
kill 'HUP', $srv->{pid};
ok(wait_until(sub { (status_json()->{generation} // 0) > $b->{generation} }, 60),
    'reloaded with no trusted proxy (X-Forwarded-Proto goes to PHP as sent)');
is(xcache(http(GET => '/wiki/Main_Page?scheme=3', \%https)), 'pass',
    'then a request with X-Forwarded-Proto: https, which MediaWiki believes '
    . 'and mwsup does not, is passed');
ok(status_json()->{cache_pass_scheme} > $b->{cache_pass_scheme},
    'and counted as such');
set_yaml($w, 'proxy.trusted' => ['127.0.0.1/32']);
my $g = status_json()->{generation};
kill 'HUP', $srv->{pid};
ok(wait_until(sub { (status_json()->{generation} // 0) > $g }, 60),
    'reloaded with the trusted proxy again');

# --- a flood of URLs stays within the bound ----------------------------------
# A page of some 50 KB, asked under many URLs: each answer is stored and
# pushes older ones out.  Once the cache is full, more URLs must not grow
# the supervisor's memory by much more than cache.size.
is(edit('Cache flood page', join("\n\n", map { "Paragraph $_ " . ('lorem ipsum ' x 30) }
    1 .. 70)), 'Success', 'a large page is made');
settle();
sub rss_kb {
	my ($kb) = read_file("/proc/$srv->{pid}/status") =~ /^VmRSS:\s+(\d+) kB/m;
	return $kb // 0;
}
my $flen = length(view('/wiki/Cache_flood_page?flood=0')->{body});
cmp_ok($flen, '>', 40000, "its page is large ($flen bytes)");
my $before = status_json();
view("/wiki/Cache_flood_page?flood=$_") for 1 .. 20;	# the cache is full
my $rss0 = rss_kb();
my $nflood = 100;
view("/wiki/Cache_flood_page?flood=$_") for 21 .. 20 + $nflood;
my $rss1 = rss_kb();
$st = status_json();
diag("supervisor VmRSS $rss0 kB before $nflood more URLs of $flen bytes, $rss1 kB after");
ok($st->{cache_bytes} <= $size, 'after ' . (20 + $nflood) . ' URLs the entries take '
    . "$st->{cache_bytes} bytes, within cache.size $size");
cmp_ok($st->{cache_stored} - $before->{cache_stored}, '>=', 20 + $nflood,
    'each answer was stored');
ok($st->{cache_evictions} > $before->{cache_evictions},
    'older entries were evicted for them');
SKIP: {
	skip('RSS is not meaningful under AddressSanitizer (its quarantine '
	    . 'keeps freed memory)', 1) if build_dir() =~ /asan/;
	my $bound = 1024 + 2 * $size / 1024;
	cmp_ok($rss1 - $rss0, '<', $bound, 'the supervisor\'s memory grew by '
	    . ($rss1 - $rss0) . " kB for " . int($nflood * $flen / 1024)
	    . " kB of answers (bound $bound kB)");
}
is($st->{cache_size}, $size, 'status shows the bound');
my $newest = '/wiki/Cache_flood_page?flood=' . (20 + $nflood);
is(xcache(view($newest)), 'hit', 'the newest is kept');

# --- an answer over max_entry is never kept ---------------------------------
# Nor copied by the worker, which tells the supervisor so: it is counted
# as not stored.  A worker writes each copy over its last one in the same
# file: a smaller answer after larger ones (the flood's) is kept whole, no
# longer.
is(edit('Cache big page', join("\n\n", map { "Paragraph $_ " . ('dolor sit amet ' x 40) }
    1 .. 150)), 'Success', 'a page larger than cache.max_entry is made');
settle();
for my $round (1 .. 3) {
	my $pre = status_json();
	my $b1 = view("/wiki/Cache_big_page?big=$round");
	my $b2 = view("/wiki/Cache_big_page?big=$round");
	cmp_ok(length($b1->{body}), '>', 64 * 1024,
	    "round $round: the big page is larger than 64K ("
	    . length($b1->{body}) . ' bytes)');
	is(xcache($b1) . ' ' . xcache($b2), 'miss miss',
	    'it is a miss each time');
	# the same page but for what MediaWiki makes anew for each request
	my $norm = sub {
		$_[0] =~ s/"(wgRequestId|wgBackendResponseTime)":("\w+"|\d+)/$1/gr
	};
	ok($norm->($b2->{body}) eq $norm->($b1->{body}),
	    'and answered whole each time');
	is(status_json()->{cache_not_stored} - $pre->{cache_not_stored}, 2,
	    'both counted as not stored');
	my $url = "/wiki/Main_Page?after_big=$round";
	my $m = view($url);
	my $h = view($url);
	is(xcache($m) . ' ' . xcache($h), 'miss hit',
	    'a smaller page after it is stored');
	is($h->{headers}{'content-length'}, length($m->{body}),
	    'its hit has the length of the page');
	is($h->{body}, $m->{body}, 'and the same bytes');
}

# Connections kept alive after a large hit do not each keep a buffer of
# its size: many readers idle between pages cost no cache.size apiece.
sub hit_kept_open {
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
	    PeerPort => $w->{port}, Proto => 'tcp', Timeout => 10) or return;
	print $s "GET $newest HTTP/1.1\r\nHost: $host\r\n\r\n";
	my $buf = '';
	while (index($buf, "\r\n\r\n") < 0) {
		sysread($s, $buf, 65536, length $buf) or last;
	}
	my ($len) = $buf =~ /\r\nContent-Length: (\d+)\r\n/i;
	my $want = index($buf, "\r\n\r\n") + 4 + ($len // 0);
	while (length($buf) < $want) {
		sysread($s, $buf, 65536, length $buf) or last;
	}
	return ($s, $buf);
}
my $nconn = 60;
$rss0 = rss_kb();
my (@open, $full);
for (1 .. $nconn) {
	my ($s, $ans) = hit_kept_open();
	push @open, $s if $s;
	my ($h, $body) = split /\r\n\r\n/, $ans // '', 2;
	$full++ if $s && $h =~ /^HTTP\/1\.1 200 / && $h =~ /\r\nX-Cache: hit\r\n/
	    && $h =~ /\r\nContent-Length: (\d+)/ && length($body) == $1
	    && $1 > 40000;
}
$rss1 = rss_kb();
is($full, $nconn, "$nconn connections got the large page from the cache, kept open");
SKIP: {
	skip('RSS is not meaningful under AddressSanitizer', 1)
	    if build_dir() =~ /asan/;
	# a connection costs some 30 kB here, its output buffer kept after
	# the answer 20 kB more (the pages of a 64 kB one it touched)
	cmp_ok($rss1 - $rss0, '<', 40 * $nconn, 'the supervisor grew by '
	    . ($rss1 - $rss0) . " kB with them, under 40 kB each (their "
	    . 'answers: ' . int($nconn * $flen / 1024) . ' kB)');
}
close($_) for @open;

# --- a reload keeps the entries; a restart starts empty ----------------
view('/wiki/Main_Page');
is(xcache(view('/wiki/Main_Page')), 'hit', 'Main Page is cached');
my $gen = status_json()->{generation};
kill 'HUP', $srv->{pid};
ok(wait_until(sub { (status_json()->{generation} // 0) > $gen }, 60),
    'a reload starts a new generation');
is(xcache(view('/wiki/Main_Page')), 'hit', 'the entry survives the reload');

stop_mwsup($srv);
$srv = start_mwsup($w->{config});
$ua = HTTP::Tiny->new(keep_alive => 1, max_redirect => 0, timeout => 60);
is(xcache(view('/wiki/Main_Page')), 'miss', 'after a restart the cache is empty');

stopped_cleanly($srv);
done_testing();
