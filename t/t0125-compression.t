#!/usr/bin/perl
# Compressed answers, as a browser asking "Accept-Encoding: gzip, br"
# gets them: MediaWiki's pages, load.php and the API from warm workers,
# MediaWiki's assets and uploads from the supervisor.  Each decodes to the
# very bytes an identity answer has; the coding follows the client's
# q-values; Vary names Accept-Encoding once; ETags differ per coding and
# conditional requests use them; ranges, small answers, other types and
# answers already encoded are sent as they are; a .gz/.br file beside a
# static file is sent for it; a big answer streams through the encoder
# over HTTP/1.1 (chunked) and HTTP/1.0 (until close).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP qw(decode_json);
use Test::More;
use MwTest;

my $brotli = (grep { -x "$_/brotli" } split /:/, $ENV{PATH})[0];
BAIL_OUT('no brotli command (package brotli; tools/deps --test)')
	unless $brotli;
my $tmp = test_dir();

sub ungzip {
	my ($in) = @_;
	my $out;
	gunzip(\$in => \$out) or return "(not gzip: $GunzipError)";
	return $out;
}

sub unbrotli {
	my ($in) = @_;
	write_file("$tmp/in.br", $in);
	my ($rc, $out, $err) = run_cmd("$brotli/brotli", '-d', '-c', "$tmp/in.br");
	return $rc == 0 ? $out : "(not brotli: $err)";
}

# The body as sent, decoded by its Content-Encoding.
sub decoded {
	my ($r) = @_;
	my $ce = $r->{headers}{'content-encoding'} // '';
	return ungzip($r->{body}) if $ce eq 'gzip';
	return unbrotli($r->{body}) if $ce eq 'br';
	return $r->{body};
}

sub get {
	my ($path, $ae, %h) = @_;
	return http('GET', $path, { (defined $ae ? ('Accept-Encoding' => $ae) : ()), %h });
}

