#!/usr/bin/perl
# A whole editing session through mwsup: log in through the action API
# (session cookies set and sent back), get a CSRF token, edit a page, and
# see the new text from a fresh, anonymous client, both as the rendered page
# and as the stored revision.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 2);
my $srv = start_mwsup($w->{config});
my $jar = cookie_jar();

# api(method, %params): one API call in the logged-in session.
sub api { MwTest::api($jar, @_) }

my ($j, $r) = api(GET => action => 'query', meta => 'tokens', type => 'login');
my $login_token = $j->{query}{tokens}{logintoken} // '';
like($login_token, qr/\+\\$/, 'api.php hands out a login token');
ok(scalar(@{ $r->{headers}{'set-cookie'} }), 'and sets a session cookie with it');

($j) = api(POST => action => 'clientlogin', username => $w->{admin_user},
    password => $w->{admin_pass}, logintoken => $login_token,
    loginreturnurl => "http://127.0.0.1:$w->{port}/");
is($j->{clientlogin}{status}, 'PASS', 'clientlogin with the admin password succeeds')
	or diag(explain($j));

($j) = api(GET => action => 'query', meta => 'userinfo');
is($j->{query}{userinfo}{name}, $w->{admin_user}, 'the session is now the admin\'s');
ok(!exists $j->{query}{userinfo}{anon}, 'and is not anonymous');

($j) = api(GET => action => 'query', meta => 'tokens', type => 'csrf');
my $csrf = $j->{query}{tokens}{csrftoken} // '';
like($csrf, qr/^[0-9a-f]{32,}\+\\$/, 'a logged-in session gets a real CSRF token');

my $title = sprintf('Mwsup edit test %d %d', time, $$);
my $text = sprintf('mwsup-edit-%08x%08x was here.', int(rand(2**32)), int(rand(2**32)));
($j) = api(POST => action => 'edit', title => $title, text => "$text\n\n== Section ==\nMore.",
    summary => 'test edit', token => $csrf);
is($j->{edit}{result}, 'Success', 'action=edit saves the page');
ok(exists $j->{edit}{new}, 'as a new page');

(my $url_title = $title) =~ tr/ /_/;
$r = http(GET => "/wiki/$url_title");
subtest 'a new client without cookies sees the edited page' => sub {
	is($r->{status}, 200, 'status 200');
	like($r->{body}, qr/\Q$text\E/, 'the body has the new text');
	like($r->{body}, qr{<title>\Q$title\E - \Q$w->{sitename}\E</title>}, 'the title is the page\'s');
	like($r->{body}, qr/id="Section"/, 'the wikitext was rendered (the heading has its anchor)');
	is(scalar(@{ $r->{headers}{'set-cookie'} }), 0, 'an anonymous page view sets no cookie');
	unlike($r->{body}, qr/"wgUserName":"\Q$w->{admin_user}\E"/, 'and is not shown as the admin');
};

$r = http(GET => '/api.php?' . form(action => 'query', prop => 'revisions',
    titles => $title, rvprop => 'content|user|comment', rvslots => 'main',
    format => 'json', formatversion => 2));
my $rev = eval { decode_json($r->{body})->{query}{pages}[0]{revisions}[0] } // {};
subtest 'the API shows the stored revision' => sub {
	is($rev->{user}, $w->{admin_user}, 'made by the admin');
	is($rev->{comment}, 'test edit', 'with the summary');
	like($rev->{slots}{main}{content} // '', qr/^\Q$text\E/, 'with the new wikitext');
};

$r = http(GET => '/api.php?action=query&meta=userinfo&format=json');
like($r->{body}, qr/"anon"/, 'an API request without the session cookie is anonymous');

($j) = api(POST => action => 'edit', title => $title, appendtext => "\nAppended.",
    token => '+\\');
is($j->{error}{code}, 'badtoken', 'an edit with the anonymous token is refused');

stopped_cleanly($srv);

done_testing();
