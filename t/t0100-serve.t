#!/usr/bin/perl
# mwsup serves a MediaWiki: pages through short URLs and index.php, the
# action API, ResourceLoader's JavaScript and CSS, HEAD, MediaWiki's own 404
# for a missing article, and keep-alive connections.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 2);
my $srv = start_mwsup($w->{config});
my $site = $w->{sitename};

my $r = http(GET => '/wiki/Main_Page');
subtest 'GET /wiki/Main_Page shows the wiki\'s Main Page' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{headers}{'content-type'}, qr{^text/html\b}, 'content-type text/html');
	like($r->{body}, qr/<html/, 'the body is an HTML document');
	like($r->{body}, qr{<title>\Q$site\E</title>},
	    'the title is the wiki\'s name (as for any main page)');
	like($r->{body}, qr/MediaWiki has been installed/,
	    'the body has the Main Page text');
	like($r->{body}, qr{</html>\s*\z}, 'the document is complete');
};

$r = http(GET => '/');
subtest 'GET / leads to the Main Page' => sub {
	if ($r->{status} == 200) {
		like($r->{body}, qr/MediaWiki has been installed/, '200 with the Main Page');
	} else {
		like($r->{status}, qr/^30[12]$/, 'a 301 or 302 redirect');
		like($r->{headers}{location} // '', qr{/wiki/Main_Page$},
		    'Location is the Main Page');
	}
};

$r = http(GET => '/index.php?title=Main_Page');
subtest 'GET /index.php?title=Main_Page shows the Main Page' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{body}, qr{<title>\Q$site\E</title>}, 'the Main Page title');
	like($r->{body}, qr/MediaWiki has been installed/, 'the Main Page text');
};

$r = http(GET => '/api.php?action=query&meta=siteinfo&format=json');
subtest 'api.php answers a siteinfo query in JSON' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{headers}{'content-type'}, qr{^application/json\b}, 'content-type application/json');
	my $j = eval { decode_json($r->{body}) };
	ok($j, 'the body is JSON') or diag($@);
	is($j && $j->{query}{general}{sitename}, $site, 'query.general.sitename is the wiki\'s name');
	is($j && $j->{query}{general}{server}, "http://127.0.0.1:$w->{port}",
	    'query.general.server is the wiki\'s address');
};

$r = http(GET => '/load.php?modules=startup&only=scripts&raw=1&skin=vector');
subtest 'load.php serves the startup module as JavaScript' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{headers}{'content-type'}, qr{^text/javascript\b}, 'content-type text/javascript');
	like($r->{body}, qr/mw\.loader|mediaWikiLoadStart|RLQ/, 'the body is the loader script');
};

$r = http(GET => '/load.php?modules=skins.vector.styles&only=styles&skin=vector');
subtest 'load.php serves a skin\'s styles as CSS' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{headers}{'content-type'}, qr{^text/css\b}, 'content-type text/css');
	like($r->{body}, qr/\{[^}]*:[^}]*\}/, 'the body has CSS rules');
};

$r = http(GET => '/rest.php/v1/page/Main_Page');
subtest 'rest.php serves the page through the REST API' => sub {
	is($r->{status}, 200, 'status 200');
	my $j = eval { decode_json($r->{body}) };
	is($j && $j->{title}, 'Main Page', 'the JSON names the page');
};

$r = http(HEAD => '/wiki/Main_Page');
subtest 'HEAD /wiki/Main_Page gives the status and headers, no body' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{headers}{'content-type'}, qr{^text/html\b}, 'content-type text/html');
	is($r->{body}, '', 'no body');
};
# HTTP::Tiny does not read a body after HEAD, so check the bytes too.
my $head = raw($w->{port}, "HEAD /wiki/Main_Page HTTP/1.1\r\nHost: 127.0.0.1:$w->{port}\r\n" .
    "Connection: close\r\n\r\n");
like($head // '', qr{\AHTTP/1\.1 200 [^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n\z},
    'the raw HEAD response is a head and nothing after it');

$r = http(GET => '/wiki/No_such_page_here');
subtest 'a missing article is MediaWiki\'s 404 page' => sub {
	is($r->{status}, 404, 'status 404');
	like($r->{body}, qr/There is currently no text in this page/,
	    'the body is MediaWiki\'s "no text" page');
};

my $ua = HTTP::Tiny->new(keep_alive => 1, max_redirect => 0, timeout => 30);
my $r1 = http(GET => '/wiki/Main_Page', undef, undef, { ua => $ua });
my $port1 = eval { $ua->{handle}{fh}->sockport };
my $r2 = http(GET => '/api.php?action=query&meta=siteinfo&format=json', undef, undef, { ua => $ua });
my $port2 = eval { $ua->{handle}{fh}->sockport };
subtest 'two requests on one keep-alive connection both succeed' => sub {
	is($r1->{status}, 200, 'the first request gets 200');
	is($r2->{status}, 200, 'the second request gets 200');
	like($r2->{body}, qr/"sitename":"\Q$site\E"/, 'the second answer is its own');
	SKIP: {
		skip 'HTTP::Tiny does not expose its connection', 1
			unless defined $port1 && defined $port2;
		is($port2, $port1, 'the second request went over the same connection');
	}
};

# A pipelined pair in one write: both answered, in order.
my $pipe = raw($w->{port},
    "GET /api.php?action=query&meta=siteinfo&format=json HTTP/1.1\r\nHost: 127.0.0.1:$w->{port}\r\n\r\n" .
    "GET /wiki/Main_Page HTTP/1.1\r\nHost: 127.0.0.1:$w->{port}\r\nConnection: close\r\n\r\n",
    timeout => 30);
my $first = parse_response($pipe);
my $len = $first->{headers}{'content-length'} // 0;
my $second = parse_response(substr($first->{body}, $len));
subtest 'two pipelined requests get two answers, in order' => sub {
	is($first->{status}, 200, 'the first gets 200');
	like(substr($first->{body}, 0, $len), qr/"sitename":"\Q$site\E"/,
	    'the first answer (its Content-Length long) is the API result');
	is($second->{status}, 200, 'the second gets 200 right after it');
	like($second->{body}, qr/MediaWiki has been installed/, 'and is the Main Page');
};

$r = http(GET => '/wiki/Help:Contents');
subtest 'a page in another namespace is found through the short URL' => sub {
	is($r->{status}, 404, 'status 404 (the page does not exist yet)');
	like($r->{body}, qr{<title>Help:Contents - \Q$site\E</title>},
	    'the title names the page and the wiki');
};

# A body larger than a control message goes to the worker in a memfd.
my $words = 'mwsupword ' x 20000;
$r = http(POST => '/api.php', { 'Content-Type' => 'application/x-www-form-urlencoded' },
    form(action => 'parse', format => 'json', contentmodel => 'wikitext', text => $words));
is($r->{status}, 200, 'a 200 KB form POST to api.php is answered');
my $parsed = eval { decode_json($r->{body}) } // {};
is(() = ($parsed->{parse}{text}{'*'} // '') =~ /mwsupword/g, 20000, 'and api.php parsed all of its text');

stopped_cleanly($srv);

done_testing();
