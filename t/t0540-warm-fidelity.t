#!/usr/bin/perl
# Warm workers answer as nginx + PHP-FPM do, on the same wiki.
#
# One wiki (SQLite, a few pages, a page with two revisions, a redirect, a
# template and a category) is served at the same time by mwsup with a pool
# of one warm worker (so every request reuses the state the one before
# left) and by nginx + php-fpm8.2 (one static FPM child), both running the
# same MediaWiki root with the same LocalSettings.php.  The same requests,
# byte for byte, go to both stacks one after the other: anonymous page
# views, history, diffs, raw, info, special pages, the action API (query,
# parse, errors, XML), load.php, rest.php, then a logged-in session
# (login, page views, tokens, an edit), then anonymous requests again (no
# session may stick).  Status, key headers and the body must be the same
# after the volatile parts are normalised (see normalise() below).
#
# One address for two ports: tools/mkwiki writes a fixed
# $wgServer = "http://127.0.0.1:<mwsup's port>", and MediaWiki builds every
# absolute URL (links, Location headers, API docrefs, REST URLs) from
# $wgServer, never from the request, when $wgServer is set.  So both stacks
# serve the wiki under one name, like two backends behind one proxy, and
# every request carries the same Host header (mwsup's address) to both.
# The nginx port therefore never appears in an answer (checked at the end).
#
# Caches: both stacks share the wiki's database, but each has its own
# object cache (CACHE_DB: the parser cache, sessions, message and
# ResourceLoader caches) and its own thumbnail directory, chosen in
# LocalSettings.php by the SAPI's name: what one stack answers is never
# what the other stored.  Every GET is made once on each stack before the
# compared round, so both caches are in the same state: a page parsed for
# one request and taken from the cache for the other would differ in its
# parser report.  Both stacks get each request in turn, mwsup first, so
# what one request writes to the database (a login, an edit) both see
# before the next one.  Jobs:
# nginx + FPM runs none
# ($wgJobRunRate = 0), so mwsup's job runner is off too and the test runs
# the jobs of its page imports itself before starting the servers.
#
# Run as root, mwsup serves as www-data (tools/mkwiki's mw.yaml) and the FPM
# pool runs as www-data too, both writing the wiki's data as that user.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::Local ();
use Test::More;
use Time::HiRes qw(sleep time);
use MwTest;

# --- what it needs -----------------------------------------------------------

sub find_program {
	my ($name) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), qw(/usr/sbin /sbin /usr/bin)) {
		return "$d/$name" if length $d && -x "$d/$name" && !-d _;
	}
	return;
}
my $NGINX = find_program('nginx');
my $FPM = find_program('php-fpm8.2');
plan skip_all => 'needs nginx and php-fpm8.2 (apt-get install nginx php8.2-fpm; tools/deps --test)'
	unless $NGINX && $FPM;

my $MW_ROOT = '/usr/share/mediawiki';
my $AS_ROOT = $> == 0;

# --- the processes this test starts, stopped even when it dies -------------

my %PROC;	# name => pid
my $MAIN = $$;
sub stop_proc {
	my ($name) = @_;
	my $pid = delete $PROC{$name};
	return unless $pid && $pid > 0;
	kill('TERM', $pid);
	my $deadline = time() + 10;
	while (time() < $deadline) {
		return if waitpid($pid, WNOHANG) == $pid;
		sleep(0.05);
	}
	kill('KILL', $pid);
	waitpid($pid, 0);
}
# A test interrupted (prove's timeout, ^C, a closed output pipe) still
# stops them, and mwsup: END blocks run on exit().
$SIG{$_} = sub { exit(1) } for qw(INT TERM HUP PIPE);
END {
	if ($$ == $MAIN) {
		my $st = $?;
		stop_proc($_) for qw(nginx fpm);
		$? = $st;
	}
}

sub spawn {
	my ($name, $log, @argv) = @_;
	my $pid = fork() // die "fork: $!\n";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log) or POSIX::_exit(127);
		open(STDERR, '>&', \*STDOUT);
		exec(@argv) or POSIX::_exit(127);
	}
	$PROC{$name} = $pid;
	return $pid;
}

# --- the wiki ---------------------------------------------------------------

# Compression off: it is a layer over the answer PHP makes, which is
# what is compared here (t0125 checks it).  Configuring nginx's gzip
# alike would not make the heads alike anyway: with gzip_vary nginx adds
# a Vary line of its own beside MediaWiki's, where mwsup adds
# Accept-Encoding to MediaWiki's Vary once.
my $w = wiki('pool.workers' => 1, 'snapshot.enabled' => 'true',
    'jobs.enabled' => 'false', compression => 'off');
my $dir = test_dir();
my $HOST = "127.0.0.1:$w->{port}";

my $pages = "$dir/pages";
mkdir $pages;
chmod 0755, $pages;
sub import_pages {
	my (%opt) = @_;
	my @files = @{ $opt{files} };
	chmod 0644, @files;
	my ($rc, $out, $err) = wiki_php($w, "$MW_ROOT/maintenance/importTextFiles.php",
	    '--overwrite', '--rc',
	    '--user', $w->{admin_user}, '--summary', $opt{summary},
	    ($opt{prefix} ? ('--prefix', $opt{prefix}) : ()), @files);
	diag("importTextFiles: $out$err") if $rc;
	return $rc == 0;
}
sub maint {
	my ($script, @args) = @_;
	my ($rc, $out, $err) = wiki_php($w, "$MW_ROOT/maintenance/$script", @args);
	diag("$script: $out$err") if $rc;
	return $rc == 0;
}