# Accept-Encoding appears once in Vary (however the list is written).
sub vary_ae_count {
	my ($r) = @_;
	my @t = grep { lc($_) eq 'accept-encoding' } map { s/^\s+|\s+$//gr }
	    split /,/, $r->{headers}{vary} // '';
	return scalar @t;
}

my $w = wiki();
# A page answer with its own Vary (without Accept-Encoding) and a strong
# ETag, as a script of a site may send: OutputPage's Vary list is set
# once the skin is done, so the hook edits that list.
append_settings($w, <<'PHP');
$wgHooks['AfterFinalPageOutput'][] = static function ( $out ) {
	if ( $out->getRequest()->getVal( 'mwsuptest' ) === 'vary' ) {
		( function () {
			unset( $this->mVaryHeader['Accept-Encoding'] );
			$this->mVaryHeader['X-Mwsup-Test'] = null;
		} )->call( $out );
		header( 'ETag: "mwsup-strong-1"' );
	}
};
PHP

# Uploads: a stylesheet with siblings, a small one, a CSV (not a
# compressed type), a PNG.
my $up = "$w->{images}/c/cd";
system('mkdir', '-p', $up) == 0 or die "mkdir $up\n";
my $css = join('', map { ".rule-$_ { color: #$_$_$_; margin: ${_}px; }\n" } 100 .. 400);
write_file("$up/Style.css", $css);
my $sib_text = "/* the precompressed sibling, not Style.css itself */\n" x 20;
my $gz;
gzip(\$sib_text => \$gz) or die "gzip: $GzipError\n";
write_file("$up/Style.css.gz", $gz);
write_file("$tmp/sib.txt", $sib_text);
my ($rc) = run_cmd("$brotli/brotli", '-f', '-o', "$up/Style.css.br", "$tmp/sib.txt");
die "brotli failed\n" if $rc;
# as "brotli -k Style.css" leaves it: the file's mtime in whole seconds
my $mt = (stat "$up/Style.css")[9];
utime($mt, $mt, "$up/Style.css.br");
write_file("$up/Old.css", $css);
write_file("$up/Old.css.gz", $gz);
my $past = time() - 3600;
utime($past, $past, "$up/Old.css.gz");
write_file("$up/Tiny.css", ".a { color: red; }\n");
write_file("$up/Data.csv", join('', map { "$_,row $_,some text\n" } 1 .. 200));

my $srv = start_mwsup($w->{config});

# --- PHP answers ------------------------------------------------------------

my $main = '/wiki/Main_Page';
my $id = get($main);
http('GET', $main) for 1 .. 2;	# a warm worker from here on
my $gzr = get($main, 'gzip, deflate, br;q=0');
my $brr = get($main, 'gzip, deflate, br');
subtest 'Main Page (warm worker): gzip and br decode to the identity page' => sub {
	is($id->{status}, 200, 'identity: 200');
	ok(!exists $id->{headers}{'content-encoding'}, 'identity: no Content-Encoding');
	is($gzr->{headers}{'content-encoding'}, 'gzip', 'br;q=0: gzip');
	is($brr->{headers}{'content-encoding'}, 'br', 'br and gzip: br');
	cmp_ok(length $gzr->{body}, '<', length($id->{body}) / 2,
	    'gzip is less than half the size (' . length($gzr->{body}) . ' of ' . length($id->{body}) . ')');
	is($gzr->{headers}{'content-length'}, length $gzr->{body}, 'Content-Length is the encoded length');
	my ($n_id, $n_gz, $n_br) = map { normalised({ %$_, body => decoded($_) }) } $id, $gzr, $brr;
	is($n_gz, $n_id, 'gzip decodes to the identity page (request ids and times aside)');
	is($n_br, $n_id, 'br decodes to the identity page');
	is(vary_ae_count($_), 1, "Vary names Accept-Encoding once ($_->{headers}{vary})")
		for $id, $gzr, $brr;
};

my $lp = '/load.php?lang=en&modules=startup&only=scripts&raw=1&skin=vector';
my $lid = get($lp);
subtest 'load.php startup: each coding decodes byte for byte' => sub {
	is($lid->{status}, 200, 'identity: 200');
	for my $ae ('gzip', 'br') {
		my $r = get($lp, $ae);
		is($r->{headers}{'content-encoding'}, $ae, "$ae: Content-Encoding $ae");
		ok(decoded($r) eq $lid->{body}, "$ae: decoded body is the identity body (" .
		    length($r->{body}) . ' bytes for ' . length($lid->{body}) . ')');
	}
};

subtest 'load.php: 304 for its weak ETag, under any coding' => sub {
	my $etag = $lid->{headers}{etag};
	like($etag, qr{^W/"}, "load.php sends a weak ETag ($etag)");
	for my $ae ('gzip', 'br', undef) {
		my $r = get($lp, $ae, 'If-None-Match' => $etag);
		is($r->{status}, 304, 'If-None-Match with it: 304 (' . ($ae // 'identity') . ')');
		is($r->{body}, '', 'no body');
		# RFC 9110 15.4.5: a 304 carries the Vary the 200 would
		is(vary_ae_count($r), 1, 'the 304 says Vary: Accept-Encoding (' .
		    ($r->{headers}{vary} // 'none') . ')');
	}
	my $g = get($lp, 'gzip');
	is($g->{headers}{etag}, $etag, 'a weak ETag stays as it is when encoded');
};

subtest 'negotiation: q-values, identity;q=0, *, x-gzip' => sub {
	for my $c (['gzip;q=0', undef], ['gzip;q=0, br', 'br'], ['br;q=0.5, gzip', 'gzip'],
	    ['br;q=0.5, gzip;q=0.5', 'br'], ['*', 'br'], ['*;q=0.2, gzip', 'gzip'],
	    ['x-gzip', 'gzip'], ['gzip, identity;q=0', 'gzip'], ['identity;q=0', undef],
	    ['deflate, compress', undef], ['GZIP;Q=1.000', 'gzip'], ['gzip;q=2', undef],
	    ['identity, gzip;q=0.5', undef], ['', undef]) {
		my ($ae, $want) = @$c;
		my $r = get($lp, $ae);
		is($r->{headers}{'content-encoding'}, $want,
		    "\"$ae\": " . ($want // 'identity'));
		ok(decoded($r) eq $lid->{body}, "\"$ae\": the body decodes to the identity one");
	}
};

subtest 'Vary merged into the script\'s own; a strong ETag made weak' => sub {
	my $p = '/index.php?title=Main_Page&mwsuptest=vary';
	my $i = get($p);
	my $g = get($p, 'gzip');
	for my $r ($i, $g) {
		like($r->{headers}{vary}, qr/X-Mwsup-Test/, "the script's Vary is kept ($r->{headers}{vary})");
		is(vary_ae_count($r), 1, 'Accept-Encoding added once');
	}
	is($i->{headers}{etag}, '"mwsup-strong-1"', 'identity: the ETag as the script set it');
	is($g->{headers}{'content-encoding'}, 'gzip', 'gzip');
	is($g->{headers}{etag}, 'W/"mwsup-strong-1"', 'gzip: the same ETag, weak');
};

subtest 'HEAD gives the head a GET would have, without a body' => sub {
	my ($v, $r) = once($srv->{port}, 'HEAD', $main, headers => { 'Accept-Encoding' => 'gzip' });
	is($v, 'complete', 'a complete answer');
	is($r->{headers}{'content-encoding'}, 'gzip', 'Content-Encoding: gzip');
	is(vary_ae_count($r), 1, 'Vary: Accept-Encoding');
	ok(!defined $r->{headers}{'content-length'}, 'no Content-Length (the encoded length is not known)');
	is($r->{body}, '', 'no body');
	my $s = "/images/c/cd/Style.css";
	my $get = get($s, 'gzip');
	($v, $r) = once($srv->{port}, 'HEAD', $s, headers => { 'Accept-Encoding' => 'gzip' });
	is($r->{headers}{'content-encoding'}, 'gzip', 'static HEAD: Content-Encoding: gzip');
	is($r->{headers}{'content-length'}, length $get->{body}, 'static HEAD: the length of the GET\'s encoded body');
	is(vary_ae_count($r), 1, 'static HEAD: Vary: Accept-Encoding');
	# without Accept-Encoding too: the answer still depends on it (nginx's
	# gzip_vary sends Vary on these HEADs as well)
	for my $p ($main, $s) {
		($v, $r) = once($srv->{port}, 'HEAD', $p);
		is($r->{status}, 200, "$p HEAD, no Accept-Encoding: 200");
		ok(!exists $r->{headers}{'content-encoding'}, "$p HEAD, no Accept-Encoding: no Content-Encoding");
		is(vary_ae_count($r), 1, "$p HEAD, no Accept-Encoding: Vary: Accept-Encoding");
	}
};

# api.php allmessages: about 1 MB of JSON, more than a worker holds back,
# so it streams through the encoder.
my $big = '/api.php?action=query&meta=allmessages&amlimit=max&format=json';
my $bid = get($big);
subtest 'a big answer streams encoded, HTTP/1.1 chunked and HTTP/1.0' => sub {
	cmp_ok(length $bid->{body}, '>', 512 * 1024, 'the identity answer is big (' . length($bid->{body}) . ' bytes)');
	for my $ae ('gzip', 'br') {
		my ($v, $r) = once($srv->{port}, 'GET', $big, headers => { 'Accept-Encoding' => $ae });
		is($v, 'complete', "$ae, HTTP/1.1: a complete answer");
		like($r->{headers}{'transfer-encoding'} // '', qr/chunked/, "$ae, HTTP/1.1: chunked");
		is($r->{headers}{'content-encoding'}, $ae, "$ae: Content-Encoding $ae");
		ok(decoded($r) eq $bid->{body}, "$ae, HTTP/1.1: decodes to the identity answer (" . length($r->{body}) . ' bytes)');
	}
	my $out = raw($srv->{port}, "GET $big HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n", timeout => 60);
	my $r = parse_response($out);
	is($r->{headers}{'content-encoding'}, 'gzip', 'HTTP/1.0: gzip');
	ok(!defined $r->{headers}{'content-length'} && !defined $r->{headers}{'transfer-encoding'},
	    'HTTP/1.0: delimited by the end of the connection');
	ok(decoded($r) eq $bid->{body}, 'HTTP/1.0: decodes to the identity answer');
};

# --- static files ---------------------------------------------------------

my $js = '/resources/lib/jquery/jquery.js';
my $jid = get($js);
subtest 'static: a MediaWiki asset and an upload, each coding byte for byte' => sub {
	for my $p ($js, '/images/c/cd/Old.css') {
		my $i = get($p);
		is($i->{status}, 200, "$p: 200");
		is(vary_ae_count($i), 1, "$p identity: Vary: Accept-Encoding");
		for my $ae ('gzip', 'br') {
			my $r = get($p, $ae);
			is($r->{headers}{'content-encoding'}, $ae, "$p: $ae");
			is($r->{headers}{'content-length'}, length $r->{body}, "$p $ae: Content-Length is the encoded length");
			is(vary_ae_count($r), 1, "$p $ae: Vary: Accept-Encoding");
			ok(!exists $r->{headers}{'accept-ranges'}, "$p $ae: no Accept-Ranges");
			ok(decoded($r) eq $i->{body}, "$p $ae: decodes to the file");
			my $again = get($p, $ae);
			ok($again->{body} eq $r->{body}, "$p $ae: the same bytes the second time (cached)");
		}
	}
	is(get('/images/c/cd/Old.css', 'gzip')->{body} =~ /precompressed/ ? 1 : 0, 0,
	    'an older .gz sibling is not used');
};

subtest 'static: ETag per coding, 304 only for the coding sent' => sub {
	my $gzr = get($js, 'gzip');
	my $brr = get($js, 'br');
	my %tag = (identity => $jid->{headers}{etag}, gzip => $gzr->{headers}{etag},
	    br => $brr->{headers}{etag});
	like($tag{identity}, qr/^"[0-9a-f]+-[0-9a-f]+"$/, "identity: nginx's tag ($tag{identity})");
	is($tag{gzip}, substr($tag{identity}, 0, -1) . '-gzip"', "gzip: the tag with -gzip ($tag{gzip})");
	is($tag{br}, substr($tag{identity}, 0, -1) . '-br"', "br: the tag with -br ($tag{br})");
	is(get($js, 'gzip', 'If-None-Match' => $tag{gzip})->{status}, 304, 'gzip tag, gzip asked: 304');
	is(get($js, 'br', 'If-None-Match' => $tag{br})->{status}, 304, 'br tag, br asked: 304');
	is(get($js, 'br', 'If-None-Match' => $tag{gzip})->{status}, 200, 'gzip tag, br asked: 200');
	is(get($js, undef, 'If-None-Match' => $tag{gzip})->{status}, 200, 'gzip tag, no coding asked: 200');
	is(get($js, 'gzip', 'If-None-Match' => $tag{identity})->{status}, 200, 'identity tag, gzip asked: 200');
	is(vary_ae_count(get($js, 'gzip', 'If-None-Match' => $tag{gzip})), 1, 'the 304 says Vary: Accept-Encoding');
	my $r = get($js, undef, 'If-None-Match' => $tag{identity});
	is($r->{status}, 304, 'identity tag, no coding asked: 304');
	is(vary_ae_count($r), 1, 'and that 304 says Vary: Accept-Encoding too');
};

subtest 'static: a range is of the file itself, never encoded' => sub {
	my $r = get($js, 'gzip, br', Range => 'bytes=100-199');
	is($r->{status}, 206, '206');
	ok(!exists $r->{headers}{'content-encoding'}, 'no Content-Encoding');
	is($r->{body}, substr($jid->{body}, 100, 100), 'the bytes 100-199 of the file');
	is($r->{headers}{etag}, $jid->{headers}{etag}, 'the identity ETag');
};

subtest 'static: a .gz or .br sibling is sent for the file' => sub {
	my $g = get('/images/c/cd/Style.css', 'gzip');
	is($g->{headers}{'content-encoding'}, 'gzip', 'gzip');
	is(decoded($g), $sib_text, 'the body is Style.css.gz');
	my $b = get('/images/c/cd/Style.css', 'br');
	is($b->{headers}{'content-encoding'}, 'br', 'br');
	is(decoded($b), $sib_text, 'the body is Style.css.br');
	is(get('/images/c/cd/Style.css')->{body}, $css, 'identity: Style.css itself');
};

subtest 'static: a changed file is encoded again; a sibling of another owner is not used' => sub {
	my $f = "$up/Old.css";
	my $before = decoded(get('/images/c/cd/Old.css', 'br'));
	is($before, $css, 'br: the file as it was');
	my $new = $css . ".added { color: blue; }\n";
	write_file($f, $new);
	my $later = time() + 5;
	utime($later, $later, $f);	# a new mtime, whatever the clock's grain
	for my $ae ('br', 'gzip') {
		my $r = get('/images/c/cd/Old.css', $ae);
		is($r->{headers}{'content-encoding'}, $ae, "$ae after the change");
		ok(decoded($r) eq $new, "$ae: decodes to the file as it is now");
	}
	SKIP: {
		skip 'not root: cannot give the sibling another owner', 2 unless $> == 0;
		my $g = "$up/Owned.css";
		write_file($g, $css);
		write_file("$g.gz", $gz);
		chown((getpwnam('nobody'))[2], -1, "$g.gz") or die "chown: $!\n";
		my $r = get('/images/c/cd/Owned.css', 'gzip');
		is($r->{headers}{'content-encoding'}, 'gzip', 'gzip');
		ok(decoded($r) eq $css, 'the file itself, encoded: its .gz has another owner');
	}
};

subtest 'static: small files and other types go as they are' => sub {
	for my $c (['/images/c/cd/Tiny.css', 'smaller than min_size'],
	    ['/images/c/cd/Data.csv', 'text/csv is not in compression.types'],
	    ['/resources/assets/poweredby_mediawiki_88x31.png', 'an image']) {
		my ($p, $why) = @$c;
		my $r = get($p, 'gzip, br');
		is($r->{status}, 200, "$p: 200");
		ok(!exists $r->{headers}{'content-encoding'}, "$p: not encoded ($why)");
		is(vary_ae_count($r), 0, "$p: no Vary: Accept-Encoding");
	}
};

sub status_out {
	my ($rc, $out, $err) = run_cmd(mwsup_bin(), 'status', '-c', $w->{config}, @_);
	return $rc == 0 ? $out : "(mwsup status @_: $rc $err)";
}

subtest 'mwsup status counts the compressed-file cache (text, JSON, Prometheus)' => sub {
	my $p = '/images/c/cd/Counted.css';
	write_file("$up/Counted.css", $css . "/* counted */\n");
	my $s0 = eval { decode_json(status_out('--json')) } // {};
	my $first = get($p, 'gzip');
	my $second = get($p, 'gzip');
	is($first->{headers}{'content-encoding'}, 'gzip', 'a new file, gzip-encoded');
	ok(decoded($second) eq $css . "/* counted */\n", 'the second answer decodes to it too');
	my $s1 = eval { decode_json(status_out('--json')) } // {};
	is($s1->{zcache_misses} - $s0->{zcache_misses}, 1, 'JSON: one miss (the first answer encoded it)');
	is($s1->{zcache_hits} - $s0->{zcache_hits}, 1, 'JSON: one hit (the second came from the cache)');
	is($s1->{zcache_entries} - $s0->{zcache_entries}, 1, "JSON: one entry more ($s1->{zcache_entries})");
	is($s1->{zcache_bytes} - $s0->{zcache_bytes}, length $first->{body},
	    "JSON: the entry's bytes are the encoded length ($s1->{zcache_bytes} in all)");
	like(status_out(), qr/^static compression: $s1->{zcache_hits} hits, $s1->{zcache_misses} misses; $s1->{zcache_entries} entries, $s1->{zcache_bytes} bytes$/m,
	    'text: the same figures');
	my $prom = status_out('--prometheus');
	like($prom, qr/^mwsup_zcache_${_}_total $s1->{"zcache_$_"}$/m, "Prometheus: mwsup_zcache_${_}_total")
	    for qw(hits misses);
	like($prom, qr/^mwsup_zcache_$_ $s1->{"zcache_$_"}$/m, "Prometheus: mwsup_zcache_$_") for
	    qw(entries bytes);
	# a changed file: its old form is dropped, the new one made
	my $later = time() + 7;
	utime($later, $later, "$up/Counted.css");
	get($p, 'gzip');
	my $s2 = eval { decode_json(status_out('--json')) } // {};
	is($s2->{zcache_misses} - $s1->{zcache_misses}, 1, 'changed: one miss more');
	is($s2->{zcache_entries}, $s1->{zcache_entries}, 'and the same number of entries (the stale one dropped)');
};

# --- a second server: other settings, PHP compressing itself --------------

# output_buffering 0: MediaWiki installs its own output handler, which
# gzips for a client that accepts gzip and says so in Content-Encoding.
my $two = "$w->{dir}/mw-two.yaml";
write_file($two, read_file($w->{config}));
my $port2 = free_port();
set_yaml($two, listen => ["127.0.0.1:$port2"], 'jobs.enabled' => 'false',
    'php.output_buffering' => '0');
my $t = read_file($two);
$t .= "\ncompression:\n  gzip: 1\n  brotli: off\n  min_size: 20000\n  types: [text/css, application/*]\n";
write_file($two, $t);
my $srv2 = start_mwsup($two);
my $o = { port => $port2 };
subtest 'an answer PHP encoded itself is not encoded again' => sub {
	my $r = http('GET', $main, { 'Accept-Encoding' => 'gzip' }, undef, $o);
	is($r->{status}, 200, 'status 200');
	is($r->{headers}{'content-encoding'}, 'gzip', 'gzip, by MediaWiki');
	like(decoded($r), qr/^<!DOCTYPE html>/, 'decoding once gives the page');
};
subtest 'min_size, types, brotli off' => sub {
	my $r = http('GET', '/images/c/cd/Old.css', { 'Accept-Encoding' => 'br, gzip' }, undef, $o);
	ok(!exists $r->{headers}{'content-encoding'}, 'a 12 KB file under min_size 20000: not encoded');
	$r = http('GET', $js, { 'Accept-Encoding' => 'br, gzip' }, undef, $o);
	ok(!exists $r->{headers}{'content-encoding'}, 'text/javascript, not in types: not encoded');
	$r = http('GET', $big, { 'Accept-Encoding' => 'br, gzip' }, undef, $o);
	is($r->{headers}{'content-encoding'}, 'gzip', 'application/json by application/*: gzip, br being off');
	ok(decoded($r) eq $bid->{body}, 'and decodes to the identity answer');
};

# --- a third server: the highest levels, and the cap on static files ------

# The supervisor compresses a static file in its event loop: at gzip and
# brotli level 6 at most, whatever mw.yaml says, and a file over 512 KB
# not at all (zcache.h).  Workers use the level as set.
use Compress::Raw::Zlib qw(Z_OK Z_STREAM_END);
sub raw_deflate {	# zlib's deflate of $in at $level, as the server runs it
	my ($in, $level) = @_;
	my ($d, $st) = Compress::Raw::Zlib::Deflate->new(-Level => $level,
	    -WindowBits => -15, -MemLevel => 8, -AppendOutput => 1);
	die "deflateInit: $st\n" unless $st == Z_OK;
	my $out = '';
	$d->deflate($in, $out) == Z_OK or die "deflate\n";
	$d->flush($out) == Z_OK or die "deflate flush\n";
	return $out;
}
write_file("$up/Huge.css", join('', map { ".huge-$_ { margin: ${_}px; }\n" } 1 .. 25000));
my $three = "$w->{dir}/mw-three.yaml";
write_file($three, read_file($w->{config}));
my $port3 = free_port();
set_yaml($three, listen => ["127.0.0.1:$port3"], 'jobs.enabled' => 'false', 'pool.workers' => 1);
write_file($three, read_file($three) . "\ncompression:\n  gzip: 9\n  brotli: 11\n");
my $srv3 = start_mwsup($three);
my $o3 = { port => $port3 };
subtest 'gzip 9 and brotli 11 set: static files compressed at level 6, PHP at 9' => sub {
	my $g = http('GET', $js, { 'Accept-Encoding' => 'gzip' }, undef, $o3);
	is($g->{headers}{'content-encoding'}, 'gzip', "$js: gzip");
	ok(decoded($g) eq $jid->{body}, "$js: decodes to the file");
	my ($l6, $l9) = (raw_deflate($jid->{body}, 6), raw_deflate($jid->{body}, 9));
	isnt(length $l6, length $l9, 'zlib gives this file different bytes at 6 and 9 (' .
	    length($l6) . ' and ' . length($l9) . '), so the level shows');
	# a gzip stream: 10 bytes of header (XFL, the 9th, is 2 only at level
	# 9), the deflate stream, 8 bytes of trailer
	my $body = substr($g->{body}, 10, length($g->{body}) - 18);
	ok($body eq $l6, 'the deflate stream is zlib\'s at level 6 (' . length($body) . ' bytes)');
	is(ord(substr($g->{body}, 8, 1)), 0, 'and the gzip header\'s XFL says so (0; level 9 sets 2)');
	my $b = http('GET', $js, { 'Accept-Encoding' => 'br' }, undef, $o3);
	is($b->{headers}{'content-encoding'}, 'br', "$js: br");
	ok(decoded($b) eq $jid->{body}, "$js: decodes to the file");
	write_file("$tmp/jq.js", $jid->{body});
	my %q;
	for my $q (6, 11) {
		my ($rc) = run_cmd("$brotli/brotli", '-f', '-q', $q, '-w', 18, '-o', "$tmp/jq.$q.br", "$tmp/jq.js");
		$q{$q} = -s "$tmp/jq.$q.br";
	}
	cmp_ok($q{11}, '<', $q{6}, "the brotli command: $q{6} bytes at 6, $q{11} at 11");
	ok($b->{body} eq read_file("$tmp/jq.6.br"), 'the br answer (' . length($b->{body}) .
	    ' bytes) is byte for byte the command\'s at level 6 (window 18, as the server)');
	my $h = http('GET', '/images/c/cd/Huge.css', { 'Accept-Encoding' => 'gzip, br' }, undef, $o3);
	cmp_ok(length $h->{body}, '>', 512 * 1024, 'a stylesheet over 512 KB (' . length($h->{body}) . ' bytes)');
	ok(!exists $h->{headers}{'content-encoding'}, 'is sent as it is');
	is(vary_ae_count($h), 1, 'still with Vary: Accept-Encoding');
	my $pid = http('GET', $lp, {}, undef, $o3);
	my $p = http('GET', $lp, { 'Accept-Encoding' => 'gzip' }, undef, $o3);
	is($p->{headers}{'content-encoding'}, 'gzip', 'load.php: gzip');
	ok(decoded($p) eq $pid->{body}, 'load.php: decodes to the identity answer');
	is(ord(substr($p->{body}, 8, 1)), 2, 'a worker\'s answer is at level 9 (XFL 2): the cap is the supervisor\'s');
};
stopped_cleanly($srv3);

stopped_cleanly($srv2);
stopped_cleanly($srv);
log_unlike($srv, qr/out of memory|encoding .*:|ERROR/i, 'no encoding failure in the log');
done_testing();
