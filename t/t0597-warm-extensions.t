#!/usr/bin/perl
# Real wikis run the extensions Debian's mediawiki package ships, and each
# keeps state of its own in statics, services and hooks: a warm worker must
# answer with all of them enabled exactly as a fresh PHP process does.  On a
# wiki made by "tools/mkwiki --extensions all", pages that use the
# extensions' parser functions and tags, their API modules, special pages
# and ResourceLoader modules are each asked several times of a warm mwsup
# (one worker) and of a cold one serving the same wiki, and compared.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $w = wiki(mkwiki => ['--extensions', 'all'], 'pool.workers' => 1,
    'snapshot.enabled' => 'true');

# Every extension in Debian's package is enabled, and the skins.
my $ls = read_file($w->{settings});
for my $e (qw(AbuseFilter CategoryTree Cite CiteThisPage CodeEditor
    ConfirmEdit Gadgets ImageMap InputBox Interwiki Math MultimediaViewer Nuke
    OATHAuth PageImages ParserFunctions PdfHandler Poem Renameuser ReplaceText
    Scribunto SecureLinkFixer SpamBlacklist SyntaxHighlight_GeSHi TemplateData
    TextExtracts TitleBlacklist VisualEditor WikiEditor)) {
	ok($ls =~ /^wfLoadExtension\( '\Q$e\E' \);$/m, "mkwiki enabled $e");
}
for my $s (qw(Vector MonoBook Timeless MinervaNeue)) {
	ok($ls =~ /^wfLoadSkin\( '$s' \);$/m, "mkwiki loaded the skin $s");
}

