#!/usr/bin/perl
# The entry scripts whose body is a function of their own
# (opensearch_desc.php, img_auth.php, thumb.php, thumb_handler.php) are
# served warm only when the file is the one MediaWiki ships: a site's own
# file under that name runs as the file says, cold, and the worker says so
# in its log.  (t0540 compares the stock scripts, served warm, with
# PHP-FPM.)  Here mediawiki.root is a copy of the MediaWiki root made of
# symlinks, with opensearch_desc.php replaced by a script of the site's.
#
# The same root has its own copy of one of OOUI's icon lists
# (icons-alerts.json): a warm worker keeps what it read of such a file
# while the file stays the same, and must see it change.
#
# Last, a private wiki: img_auth.php and thumb.php, warm, serve a
# logged-in user and refuse the anonymous requests just before and after.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use MwTest;

my $MW_ROOT = '/usr/share/mediawiki';
my $root = test_dir() . '/root';
# link_all($real, $fake, @globs): $fake gets a symlink to each entry of $real.
sub link_all {
	my ($real, $fake, @globs) = @_;
	for my $f (glob(join ' ', map { "$real/$_" } @globs)) {
		(my $name = $f) =~ s{.*/}{};
		symlink($f, "$fake/$name") or die "symlink $f: $!\n";
	}
}
mkdir $root or die "mkdir $root: $!\n";
link_all($MW_ROOT, $root, '*', '.[!.]*');
# A real directory for each component of $rel, every other entry a
# symlink into the MediaWiki root.
sub unfold {
	my ($rel) = @_;
	my ($fake, $real) = ($root, $MW_ROOT);
	for my $part (split m{/}, $rel) {
		($fake, $real) = ("$fake/$part", "$real/$part");
		next unless -l $fake;
		unlink $fake or die "unlink $fake: $!\n";
		mkdir $fake or die "mkdir $fake: $!\n";
		chmod 0755, $fake;
		link_all($real, $fake, '*');
	}
	return $fake;
}
my $icons_dir = unfold('resources/lib/ooui/themes/wikimediaui');
my $icons = "$icons_dir/icons-alerts.json";
unlink $icons;
write_file($icons, read_file("$MW_ROOT/resources/lib/ooui/themes/wikimediaui/icons-alerts.json"));
chmod 0644, $icons;
unlink "$root/opensearch_desc.php";
write_file("$root/opensearch_desc.php", <<'PHP');
<?php
// A site's own script under an entry point's name.
header( 'Content-Type: text/plain; charset=utf-8' );
echo "the site's own opensearch_desc.php\n";
PHP
chmod 0755, $root;
chmod 0644, "$root/opensearch_desc.php";

my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true', 'mediawiki.root' => $root);
# A module of the site's, one script in the wiki's directory, whose
# version (a hash of the file's contents) the startup module lists.
my $rlfile = "$w->{dir}/rlfiles/a.js";
mkdir "$w->{dir}/rlfiles";
chmod 0755, "$w->{dir}/rlfiles";
write_file($rlfile, "mw.log( 'one' );\n");
chmod 0644, $rlfile;
append_settings($w, <<'PHP');
$wgResourceModules['mwsup.filehash'] = [
	'localBasePath' => __DIR__ . '/rlfiles',
	'remoteBasePath' => '/rlfiles',
	'scripts' => [ 'a.js' ],
	'targets' => [ 'desktop', 'mobile' ],
];
PHP
# MediaWiki finds its files from $IP, which it takes from the real path of
# includes/ (the MediaWiki root itself) unless MW_INSTALL_PATH says.
my $srv = start_mwsup($w->{config}, env => { MW_INSTALL_PATH => $root });
log_like($srv, qr{warm mode: \Q$root\E/opensearch_desc\.php runs cold: its top-level code is not the one of MediaWiki 1\.39},
    'the worker says the replaced script runs cold');
log_unlike($srv, qr{(?:img_auth|thumb|thumb_handler)\.php runs cold},
    'the stock img_auth.php, thumb.php and thumb_handler.php are served warm');

my $r = http(GET => '/opensearch_desc.php');
is($r->{status}, 200, 'the replaced script answers 200');
is($r->{body}, "the site's own opensearch_desc.php\n", 'with what the file prints, not MediaWiki\'s description');
$r = http(GET => '/wiki/Main_Page');
is($r->{status}, 200, 'the Main Page after it');
like($r->{body}, qr/MediaWiki has been installed/, 'is the Main Page');
$r = http(GET => '/thumb_handler.php');
is($r->{status}, 400, 'thumb_handler.php (stock, warm) refuses a request outside the thumbnail path');
like($r->{body}, qr/thumbnail/i, 'with MediaWiki\'s message');
$r = http(GET => '/opensearch_desc.php');
is($r->{body}, "the site's own opensearch_desc.php\n", 'the replaced script again');

# One bootstrap at the start, one after each cold request that a warm one
# followed: the cost of a site's own entry script.
my @boots = log_text($srv) =~ /checkpoint: \d+ globals/g;
is(scalar(@boots), 2, 'the worker bootstrapped again only after the cold request');