write_file("$pages/Fidelity box.wiki", <<'WIKI');
<div class="fidelity-box">'''Box:''' {{{1|nothing}}} on {{PAGENAME}}</div><noinclude>
A template for the fidelity test.</noinclude>
WIKI
write_file("$pages/Fidelity page.wiki", <<'WIKI');
The first revision of the page.

== One ==
Text with a [[Main Page|link]].
WIKI
write_file("$pages/Fidelity other.wiki", "Another page, linking to [[Fidelity page]].\n\n[[Category:Fidelity]]\n");
write_file("$pages/Fidelity redirect.wiki", "#REDIRECT [[Fidelity page]]\n");
ok(import_pages(prefix => 'Template:', summary => 'a template',
    files => ["$pages/Fidelity box.wiki"]), 'a template is imported');
ok(import_pages(summary => 'first versions', files => [map { "$pages/Fidelity $_.wiki" }
    qw(page other redirect)]), 'three pages are imported (one a redirect)');
write_file("$pages/Fidelity page.wiki", <<'WIKI');
The second revision of the page, with '''bold''', ''italics'' and a {{Fidelity box|template}}.

== One ==
Text with a [[Main Page|link]], a [[Missing fidelity page|red link]] and an
external [https://www.mediawiki.org/ link].

== Two ==
{| class="wikitable"
! Name !! Value
|-
| pages || {{NUMBEROFPAGES}}
|-
| title || {{FULLPAGENAME}}
|}
* a list
*# nested
<pre>preformatted &lt;text&gt;</pre>

[[Category:Fidelity]]
WIKI
ok(import_pages(summary => 'second version', files => ["$pages/Fidelity page.wiki"]),
    'the page gets a second revision');
# An image for thumb.php and img_auth.php, scaled with GD (php8.2-gd), not
# with whatever ImageMagick the installer may have found.
append_settings($w, '$wgUseImageMagick = false;');
# Which entry-point constants a request sees, in a header of every answer
# (compared like the others): a warm worker switches them per request.
append_settings($w, <<'PHP');
$wgExtensionFunctions[] = static function () {
	$seen = [ 'MW_ENTRY_POINT=' . MW_ENTRY_POINT ];
	foreach ( [ 'MW_API', 'MW_REST_API', 'MW_NO_SESSION', 'MW_NO_OUTPUT_COMPRESSION', 'THUMB_HANDLER' ] as $c ) {
		if ( defined( $c ) ) {
			$seen[] = $c;
		}
	}
	header( 'X-Fidelity-Constants: ' . implode( ' ', $seen ) );
};
PHP
my $images = "$dir/upload";
mkdir $images;
chmod 0755, $images;
write_file("$images/Fidelity.png", read_file("$MW_ROOT/resources/assets/mediawiki.png"));
chmod 0644, "$images/Fidelity.png";
ok(maint('importImages.php', '--comment', 'an image', $images), 'an image is uploaded');
ok(maint('runJobs.php', '--quiet'), 'the jobs of the imports run (links, categories)');

# Each stack its own object cache (the parser cache, sessions, the message
# and ResourceLoader caches: CACHE_DB, one SQLite file) and its own
# thumbnail directory, both chosen by the SAPI that runs the request, so
# that no answer of one stack is something the other stored.  Both caches
# start as copies of the one the imports above filled.
my $data = "$dir/wiki/data";
for my $stack (qw(mwsup fpm)) {
	for my $ext ('', '-wal') {
		next unless -e "$data/wikicache.sqlite$ext";
		system('cp', '-p', "$data/wikicache.sqlite$ext", "$data/wikicache_$stack.sqlite$ext") == 0
			or BAIL_OUT("cannot copy $data/wikicache.sqlite$ext");
	}
}
append_settings($w, <<'PHP');
if ( PHP_SAPI === 'mwworker' || PHP_SAPI === 'fpm-fcgi' ) {
	$wgObjectCaches[CACHE_DB]['server']['dbname'] =
		PHP_SAPI === 'mwworker' ? 'wikicache_mwsup' : 'wikicache_fpm';
	// The local repository's backend as MediaWiki makes it, but for the
	// thumbnail container.
	$wgFileBackends[] = [
		'name' => 'local-backend',
		'class' => FSFileBackend::class,
		'lockManager' => 'fsLockManager',
		'containerPaths' => [
			'local-public' => $wgUploadDirectory,
			'local-thumb' => $wgUploadDirectory . ( PHP_SAPI === 'mwworker' ? '/thumb-mwsup' : '/thumb-fpm' ),
			'local-transcoded' => "$wgUploadDirectory/transcoded",
			'local-deleted' => "$wgUploadDirectory/deleted",
			'local-temp' => "$wgUploadDirectory/temp",
		],
		'fileMode' => 0644,
	];
}
PHP

# --- the two stacks ---------------------------------------------------------

my $srv = start_mwsup($w->{config}, env => { MWSUP_WARM_VERIFY => 1 });
log_like($srv, qr/checkpoint: \d+ globals/, 'mwsup\'s worker bootstraps MediaWiki once and takes a checkpoint');

my $fpm_port = free_port();
$fpm_port = free_port() while $fpm_port == $w->{port};
my $sock = "$dir/fpm.sock";
my $ngx = "$dir/nginx";
mkdir $ngx;
mkdir "$ngx/tmp";
my $pool_user = $AS_ROOT ? <<'EOF' : '';
user = www-data
group = www-data
listen.owner = www-data
listen.group = www-data
EOF
write_file("$dir/fpm.conf", <<EOF);
[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no

[fidelity]
$pool_user
listen = $sock
listen.mode = 0660
pm = static
pm.max_children = 1
catch_workers_output = yes
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on
EOF
my $fcgi = <<EOF;
			include /etc/nginx/fastcgi_params;
			fastcgi_param MW_CONFIG_FILE $w->{settings};
			fastcgi_pass unix:$sock;
EOF
my $ngx_user = $AS_ROOT ? "user www-data www-data;\n" : '';
# Routing as mwsup's: / and /wiki/<title> run index.php, the entry points
# run themselves (rest.php with its PATH_INFO), nothing else runs PHP.
write_file("$dir/nginx.conf", <<EOF);
${ngx_user}worker_processes 1;
pid $dir/nginx.pid;
error_log $ngx/error.log warn;
daemon off;
events { worker_connections 64; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	client_body_temp_path $ngx/tmp/body;
	fastcgi_temp_path $ngx/tmp/fastcgi;
	proxy_temp_path $ngx/tmp/proxy;
	uwsgi_temp_path $ngx/tmp/uwsgi;
	scgi_temp_path $ngx/tmp/scgi;
	server {
		listen 127.0.0.1:$fpm_port;
		server_name 127.0.0.1;
		root $MW_ROOT;
		location = / {
$fcgi			fastcgi_param SCRIPT_FILENAME \$document_root/index.php;
			fastcgi_param SCRIPT_NAME /index.php;
		}
		location /wiki/ {
$fcgi			fastcgi_param SCRIPT_FILENAME \$document_root/index.php;
			fastcgi_param SCRIPT_NAME /index.php;
		}
		location ~ ^/(index|api|load|rest|opensearch_desc|img_auth|thumb|thumb_handler)\\.php(/|\$) {
			fastcgi_split_path_info ^(/[a-z_]+\\.php)(/.*)\$;
$fcgi			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_param PATH_INFO \$fastcgi_path_info;
		}
		location / { return 404; }
	}
}
EOF
spawn('fpm', "$dir/fpm.out", $FPM, '-y', "$dir/fpm.conf", '-F');
spawn('nginx', "$dir/nginx.out", $NGINX, '-e', "$ngx/error.log", '-c', "$dir/nginx.conf", '-p', $ngx);
my ($up, $died);
my $deadline = time() + 30;
until ($up || $died || time() > $deadline) {
	for (qw(fpm nginx)) {
		$died = $_ if waitpid($PROC{$_}, WNOHANG) == $PROC{$_} && delete $PROC{$_};
	}
	my $r = raw($fpm_port, "GET /load.php?modules=startup&only=scripts HTTP/1.1\r\n"
	    . "Host: $HOST\r\nConnection: close\r\n\r\n", timeout => 5);
	$up = defined $r && $r =~ m{^HTTP/1\.1 200 };
	sleep(0.1) unless $up;
}
if (!$up) {
	diag("$_ (the end):\n" . (-e $_ ? join("\n", grep { defined } (split /\n/, read_file($_))[-20 .. -1]) : '(none)'))
		for "$dir/fpm.out", "$dir/fpm.log", "$dir/nginx.out", "$ngx/error.log";
	BAIL_OUT($died ? "$died exited before nginx + php-fpm8.2 answered"
	    : 'nginx + php-fpm8.2 did not answer within 30 s');
}
pass('nginx + php-fpm8.2 serve the same wiki');

# --- one request, the same bytes to either stack ----------------------------

my %STACK = (
	mwsup => { port => $w->{port}, jar => cookie_jar() },
	fpm => { port => $fpm_port, jar => cookie_jar() },
);

sub request {
	my ($stack, $method, $path, $body, $ctype) = @_;
	my $s = $STACK{$stack};
	my $head = "$method $path HTTP/1.1\r\nHost: $HOST\r\n"
	    . "User-Agent: mwsup-t0540\r\nAccept: */*\r\nAccept-Language: en\r\nConnection: close\r\n";
	my $cookies = $s->{jar}->cookie_header;
	$head .= "Cookie: $cookies\r\n" if length $cookies;
	if (defined $body) {
		$head .= "Content-Type: " . ($ctype // 'application/x-www-form-urlencoded')
		    . "\r\nContent-Length: " . length($body) . "\r\n";
	}
	my ($bytes) = raw($s->{port}, "$head\r\n" . ($body // ''), timeout => 30);
	my $r = parse_response($bytes);
	$s->{jar}->add("http://$HOST/", $_) for @{ $r->{headers}{'set-cookie'} // [] };
	return $r;
}

# --- normalising --------------------------------------------------------------

# The parts of a body that legitimately differ from one request to the
# next, or between the two PHP SAPIs, each replaced by "*".  Nothing else is
# touched: page text, links, module lists, messages, status codes and
# ResourceLoader's version hashes stay as they are.
my @RULES = (
	# The request id and the time this request took (mw.config in every
	# page, and the parser's report of a page rendered now).
	['request id, response time' => sub {
		s/("wg(?:RequestId|BackendResponseTime)":)("[^"]*"|\d+)/$1"*"/g }],
	# A page, message or preview parsed for this request (not taken from
	# the parser cache) reports when and how fast: the parser's limit
	# report, as an HTML comment and as mw.config's wgPageParseReport.
	['parse time' => sub {
		s/("(?:cputime|walltime)":)"[\d.]+"/$1"*"/g;
		s/^((?:CPU|Real) time usage: )[\d.]+ seconds$/$1* seconds/mg;
		s/(^|")(\d+\.\d+%) +[\d.]+( +\d+ )/$1$2 *$3/mg;
		s/("cachereport":\{"timestamp":")\d{14}"/$1*"/g;
		s/^(Cached time: )\d{14}$/$1*/mg;
		s/((?:parser cache|RevisionOutputCache) with key \S+ and timestamp )\d{14}( and revision id)/$1*$2/g }],
	# Secrets handed to this session (mw.user.tokens, the edit token of
	# a form, a rollback link).  The anonymous token "+\" is the same
	# for all and kept.
	['session tokens' => sub {
		s/([Tt]oken"?\s*:\s*")[0-9a-f]{32,}\+\\\\"/$1*"/g;
		s/(<input[^>]*value=")[0-9a-f]{32,}\+\\("[^>]*name="wpEditToken")/$1*$2/g;
		s/(<input[^>]*name="wpEditToken"[^>]*value=")[0-9a-f]{32,}\+\\"/$1*"/g;
		s/([?&;]token=)[0-9a-f]{32,}%2B%5C/$1*/g }],
	# The time of the request: the edit form's start time, and
	# Special:RecentChanges' "show new changes starting from <now>" link
	# (its timestamps only; the link itself is compared).
	['time of the request' => sub {
		s/(<input type="hidden" value=")\d{14}(" name="wpStarttime")/$1*$2/g;
		s{(<span class="rclistfrom">)(.*?)(</span>)}{my ($open, $in, $close) = ($1, $2, $3);
		    $open . ($in =~ s/\d{14}/*/gr
		    =~ s/\d\d(?::|%3A)\d\d(?:,|%2C)[ +]\d+[ +][A-Z][a-z]+[ +]\d{4}/*/gr) . $close}ge }],
	# The name of the PHP SAPI, which is what differs between the stacks
	# (Special:Version's PHP row).
	['PHP SAPI name' => sub {
		s{(<td dir="ltr">\d+\.\d+\.\d+) \((?:mwworker|fpm-fcgi)\)</td>}{$1 (*)</td>}g }],
);
# The same for JSON answers, by key and only with a value of the kind
# expected: the time of the request (siteinfo's "time", curtimestamp), the
# server's name and request id, tokens made for the session (the
# anonymous "+\\" is kept), and the PHP SAPI.
my $ISO_TIME = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
my $TOKEN = qr/^[0-9a-f]{32,}\+\\$/;
my %VOLATILE_KEY = (
	(map { $_ => $ISO_TIME } qw(curtimestamp time)),
	(map { $_ => qr/./ } qw(servedby requestid)),
	(map { $_ => $TOKEN } qw(logintoken csrftoken watchtoken patroltoken
	    rollbacktoken userrightstoken createaccounttoken)),
	phpsapi => qr/^(?:mwworker|fpm-fcgi)$/,
);

sub scrub_json {
	my ($v, $extra) = @_;
	if (ref $v eq 'HASH') {
		for my $k (keys %$v) {
			my $re = $VOLATILE_KEY{$k};
			if (($re && defined $v->{$k} && !ref $v->{$k} && $v->{$k} =~ $re)
			    || ($extra && $extra->{$k})) {
				$v->{$k} = '*';
			} else {
				$v->{$k} = scrub_json($v->{$k}, $extra);
			}
		}
	} elsif (ref $v eq 'ARRAY') {
		$v = [map { scrub_json($_, $extra) } @$v];
	} elsif (defined $v && !ref $v) {
		# HTML in a string (action=parse).  Matched on a copy: a number
		# used as a string would be printed as one.
		my $copy = $v;
		$v = normalise_text($copy) if $copy =~ /[<\n]/;
	}
	return $v;
}

# normalise($body, $content_type, \%keys): the body with @RULES applied,
# or for JSON decoded, scrubbed by key (%VOLATILE_KEY and %keys) and
# printed canonically, one key a line.  $SKIP_RULE (a rule's name) leaves
# one rule out, to see whether it is needed (MWSUP_T0540_RULES=1).
our $SKIP_RULE = '';
sub normalise {
	my ($body, $ctype, $extra) = @_;
	if (($ctype // '') =~ m{json}) {
		my $j = eval { JSON::PP->new->allow_nonref->decode($body) };
		return JSON::PP->new->canonical->pretty->allow_nonref->encode(scrub_json($j, $extra))
			if defined $j;
	}
	return normalise_text($body);
}

sub normalise_text {
	local $_ = $_[0];
	for my $rule (@RULES) {
		$rule->[1]->() unless $rule->[0] eq $SKIP_RULE;
	}
	return $_;
}

# --- comparing -----------------------------------------------------------------

sub display_lines {
	my ($s) = @_;
	# Long lines (JSON, minified code) are cut after , ; and >, where
	# the two texts line up again after a difference.
	return map { length > 200 ? split(/(?<=[,;>])/) : $_ } split /\n/, $s;
}

# A short unified diff (FPM's lines "-", mwsup's "+") of the first place the
# two texts differ, 3 lines of context, at most 24 lines shown.
sub short_diff {
	my ($fpm, $mwsup) = @_;
	my @a = display_lines($fpm);
	my @b = display_lines($mwsup);
	my $i = 0;
	$i++ while $i < @a && $i < @b && $a[$i] eq $b[$i];
	my ($ea, $eb) = ($#a, $#b);
	while ($ea >= $i && $eb >= $i && $a[$ea] eq $b[$eb]) { $ea--; $eb--; }
	my $from = $i > 3 ? $i - 3 : 0;
	my @out = ("--- nginx + php-fpm", "+++ mwsup",
	    sprintf('@@ -%d,%d +%d,%d @@', $from + 1, $ea - $from + 1, $from + 1, $eb - $from + 1));
	push @out, " $a[$_]" for $from .. $i - 1;
	my @minus = map { "-$a[$_]" } $i .. $ea;
	my @plus = map { "+$b[$_]" } $i .. $eb;
	splice(@minus, 8, @minus - 8, '-...') if @minus > 9;
	splice(@plus, 8, @plus - 8, '+...') if @plus > 9;
	push @out, @minus, @plus;
	push @out, " $a[$_]" for grep { $_ <= $#a } $ea + 1 .. $ea + 3;
	splice(@out, 24) if @out > 24;
	return join("\n", map { length > 200 ? substr($_, 0, 200) . '...' : $_ } @out);
}

# Headers whose value a client relies on; compared when either stack sends
# one.  (Date, Server, Connection, Content-Length/Transfer-Encoding are the
# HTTP server's own; X-Powered-By is PHP's ini expose_php.)
my @HEADERS = qw(content-type content-encoding cache-control location vary content-language
	x-content-type-options x-frame-options content-disposition
	mediawiki-api-error expires last-modified etag access-control-allow-origin
	x-robots-tag x-fidelity-constants);

# The cookies a response sets, one a line, sorted, with the session's
# random values and the expiry dates (now + a lifetime) as "*"; and of
# ChronologyProtector's cpPosIndex ("<n>@<time>#<client id>" after a
# write) the counter and the time (the counter is kept per client id in
# the object cache, each stack's own, so both count the same writes; the
# time is the request's).
sub cookies {
	my ($r) = @_;
	my @c;
	for (@{ $r->{headers}{'set-cookie'} // [] }) {
		my ($pair, @attrs) = split /;\s*/;
		my ($n, $v) = split /=/, $pair, 2;
		$v = '*' if $n =~ /_session$|Token$/ && $v ne 'deleted';
		$v =~ s/^\d+%40\d+%23/*%40*%23/ if $n eq 'cpPosIndex';
		push @c, join('; ', "$n=$v", map { s/^(expires=).*/$1*/ir } @attrs);
	}
	return join("\n", sort @c);
}

# How many requests this file compares; the README gives the number.
use constant NCOMPARED => 72;
my $NCOMPARED = 0;
my @NAMES_PORT;		# answers of nginx + FPM that name its own port

# compare($name, $method, $path, %opt): the request to mwsup, then to FPM;
# same status, same key headers and cookies, same normalised body.  opt:
# body (or code making it for a stack's name: each session's own token),
# ctype,
# edit (JSON keys of each stack's own data to scrub), status (the one
# expected, default 200), like (a pattern the answer must match),
# made_by_each (the answer is something each stack made and stored itself,
# a thumbnail or a Parsoid render: Last-Modified may differ by seconds).
# Returns
# (mwsup's response, FPM's).
sub compare {
	my ($name, $method, $path, %opt) = @_;
	my $body = sub { ref $opt{body} ? $opt{body}->($_[0]) : $opt{body} };
	my $m = request(mwsup => $method, $path, $body->('mwsup'), $opt{ctype});
	my $f = request(fpm => $method, $path, $body->('fpm'), $opt{ctype});
	$NCOMPARED++;
	my $desc = "$name ($method $path)";
	$desc = substr($desc, 0, 110) . '...)' if length $desc > 114;
	is($m->{status}, $f->{status}, "$desc: mwsup answers with the status PHP-FPM does");
	# What is compared must be the real thing, not two error pages.
	is($f->{status}, $opt{status} // 200, "$name: PHP-FPM answers " . ($opt{status} // 200));
	like($f->{body}, $opt{like}, "$name: PHP-FPM's answer has what is asked for") if $opt{like};
	for my $h (@HEADERS) {
		my ($hm, $hf) = ($m->{headers}{$h}, $f->{headers}{$h});
		next unless defined $hm || defined $hf;
		if ($h eq 'expires') {
			# now + max-age (which Cache-Control shows); only the
			# "expired already" date of uncacheable answers is fixed.
			s/^\w+, \d+ \w+ (?:[2-9]\d{3}) .*/(in the future)/
				for grep { defined } $hm, $hf;
		}
		if ($h eq 'last-modified' && $opt{made_by_each} && defined $hm && defined $hf) {
			# What each stack made and stored itself (a thumbnail
			# file, a Parsoid render in its parser cache): made a
			# moment apart.
			my ($tm, $tf) = (http_time($hm), http_time($hf));
			ok(defined $tm && defined $tf && abs($tm - $tf) <= 10,
			    "$name: last-modified is when each stack made what it sends, within 10 s ($hm, $hf)");
			next;
		}
		if ($h eq 'etag') {
			# rest.php's page HTML: the render id of a Parsoid
			# render ("<revision>/<UUID made for the render>"),
			# which each stack makes in its own parser cache.
			s{^"(\d+)/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}/}{"$1/*/}
				for grep { defined } $hm, $hf;
		}
		is($hm, $hf, "$name: the same $h header");
	}
	my ($cm, $cf) = (cookies($m), cookies($f));
	is($cm, $cf, "$name: the same cookies set") if length $cm || length $cf;
	my $ct = $f->{headers}{'content-type'};
	my $nm = normalise($m->{body}, $ct, $opt{edit});
	my $nf = normalise($f->{body}, $ct, $opt{edit});
	if ($ENV{MWSUP_T0540_RULES} && $nm eq $nf) {
		for my $rule (map { $_->[0] } @RULES) {
			local $SKIP_RULE = $rule;
			diag("$name: needs the rule \"$rule\"")
				if normalise($m->{body}, $ct, $opt{edit}) ne normalise($f->{body}, $ct, $opt{edit});
		}
	}
	push @NAMES_PORT, $name
		if grep { /:$fpm_port\b/ } $f->{body}, map { ref ? @$_ : $_ } values %{ $f->{headers} };
	ok($nm eq $nf, "$name: the same body (" . length($f->{body}) . ' bytes from PHP-FPM)')
		or diag(short_diff($nf, $nm));
	return ($m, $f);
}

# An HTTP date (RFC 7231 IMF-fixdate) as a Unix time, or undef.
sub http_time {
	my ($d) = @_;
	my %mon;
	@mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = 0 .. 11;
	my ($day, $m, $y, $H, $M, $S) = $d =~ /^\w{3}, (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/
		or return;
	return defined $mon{$m} ? Time::Local::timegm($S, $M, $H, $day, $mon{$m}, $y) : undef;
}

sub q_api { '/api.php?' . form(@_) }
sub json_of { my $j = eval { decode_json($_[0]{body}) }; $j // {} }

# Page and revision ids for the history, diff and oldid requests.
my $revs = json_of(request(mwsup => GET => q_api(action => 'query', prop => 'revisions',
    titles => 'Fidelity page', rvprop => 'ids', rvlimit => 10, format => 'json',
    formatversion => 2)));
my @revids = sort { $a <=> $b } map { $_->{revid} } @{ $revs->{query}{pages}[0]{revisions} // [] };
is(scalar(@revids), 2, 'Fidelity page has two revisions');
my ($old, $new) = @revids;
$old //= 1;
$new //= 1;

# --- the requests ------------------------------------------------------------

my @ANON = (
	['the wiki root' => GET => '/', status => 301],
	['the Main Page' => GET => '/wiki/Main_Page', like => qr/MediaWiki has been installed/],
	['a content page with a template, a table and links' => GET => '/wiki/Fidelity_page',
	    like => qr{<div class="fidelity-box"><b>Box:</b> template on Fidelity page</div>}],
	['another page in a category' => GET => '/wiki/Fidelity_other', like => qr/Category:Fidelity/],
	['the history of a page' => GET => '/index.php?title=Fidelity_page&action=history',
	    like => qr/second version.*first versions/s],
	['a diff of two revisions' => GET => "/index.php?title=Fidelity_page&diff=$new&oldid=$old",
	    like => qr/class="diff-addedline /],
	['an old revision' => GET => "/index.php?title=Fidelity_page&oldid=$old", like => qr/The first revision/],
	['the wikitext (action=raw)' => GET => '/index.php?title=Fidelity_page&action=raw',
	    like => qr/\A\QThe second revision of the page, with '''bold'''\E/],
	['the page information (action=info)' => GET => '/index.php?title=Fidelity_page&action=info'],
	['a missing page' => GET => '/wiki/No_such_fidelity_page', status => 404],
	['a redirect page' => GET => '/wiki/Fidelity_redirect', like => qr/Redirected from/],
	['a redirect page with redirect=no' => GET => '/index.php?title=Fidelity_redirect&redirect=no'],
	['a page by index.php?title=' => GET => '/index.php?title=Fidelity_page'],
	['a search that goes to the page' => GET => '/index.php?title=Special:Search&search=Fidelity+page&go=Go',
	    status => 302],
	['a full-text search' => GET => '/index.php?title=Special:Search&search=revision&fulltext=1',
	    like => qr/mw-search-result-heading/],
	['the category page' => GET => '/wiki/Category:Fidelity'],
	['Special:RecentChanges' => GET => '/wiki/Special:RecentChanges', like => qr/second version/],
	['Special:Version' => GET => '/wiki/Special:Version'],
	['Special:AllPages' => GET => '/wiki/Special:AllPages'],
	['Special:WhatLinksHere' => GET => '/wiki/Special:WhatLinksHere/Fidelity_page'],
	['Special:Export' => GET => '/wiki/Special:Export/Fidelity_page'],
	['the edit form, anonymous' => GET => '/index.php?title=Fidelity_page&action=edit'],
	['api.php siteinfo' => GET => q_api(action => 'query', meta => 'siteinfo',
	    siprop => 'general|namespaces|statistics|extensions', format => 'json')],
	['api.php allpages' => GET => q_api(action => 'query', list => 'allpages', format => 'json')],
	['api.php revisions with content' => GET => q_api(action => 'query', prop => 'revisions',
	    titles => 'Fidelity page|Fidelity redirect|Nope', rvprop => 'ids|timestamp|user|comment|content|size|sha1',
	    rvslots => 'main', format => 'json', formatversion => 2)],
	['api.php recentchanges' => GET => q_api(action => 'query', list => 'recentchanges',
	    rcprop => 'title|ids|sizes|user|comment|timestamp', format => 'json')],
	['api.php parse of a page' => GET => q_api(action => 'parse', page => 'Fidelity page',
	    prop => 'text|links|templates|categories|sections|revid|displaytitle', format => 'json')],
	['api.php parse of wikitext' => POST => '/api.php', body => form(action => 'parse',
	    text => "''Hello'' [[Fidelity page]] {{Fidelity box|x}}", title => 'Scratch',
	    contentmodel => 'wikitext', disablelimitreport => 1, format => 'json')],
	['api.php with an unknown action' => GET => q_api(action => 'nosuchaction', format => 'json'),
	    like => qr/"code":"badvalue"/],
	['api.php with an unknown list (a warning)' => GET => q_api(action => 'query', list => 'nosuchlist',
	    format => 'json')],
	['api.php in XML' => GET => q_api(action => 'query', meta => 'userinfo', format => 'xml')],
	['api.php help of a module' => GET => q_api(action => 'help', modules => 'query+info')],
	['api.php opensearch' => GET => q_api(action => 'opensearch', search => 'Fidel', format => 'json')],
	['an anonymous api.php edit without a token' => POST => '/api.php',
	    body => form(action => 'edit', title => 'Fidelity page', text => 'x', format => 'json')],
	['load.php startup module' => GET => '/load.php?modules=startup&only=scripts&raw=1&skin=vector&lang=en'],
	['load.php CSS modules' => GET => '/load.php?modules=mediawiki.skinning.interface%7Cskins.vector.styles.legacy&only=styles&skin=vector&lang=en'],
	['load.php JS modules' => GET => '/load.php?modules=jquery%7Cmediawiki.base&skin=vector&lang=en'],
	['load.php messages of a module' => GET => '/load.php?modules=mediawiki.page.ready&skin=vector&lang=de'],
	['load.php with an unknown module' => GET => '/load.php?modules=no.such.module&skin=vector&lang=en'],
	['rest.php page' => GET => '/rest.php/v1/page/Fidelity_page'],
	['rest.php page html' => GET => '/rest.php/v1/page/Fidelity_page/html', made_by_each => 1],
	['rest.php page history' => GET => '/rest.php/v1/page/Fidelity_page/history'],
	['rest.php search' => GET => '/rest.php/v1/search/page?q=revision&limit=5'],
	['rest.php missing page' => GET => '/rest.php/v1/page/No_such_fidelity_page', status => 404],
	['rest.php unknown route' => GET => '/rest.php/v1/no/such/route', status => 404],
	# The entry points whose body is a function of the script.
	['the OpenSearch description' => GET => '/opensearch_desc.php', like => qr/<OpenSearchDescription /],
	['a thumbnail from thumb.php' => GET => '/thumb.php?f=Fidelity.png&width=40', like => qr/\A\x89PNG/,
	    made_by_each => 1],
	['thumb.php of a missing file' => GET => '/thumb.php?f=No_such_fidelity.png&width=40', status => 404],
	['the image through img_auth.php' => GET => '/img_auth.php/b/b3/Fidelity.png', like => qr/\A\x89PNG/],
	['img_auth.php of a missing file' => GET => '/img_auth.php/b/b3/No_such_fidelity.png', status => 403],
	['thumb_handler.php outside the thumbnail path' => GET => '/thumb_handler.php', status => 400],
	# The constants those scripts define (X-Fidelity-Constants) must not
	# outlive their requests.
	['api.php siteinfo after them' => GET => q_api(action => 'query', meta => 'siteinfo', format => 'json')],
	['the Main Page after them' => GET => '/wiki/Main_Page'],
);

# Every GET once on each stack first: both see the same parser cache.
for my $rq (@ANON) {
	my (undef, $method, $path) = @$rq;
	next unless $method eq 'GET';
	request($_ => GET => $path) for qw(mwsup fpm);
}

sub run_list {
	my ($list) = @_;
	for my $rq (@$list) {
		my ($name, $method, $path, %opt) = @$rq;
		compare($name, $method, $path, %opt);
	}
}
run_list(\@ANON);
# A size not asked for before: each stack scales the image itself, into
# its own thumbnail directory.
my ($thumb) = compare('a thumbnail of a new size, scaled by the warm worker' => GET =>
    '/thumb.php?f=Fidelity.png&width=33', like => qr/\A\x89PNG/, made_by_each => 1);
is(unpack('N', substr($thumb->{body}, 16, 4)), 33, 'the thumbnail mwsup made is 33 pixels wide');
for my $stack (qw(mwsup fpm)) {
	ok(-s "$w->{images}/thumb-$stack/b/b3/Fidelity.png/33px-Fidelity.png",
	    "$stack stored its own 33 px thumbnail, in thumb-$stack/");
}

# --- logged in --------------------------------------------------------------

# Each stack has its own session: what a request carries of it (a token)
# is taken from that stack's own answer before.
my %token;
sub tokens_from {
	my ($type, $m, $f) = @_;
	$token{mwsup}{$type} = json_of($m)->{query}{tokens}{"${type}token"} // '';
	$token{fpm}{$type} = json_of($f)->{query}{tokens}{"${type}token"} // '';
}
tokens_from(login => compare('a login token' => GET => q_api(action => 'query',
    meta => 'tokens', type => 'login', format => 'json'), like => qr/"logintoken":"[0-9a-f]{32,}\+\\\\"/));
compare('clientlogin with the admin password' => POST => '/api.php', body => sub { form(
    action => 'clientlogin', username => $w->{admin_user}, password => $w->{admin_pass},
    logintoken => $token{$_[0]}{login}, loginreturnurl => "http://$HOST/", format => 'json') },
    like => qr/"status":"PASS"/);
tokens_from(csrf => compare('a CSRF token, logged in' => GET => q_api(action => 'query',
    meta => 'tokens', type => 'csrf', format => 'json'), like => qr/"csrftoken":"[0-9a-f]{32,}\+\\\\"/));

run_list([
	['the Main Page, logged in' => GET => '/wiki/Main_Page', like => qr/"wgUserName":"Admin"/],
	['a content page, logged in' => GET => '/wiki/Fidelity_page'],
	['the edit form, logged in' => GET => '/index.php?title=Fidelity_page&action=edit'],
	['Special:Contributions, logged in' => GET => '/wiki/Special:Contributions/Admin',
	    like => qr/second version/],
	['Special:SpecialPages, logged in' => GET => '/wiki/Special:SpecialPages'],
	['api.php userinfo, logged in' => GET => q_api(action => 'query', meta => 'userinfo',
	    uiprop => 'groups|rights|editcount|options', format => 'json'), like => qr/"sysop"/],
	['api.php watchlist' => GET => q_api(action => 'query', list => 'watchlist', format => 'json')],
	['an api.php edit with a bad token' => POST => '/api.php', body => form(action => 'edit',
	    title => 'Fidelity page', appendtext => 'x', token => '+\\', format => 'json'),
	    like => qr/"code":"badtoken"/],
]);

# An edit with each session's own CSRF token, each stack making its own
# page with the same text: the same answer but for the page's title, id,
# revision id and time.
my ($m) = compare('an api.php edit with the session\'s CSRF token' => POST => '/api.php',
    body => sub { form(action => 'edit', title => "Fidelity edit by $_[0]",
	text => "Made through the API.\n\n[[Fidelity page]]", summary => 'fidelity',
	createonly => 1, token => $token{$_[0]}{csrf}, format => 'json') },
    edit => { map { $_ => 1 } qw(title pageid newrevid newtimestamp) },
    like => qr/"result":"Success"/);
is(json_of($m)->{edit}{title}, 'Fidelity edit by mwsup', 'mwsup\'s edit made mwsup\'s page');

tokens_from(csrf => compare('a CSRF token before logging out' => GET => q_api(action => 'query',
    meta => 'tokens', type => 'csrf', format => 'json')));
compare('api.php logout' => POST => '/api.php', body => sub { form(action => 'logout',
    token => $token{$_[0]}{csrf}, format => 'json') });
run_list([
	['the Main Page with the cookies left after logging out' => GET => '/wiki/Main_Page',
	    like => qr/"wgUserName":null/],
]);
$STACK{$_}{jar} = cookie_jar() for qw(mwsup fpm);

# --- anonymous again: nothing of the session stays --------------------------

run_list([
	['the Main Page, anonymous after a logged-in session' => GET => '/wiki/Main_Page',
	    like => qr/"wgUserName":null/],
	['api.php userinfo, anonymous after a logged-in session' => GET => q_api(action => 'query',
	    meta => 'userinfo', uiprop => 'groups|rights|options', format => 'json')],
	['api.php revisions of the edited pages' => GET => q_api(action => 'query', prop => 'info',
	    titles => 'Fidelity page|Fidelity other', format => 'json', formatversion => 2)],
]);

is($NCOMPARED, NCOMPARED, 'the ' . NCOMPARED . ' requests the README names were compared');
# Each stack parsed its pages into its own parser cache.
for my $stack (qw(mwsup fpm)) {
	my ($rc, $out, $err) = run_cmd('sqlite3', "$data/wikicache_$stack.sqlite",
	    "SELECT count(*) FROM objectcache WHERE keyname LIKE '%:pcache:idhash:%'");
	cmp_ok($out =~ /^(\d+)$/ ? $1 : 0, '>', 0, "$stack kept its parser output in its own cache (wikicache_$stack.sqlite)")
		or diag("sqlite3: $rc $out$err");
}
is("@NAMES_PORT", '', 'no answer of nginx + FPM names its own port (one $wgServer for both)');
my @workers = worker_pids($srv);
is(scalar(@workers), 1, 'mwsup served them all with one warm worker');
my @boots = log_text($srv) =~ /checkpoint: \d+ globals/g;
is(scalar(@boots), 1, 'one bootstrap: opensearch_desc.php, thumb.php, img_auth.php and thumb_handler.php ran warm too');
log_unlike($srv, qr/recycling|warm mode off|PHP (?:Warning|Fatal|Deprecated)/,
    'no warning or deprecation, no recycling, warm mode stays on');
# MWSUP_WARM_VERIFY: after each of these requests, every kept and every
# reset service was searched for anything of the request.
log_unlike($srv, qr/is not (?:kept across requests|reset but made for each request)/,
    'no kept or reset service held anything of a request after any of them');
stopped_cleanly($srv);
done_testing();