# The pages, imported as the admin before either server starts; their jobs
# run now, so that neither server changes the wiki during the comparison.
my $src = "$w->{dir}/pages";
mkdir $src or die "mkdir $src: $!\n";
my %pages = (
	'Module:Hello.lua' => <<'LUA',
local p = {}
function p.hi(frame)
	return 'Hello, ' .. frame.args[1] .. '! ' .. mw.text.trim('  lua  ')
		.. ' ' .. mw.title.getCurrentTitle().text
end
return p
LUA
	'Template:Cond.txt' => <<'WT',
{{#if:{{{1|}}}|yes {{{1}}}|no}} {{#switch:{{{2|b}}}|a=A|b=B|#default=D}} {{#expr:2*3+{{{3|1}}}}}<noinclude>
<templatedata>
{ "description": "Tries the parser functions.",
  "params": { "1": { "label": "Word", "type": "string", "required": true },
              "2": { "label": "Letter", "type": "string" } } }
</templatedata>
</noinclude>
WT
	'Ext parser.txt' => <<'WT',
Lead text about parser functions.
* {{Cond|x|a|4}}
* {{Cond||z}}
* {{#invoke:Hello|hi|x}}
* {{#time:Y|2020-05-06}} {{#titleparts:A/B/C|1|2}} {{#ifeq:a|a|same|other}}
[[Category:Extension pages]]
WT
	'Ext cite.txt' => <<'WT',
A claim.<ref>First source.</ref> Another.<ref name="n">Named source.</ref>
Again.<ref name="n"/>
== Notes ==
<references/>
[[Category:Extension pages]]
WT
	'Ext highlight.txt' => <<'WT',
<syntaxhighlight lang="python">
def hi(x):
    return "hello %s" % x  # a comment
</syntaxhighlight>
<syntaxhighlight lang="c" line>int main(void) { return 0; }</syntaxhighlight>
<poem>
A first line
  indented second
''third''
</poem>
[[Category:Extension pages]]
WT
	'Ext tree.txt' => <<'WT',
<categorytree mode="pages">Extension pages</categorytree>
<inputbox>
type=create
width=24
</inputbox>
<imagemap>
File:Nothing here.png|100px
default [[Main Page]]
</imagemap>
[[Category:Extension pages]]
WT
	'Category:Extension pages.txt' => "Pages that use the extensions.\n",
);
for my $f (keys %pages) {
	write_file("$src/$f", $pages{$f});
}
if ($> == 0) {
	my ($uid, $gid) = (getpwnam('www-data'))[2, 3];
	chown($uid, $gid, $src, map { "$src/$_" } keys %pages);
}
# The template and the module first: a page is rendered (and its parser
# cache entry kept) as it is imported.
my ($rc, $out, $err);
for my $batch ([grep { !/^Ext / } sort keys %pages], [grep { /^Ext / } sort keys %pages]) {
	($rc, $out, $err) = wiki_php($w, '/usr/share/mediawiki/maintenance/importTextFiles.php',
	    '--user', $w->{admin_user}, map { "$src/$_" } @$batch);
	is($rc, 0, "the pages @$batch are imported") or diag("$out$err");
}
($rc, $out, $err) = wiki_php($w, '/usr/share/mediawiki/maintenance/runJobs.php');
is($rc, 0, 'and their jobs run') or diag("$out$err");

my $warm = start_mwsup($w->{config});
my $cold = start_mwsup(cold_config($w));

# What cold mode shows: the extensions really did their work, so the
# comparison below compares rendered extension output, not error pages.
my %want = (
	'Ext_parser' => [qr/yes x A 10/, qr/no D 7/,
	    qr/Hello, x! lua Ext parser/, qr/2020 B same/],
	'Ext_cite' => [qr/<ol class="references">/, qr/Named source/,
	    qr/class="mw-cite-backlink"/],
	'Ext_highlight' => [qr/class="mw-highlight mw-highlight-lang-python/,
	    qr/<span class="k">def<\/span>/, qr/class="poem"/],
	'Ext_tree' => [qr/class="CategoryTreeTag"/, qr/Ext parser/,
	    qr/class="mw-inputbox-centered"|class="mw-inputbox/],
	'Template:Cond' => [qr/Tries the parser functions/],
);
for my $page (sort keys %want) {
	my $r = http(GET => "/wiki/$page", undef, undef, { port => $cold->{port} });
	is($r->{status}, 200, "cold: $page answers");
	like($r->{body}, $_, "cold: $page shows $_") for @{ $want{$page} };
}

my @reqs;
for my $page (qw(Ext_parser Ext_cite Ext_highlight Ext_tree Template:Cond
    Module:Hello Category:Extension_pages)) {
	push @reqs, { method => 'GET', path => "/wiki/$page", name => "view $page" },
	    { method => 'GET', path => "/api.php?action=parse&format=json&page=$page",
	      name => "parse $page" };
}
# Views and action=parse of a page come from the parser cache once the
# first server filled it; wikitext given to action=parse is parsed anew on
# every request, in the warm worker too.
for my $f (sort grep { /^Ext / } keys %pages) {
	(my $title = $f) =~ s/\.txt$//;
	push @reqs, { method => 'POST', path => '/api.php',
	    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
	    body => form(action => 'parse', format => 'json', title => $title,
		text => $pages{$f}, prop => 'text|categories|links|templates|modules|jsconfigvars', disablelimitreport => 1),
	    name => "parse the text of $title" };
}
push @reqs, map { { method => 'GET', path => "/api.php?format=json&$_", name => "api $_" } } (
	'action=templatedata&titles=Template:Cond',
	'action=query&prop=pageimages|extracts&titles=Ext_parser|Ext_cite&exintro=1',
	'action=query&list=abuselog',
	'action=query&list=abusefilters',
	'action=query&meta=siteinfo&siprop=extensions|skins|magicwords|extensiontags',
	'action=expandtemplates&prop=wikitext&text=%7B%7B%23invoke%3AHello%7Chi%7Cz%7D%7D%7B%7B%23expr%3A1%2B1%7D%7D',
	'action=visualeditor&paction=metadata&page=Ext_cite',
);
push @reqs, map { { method => 'GET', path => "/wiki/Special:$_", name => "Special:$_" } } qw(
	AbuseFilter AbuseLog Gadgets Nuke ReplaceText CategoryTree/Extension_pages
	Version Interwiki GadgetUsage ExpandTemplates
);
push @reqs, map { { method => 'GET',
    path => "/load.php?lang=en&modules=$_&only=styles&skin=vector", name => "load.php $_" } }
    qw(ext.cite.styles ext.pygments ext.categoryTree.styles ext.inputBox.styles);
push @reqs, { method => 'GET', path => '/load.php?lang=en&modules=ext.cite.ux-enhancements|ext.gadget.list|ext.visualEditor.desktopArticleTarget.init&skin=vector',
    name => 'load.php scripts' };
push @reqs, map { { method => 'GET', path => "/wiki/Ext_cite?useskin=$_", name => "skin $_" } }
    qw(monobook timeless minerva);

# Scribunto numbers its Lua processes, and the chunks each holds, in
# statics (LuaStandaloneInterpreter::$nextInterpreterId,
# LuaStandaloneInterpreterFunction::$activeChunkIds).  A request's
# interpreter and its functions refer to each other; freed by the cycle
# collector between requests, their destructors marked chunks of
# "interpreter 0" destroyed after the restore, and the next request's own
# interpreter 0 sent Lua a cleanup with no chunk list ("Undefined array
# key 0", and a Lua error in the page).  Fresh parses through a few
# collections (every snapshot.gc_interval requests, 8).
my @lua = map { { method => 'POST', path => '/api.php',
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' },
    body => form(action => 'parse', format => 'json', title => "Lua $_",
	text => "{{#invoke:Hello|hi|n$_}} {{Cond|y}}", prop => 'text',
	disablelimitreport => 1) } } 1 .. 20;
my @bad;
for my $n (0 .. $#lua) {
	my $q = $lua[$n];
	my $r = http($q->{method}, $q->{path}, $q->{headers}, $q->{body},
	    { port => $warm->{port} });
	my $want = 'Hello, n' . ($n + 1) . '! lua Lua ' . ($n + 1) . ' yes y B 7';
	push @bad, "request " . ($n + 1) . ": $r->{status} " . substr($r->{body}, 0, 300)
		unless $r->{status} == 200 && index($r->{body}, $want) >= 0;
}
is(scalar(@bad), 0, 'Lua answers in 20 warm requests in a row, through collections')
	or diag(join("\n", @bad[0 .. ($#bad < 3 ? $#bad : 3)]));
log_unlike($warm, qr/LuaStandalone|PHP Warning/, 'and Scribunto warns of nothing');

# The admin's session (sessions are in the shared SQLite cache, so one
# login serves both servers): special pages that anonymous users are
# refused, and the options extensions add to the user's (their
# Special:Preferences shows the time of the request in date formats).
my $jar = cookie_jar();
my ($lj) = MwTest::api($jar, GET => action => 'query', meta => 'tokens',
    type => 'login', _opt => { port => $cold->{port} });
($lj) = MwTest::api($jar, POST => action => 'clientlogin',
    username => $w->{admin_user}, password => $w->{admin_pass},
    logintoken => $lj->{query}{tokens}{logintoken} // '',
    loginreturnurl => "http://127.0.0.1:$cold->{port}/", _opt => { port => $cold->{port} });
is($lj->{clientlogin}{status}, 'PASS', 'the admin logs in');
my $cookie = $jar->cookie_header();
for my $sp (qw(Nuke ReplaceText OATHManage AbuseFilter/new)) {
	push @reqs, { method => 'GET', path => "/wiki/Special:$sp",
	    headers => { Cookie => $cookie }, name => "Special:$sp as the admin" };
}
push @reqs, { method => 'GET', headers => { Cookie => $cookie },
    path => '/api.php?format=json&action=query&meta=userinfo|tokens&uiprop=options|rights|groups',
    name => 'the admin\'s options' };
for my $sp (qw(Nuke ReplaceText)) {
	my $r = http(GET => "/wiki/Special:$sp", { Cookie => $cookie }, undef,
	    { port => $cold->{port} });
	unlike($r->{body}, qr/<title>Permission error/, "cold: the admin may use Special:$sp");
}
my $v = http(GET => '/wiki/Special:Version', undef, undef, { port => $cold->{port} });
like($v->{body}, qr/Scribunto.*SyntaxHighlight/s, 'cold: Special:Version lists the extensions');
my $css = http(GET => '/load.php?lang=en&modules=ext.pygments&only=styles&skin=vector',
    undef, undef, { port => $cold->{port} });
like($css->{body}, qr/\.mw-highlight/, 'cold: load.php has the Pygments styles');

my $t0 = time;
my @diffs = warm_cold($warm, $cold, \@reqs);
is(scalar(@diffs), 0, scalar(@reqs) . ' extension requests answer warm as cold, each three times')
	or diag(join("\n", @diffs[0 .. ($#diffs < 9 ? $#diffs : 9)]));
note('the comparison took ' . (time - $t0) . ' s');

my @pids = worker_pids($warm);
is(scalar(@pids), 1, 'all warm requests were served by one worker');
log_like($warm, qr/checkpoint: \d+ globals/, 'which bootstrapped once');
log_unlike($warm, qr/recycling|PHP (?:Warning|Fatal)/, 'no warning, no recycling');
log_unlike($cold, qr/PHP (?:Warning|Fatal)/, 'cold: no warning');
stopped_cleanly($warm);
stopped_cleanly($cold);
done_testing();