# OOUI's icon list: read once, then kept while the file is unchanged.
my $css = '/load.php?modules=oojs-ui.styles.icons-alerts&only=styles&skin=vector';
my $startup = '/load.php?modules=startup&only=scripts&raw=1&skin=vector';
sub icons_version {
	my ($v) = http(GET => $startup)->{body} =~ /\["oojs-ui\.styles\.icons-alerts","([^"]+)"/;
	return $v // '';
}
like(http(GET => $css)->{body}, qr/\.oo-ui-icon-bell\b/, 'the icon styles have the bell icon');
my $v1 = icons_version();
like(http(GET => $css)->{body}, qr/\.oo-ui-icon-bell\b/, 'and again, from what the worker kept');
is(icons_version(), $v1, 'the module\'s version stays the same while the file does');
my $list = decode_json(read_file($icons));
delete $list->{images}{bell};
write_file($icons, JSON::PP->new->canonical->encode($list));
utime(time + 5, time + 5, $icons);
my $after = http(GET => $css)->{body};
unlike($after, qr/\.oo-ui-icon-bell\b/, 'the bell icon is gone as soon as the file says so');
like($after, qr/\.oo-ui-icon-bellOutline\b/, 'the other icons stay');
isnt(icons_version(), $v1, 'the module\'s version in the startup module changes too');

# The hashes of files' contents in module versions are kept by the worker
# under the file's path and mtime: a file changed between two requests
# changes the next startup module, which is the cold worker's.
my $csrv = start_mwsup(cold_config($w), env => { MW_INSTALL_PATH => $root });
sub startup_of {
	my ($port) = @_;
	return http(GET => $startup, undef, undef, { port => $port })->{body};
}
sub filehash_version {
	my ($v) = startup_of($w->{port}) =~ /\["mwsup\.filehash","([^"]+)"/;
	return $v // '';
}
sub same_as_cold {
	my ($when) = @_;
	my $want = startup_of($csrv->{port});
	for my $n (1 .. 2) {
		my $got = startup_of($w->{port});
		ok($got eq $want, "the warm startup module is the cold one $when ($n)")
		    or diag(MwTest::_first_difference($want, $got, 'warm'));
	}
}
my $f1 = filehash_version();
ok($f1, "the site's module is in the startup module");
same_as_cold('before any change');
write_file($rlfile, "mw.log( 'two' );\n");
utime(time + 10, time + 10, $rlfile);
my $f2 = filehash_version();
isnt($f2, $f1, "the module's version changes with its file");
same_as_cold('after the file changed');
write_file($rlfile, "mw.log( 'two' );\n");
utime(time + 20, time + 20, $rlfile);
is(filehash_version(), $f2, 'a file touched with the same contents keeps its version');
same_as_cold('after the file was touched');
unlink $rlfile;
same_as_cold('after the file went');
write_file($rlfile, "mw.log( 'one' );\n");
chmod 0644, $rlfile;
utime(time + 30, time + 30, $rlfile);
is(filehash_version(), $f1, 'the first contents back: the first version');
same_as_cold('with the first contents back');
stopped_cleanly($csrv);
my @pids = worker_pids($srv);
is(scalar(@pids), 1, 'the same worker served everything');
log_unlike($srv, qr/PHP (?:Warning|Fatal|Deprecated)|recycling/, 'no PHP warning, no recycling');
stopped_cleanly($srv);

# --- a private wiki: img_auth.php and thumb.php decide per request --------
#
# Only logged-in users may read.  With one warm worker, a logged-in
# request for the image and its thumbnail comes between anonymous ones:
# the anonymous ones are refused each time, the logged-in one is served.
my $p = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true');
append_settings($p, <<'PHP');
$wgGroupPermissions['*']['read'] = false;
$wgUseImageMagick = false;
PHP
my $upload = test_dir() . '/upload';
mkdir $upload;
chmod 0755, $upload;
write_file("$upload/Private.png", read_file("$MW_ROOT/resources/assets/mediawiki.png"));
chmod 0644, "$upload/Private.png";
my ($rc, $out, $err) = wiki_php($p, "$MW_ROOT/maintenance/importImages.php", $upload);
is($rc, 0, 'an image is uploaded to the private wiki') or diag("$out$err");
my $psrv = start_mwsup($p->{config});
my $image = '/img_auth.php/2/2f/Private.png';
my $thumb = '/thumb.php?f=Private.png&width=48';
my $png = read_file("$upload/Private.png");

sub anonymous_refused {
	my ($when) = @_;
	my $r = http(GET => $image);
	is($r->{status}, 403, "img_auth.php refuses the image to an anonymous client $when");
	isnt($r->{body}, $png, "and sends no byte of it $when");
	$r = http(GET => $thumb);
	is($r->{status}, 403, "thumb.php refuses a thumbnail to an anonymous client $when");
	unlike($r->{body}, qr/\A\x89PNG/, "and sends no image $when");
}
anonymous_refused('before anyone logged in');

my $jar = cookie_jar();
my ($j) = MwTest::api($jar, GET => action => 'query', meta => 'tokens', type => 'login');
($j) = MwTest::api($jar, POST => action => 'login', lgname => $p->{admin_user},
    lgpassword => $p->{admin_pass}, lgtoken => $j->{query}{tokens}{logintoken} // '');
is($j->{login}{result}, 'Success', 'the admin logs in');
$r = http(GET => $image, undef, undef, { jar => $jar });
is($r->{status}, 200, 'img_auth.php serves the image to the admin');
ok($r->{body} eq $png, 'byte for byte');
anonymous_refused('right after the admin got it');
$r = http(GET => $thumb, undef, undef, { jar => $jar });
is($r->{status}, 200, 'thumb.php makes a thumbnail for the admin');
is(unpack('N', substr($r->{body}, 16, 4)), 48, 'of the width asked for');
anonymous_refused('right after the admin\'s thumbnail');
@boots = log_text($psrv) =~ /checkpoint: \d+ globals/g;
is(scalar(@boots), 1, 'one bootstrap served all of them (img_auth.php and thumb.php ran warm)');
log_unlike($psrv, qr/PHP (?:Warning|Fatal|Deprecated)|recycling/, 'no PHP warning, no recycling');
stopped_cleanly($psrv);
done_testing();
