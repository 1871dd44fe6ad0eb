#!/usr/bin/perl
# A private wiki ($wgGroupPermissions['*']['read'] = false) whose upload
# directory a static: mapping serves gives every upload to anyone with its
# URL: the supervisor sends those files without asking MediaWiki.  mwsup
# warns once, as soon as a worker has MediaWiki set up (the warm bootstrap,
# or a cold worker's first request), naming the mapping and what to do.
# A public wiki, or a private one whose uploads go through img_auth.php
# (no static mapping), gets no warning.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Copy qw(copy);
use Test::More;
use MwTest;

my $png = '/usr/share/mediawiki/resources/assets/poweredby_mediawiki_88x31.png';
my $warning = qr/mw\.yaml:\d+:\d+: static \/images\/ serves \S+\/images\/?, the upload directory of a private wiki \(\$wgGroupPermissions\['\*'\]\['read'\] is false\): anyone who has a file's URL gets it without logging in; serve uploads through img_auth\.php instead/;

sub upload {
	my ($w) = @_;
	mkdir "$w->{images}/a";
	mkdir "$w->{images}/a/ab";
	copy($png, "$w->{images}/a/ab/Secret.png") or die "copy: $!\n";
	chmod 0644, "$w->{images}/a/ab/Secret.png";
}

for my $warm (1, 0) {
	my $mode = $warm ? 'warm' : 'cold';
	my $w = wiki('snapshot.enabled' => $warm ? 'true' : 'false');
	append_settings($w, "\$wgGroupPermissions['*']['read'] = false;");
	upload($w);
	my $srv = start_mwsup($w->{config});
	# a cold worker knows the settings after its first request
	like(http(GET => '/wiki/Main_Page')->{body}, qr/Login required/,
	    "$mode: the private wiki shows an anonymous reader \"Login required\"");
	ok(wait_until(sub { log_text($srv) =~ $warning }, 15),
	    "$mode: mwsup warns that static /images/ serves a private wiki's uploads, and to use img_auth.php")
		or diag(log_text($srv));
	is(http(GET => '/images/a/ab/Secret.png')->{status}, 200, "$mode: (what it warns of: the upload goes to anyone)");
	http(GET => '/wiki/Main_Page') for 1 .. 3;
	my $n = () = log_text($srv) =~ /$warning/g;
	is($n, 1, "$mode: said once, whichever worker found it first");
	stopped_cleanly($srv);
}

{
	my $w = wiki();
	upload($w);
	my $srv = start_mwsup($w->{config});
	is(http(GET => '/wiki/Main_Page')->{status}, 200, 'a public wiki is read by anyone');
	sleep(1);
	unlike(log_text($srv), qr/private wiki/, 'and gets no warning');
	stopped_cleanly($srv);
}

{
	my $w = wiki();
	append_settings($w, "\$wgGroupPermissions['*']['read'] = false;\n" .
	    "\$wgUploadPath = \"\$wgScriptPath/img_auth.php\";");
	set_yaml($w, 'static./images/' => undef);
	upload($w);
	my $srv = start_mwsup($w->{config});
	is(http(GET => '/images/a/ab/Secret.png')->{status}, 404, 'private, uploads not mapped: no static /images/');
	is(http(GET => '/img_auth.php/a/ab/Secret.png')->{status}, 403,
	    'img_auth.php refuses the upload to an anonymous client');
	http(GET => '/wiki/Main_Page');
	sleep(1);
	unlike(log_text($srv), qr/private wiki/, 'and no warning');
	stopped_cleanly($srv);
}

done_testing();
