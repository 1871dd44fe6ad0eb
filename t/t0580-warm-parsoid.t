#!/usr/bin/perl
# A class first loaded by a request keeps, for the requests after it, the
# statics its file's own code gave it, as a new PHP process loading the
# file would: Parsoid's Consts.php fills its tables (Consts::init()) when
# it is loaded, and a warm worker that set them back to their declared
# null after the first Parsoid request parsed "== h2 ==" into a heading
# " h2 " between empty paragraphs and wrote <meta ...></meta>.  Parsoid's
# REST routes (core's development routes) are compared with a second mwsup
# serving the same wiki cold, each request several times in one worker.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
my $probe = "$w->{dir}/MwsupLoadProbe.php";
write_file($probe, <<'PHP');
<?php
// Loaded by a request, never by the bootstrap; the code below the class
// runs once, as the file is loaded.
class MwsupLoadProbe {
	public static $table = null;
	public static $count = 0;
}
MwsupLoadProbe::$table = [ 'set' => 'by the file' ];
MwsupLoadProbe::$count = 10;
PHP
append_settings($w, <<"PHP");
\$wgRestAPIAdditionalRouteFiles = [ 'includes/Rest/coreDevelopmentRoutes.json' ];
\$wgAutoloadClasses['MwsupLoadProbe'] = '$probe';
\$wgHooks['BeforePageDisplay'][] = static function ( \$out ) {
	if ( \$out->getRequest()->getVal( 'probe' ) ) {
		\$out->addMeta( 'mwsup-table', MwsupLoadProbe::\$table['set'] ?? 'null' );
		\$out->addMeta( 'mwsup-count', (string)++MwsupLoadProbe::\$count );
		MwsupLoadProbe::\$table['set'] = 'by a request';
	}
};
PHP
my $warm = start_mwsup($w->{config});
my $cold = start_mwsup(cold_config($w));

# The mechanism, on a class of the test's own.
for my $n (1 .. 3) {
	my $r = http(GET => '/index.php?title=Main_Page&probe=1', undef, undef,
	    { port => $warm->{port} });
	my %meta = $r->{body} =~ /<meta name="(mwsup-\w+)" content="([^"]*)"/g;
	is($meta{'mwsup-table'}, 'by the file',
	    "request $n: a static set by the class file's own code has that value");
	is($meta{'mwsup-count'}, '11',
	    "request $n: and one the request before changed starts from the file's value");
}

sub rest {
	my ($srv, $route, @form) = @_;
	return http(POST => "/rest.php/coredev/v0/transform/$route/",
	    { 'Content-Type' => 'application/x-www-form-urlencoded' },
	    form(@form), { port => $srv->{port} });
}

# What cold mode answers, every time.
my $cold_h2 = rest($cold, 'wikitext/to/html', wikitext => '== h2 ==');
is($cold_h2->{status}, 200, 'cold: wikitext to HTML answers');
like($cold_h2->{body}, qr{<section data-mw-section-id="0" data-parsoid="\{\}"></section>},
    'cold: an empty lead section');
like($cold_h2->{body}, qr{<h2 id="h2"[^>]*>h2</h2>}, 'cold: the heading "h2"');
like($cold_h2->{body}, qr{<meta charset="utf-8"/>}, 'cold: a void meta element');

for my $n (1 .. 3) {
	my $r = rest($warm, 'wikitext/to/html', wikitext => '== h2 ==');
	is($r->{status}, 200, "warm request $n: wikitext to HTML answers");
	like($r->{body}, qr{<section data-mw-section-id="0" data-parsoid="\{\}"></section>},
	    "warm request $n: an empty lead section");
	like($r->{body}, qr{<h2 id="h2"[^>]*>h2</h2>}, "warm request $n: the heading \"h2\"");
	unlike($r->{body}, qr{<p[^>]*autoInserted}, "warm request $n: no paragraph made up");
	like($r->{body}, qr{<meta charset="utf-8"/>}, "warm request $n: a void meta element");
	unlike($r->{body}, qr{</meta>}, "warm request $n: not closed as XML");
}
for my $n (1 .. 2) {
	my $r = rest($warm, 'html/to/wikitext', html => '<h2>h2</h2><p><i>x</i></p>');
	is($r->{body}, "== h2 ==\n''x''", "warm request $n: HTML to wikitext as cold gives it")
		or diag('cold: ' . rest($cold, 'html/to/wikitext', html => '<h2>h2</h2><p><i>x</i></p>')->{body});
}

# The differential: each route several times, warm against cold.
my @form = ('Content-Type' => 'application/x-www-form-urlencoded');
my $wt = "== h2 ==\nSome ''text'' with [[Main Page|a link]], a {{PAGENAME}}, "
    . "<ref>not a tag here</ref>.\n* one\n*# two\n{| class=\"wikitable\"\n|-\n| a || b\n|}\n"
    . "<div style=\"color:red\">x</div> &amp; &nbsp; [https://example.org ext]\n\n=== h3 ===\n<pre>p</pre>";
my @reqs = (
	{ method => 'POST', path => '/rest.php/coredev/v0/transform/wikitext/to/html/',
	  headers => {@form}, body => form(wikitext => $wt), name => 'wikitext to HTML' },
	{ method => 'POST', path => '/rest.php/coredev/v0/transform/wikitext/to/html/',
	  headers => {@form}, body => form(wikitext => '== h2 =='), name => 'a heading to HTML' },
	{ method => 'POST', path => '/rest.php/coredev/v0/transform/html/to/wikitext/',
	  headers => {@form}, body => form(html => '<h2>h2</h2><p><i>x</i></p><ul><li>a</li></ul>'
	      . '<table><tr><td>c</td></tr></table><p>a<br/>b &amp; <a href="./Main_Page">l</a></p>'),
	  name => 'HTML to wikitext' },
	{ method => 'POST', path => '/rest.php/coredev/v0/transform/wikitext/to/lint/',
	  headers => {@form}, body => form(wikitext => "<b>x\n<div>y"), name => 'lint' },
	{ method => 'GET', path => '/rest.php/v1/page/Main_Page/html', name => 'page HTML' },
	{ method => 'GET', path => '/rest.php/v1/page/Main_Page/with_html', name => 'page with HTML' },
	{ method => 'GET', path => '/rest.php/v1/page/Main_Page', name => 'page source' },
);
my @diffs = warm_cold($warm, $cold, \@reqs);
is(scalar(@diffs), 0, 'Parsoid\'s routes answer warm as cold, each request three times')
	or diag(join("\n", @diffs[0 .. ($#diffs < 5 ? $#diffs : 5)]));

my @pids = worker_pids($warm);
is(scalar(@pids), 1, 'all warm requests were served by one worker');
log_like($warm, qr/checkpoint: \d+ globals/, 'which bootstrapped once');
log_unlike($warm, qr/recycling|PHP (?:Warning|Fatal)/, 'no warning, no recycling');
stopped_cleanly($warm);
stopped_cleanly($cold);
done_testing();
