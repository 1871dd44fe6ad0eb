#!/usr/bin/perl
# mwsup's command line and the checking of mw.yaml (mwsup -t -c FILE):
# good files pass, each kind of mistake is refused with exit status 2 and a
# "FILE:LINE:COLUMN: message" that points at the mistake.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MwTest;

my $mwsup = mwsup_bin();
BAIL_OUT("no mwsup binary at $mwsup (build first, or set MWSUP_BUILD)")
	unless -x $mwsup;

my $default = repo_dir() . '/etc/mw.yaml';
my $base = read_file($default);
my $dir = test_dir();

my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $default);
is($rc, 0, 'the shipped etc/mw.yaml passes the check (exit 0)')
	or diag($err);

my $w = wiki();
($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $w->{config});
is($rc, 0, 'the mw.yaml written by tools/mkwiki passes the check (exit 0)')
	or diag($err);

# bad_config(name, regex, replacement, expected message, description):
# etc/mw.yaml with the first line matching regex replaced; mwsup -t must
# exit 2 and report that line, with a message matching expected.
my $n = 0;
sub bad_config {
	my ($name, $from, $to, $msg, $what) = @_;
	my @lines = split /\n/, $base, -1;
	my ($lineno) = grep { $lines[$_] =~ $from } 0 .. $#lines;
	die "test bug: no line matches $from in etc/mw.yaml\n" unless defined $lineno;
	$lines[$lineno] = $to;
	my $file = "$dir/$name.yaml";
	write_file($file, join("\n", @lines));
	my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $file);
	my $line = $lineno + 1;
	subtest $what => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/(?:^|\s)\Q$file\E:$line:\d+: /m,
		    "stderr points at $name.yaml line $line");
		like($err, $msg, 'the message names the problem');
	};
}

bad_config('unknown-key', qr/^  queue_max:/, '  frobnicate: 3',
    qr/frobnicate/, 'an unknown key is refused and named');
bad_config('unknown-section', qr/^recycle:/, 'recycel:',
    qr/recycel/, 'an unknown top-level section is refused and named');
bad_config('workers-type', qr/^  workers:/, '  workers: lots',
    qr/workers/, 'a word where a number belongs is refused (workers: lots)');
bad_config('workers-zero', qr/^  workers:/, '  workers: 0',
    qr/workers/, 'a pool of zero workers is refused as out of range');
bad_config('gc-interval-zero', qr/^  gc_interval:/, '  gc_interval: 0',
    qr/gc_interval/, 'a cycle collection every 0 requests is refused as out of range');
bad_config('reset-type', qr/^  reset:/, '  reset: core',
    qr/snapshot\.reset: expected a sequence of names/,
    'snapshot.reset must be a list, even of one name');
bad_config('reset-name', qr/^  reset:/, '  reset: [core, "Parser Factory"]',
    qr/snapshot\.reset: "Parser Factory" is not a service name/,
    'a service name with a space in it is refused');
bad_config('port-range', qr/^  - 127\.0\.0\.1:8080/, '  - 127.0.0.1:70000',
    qr/70000|port/, 'a listen port above 65535 is refused');
bad_config('proxy-trusted', qr/^  trusted: \[\]/, '  trusted: [10.0.0.0/33]',
    qr/proxy\.trusted: expected an IPv4 or IPv6 address, optionally with \/prefix-length, or "unix"/,
    'proxy.trusted refuses a network with a prefix longer than the address');
bad_config('proxy-header', qr/^  header: X-Forwarded-For/, '  header: "X Forwarded For"',
    qr/proxy\.header: "X Forwarded For" is not a header name/, 'proxy.header must be a header name');
bad_config('proxy-header-null', qr/^  header: X-Forwarded-For/, '  header: null',
    qr/proxy\.header: expected a header name/, 'proxy.header cannot be null (proto_header can)');
bad_config('listen-map-key', qr/^  - 127\.0\.0\.1:8080/, '  - {address: "127.0.0.1:8080", proxy: true}',
    qr/listen: unknown key "proxy" \(address, proxy_protocol\)/, 'a listen entry\'s unknown key is refused');
bad_config('listen-map-bool', qr/^  - 127\.0\.0\.1:8080/,
    '  - {address: "127.0.0.1:8080", proxy_protocol: yes}',
    qr/listen: proxy_protocol: expected true or false/, 'proxy_protocol must be true or false');
bad_config('listen-map-address', qr/^  - 127\.0\.0\.1:8080/, '  - {proxy_protocol: true}',
    qr/listen: an entry written as a mapping needs "address"/, 'a listen mapping without address is refused');
bad_config('listen-map-port', qr/^  - 127\.0\.0\.1:8080/,
    '  - {address: "127.0.0.1:0", proxy_protocol: true}',
    qr/listen "127\.0\.0\.1:0": port must be/, 'its address is checked as a plain entry\'s');
{
	my $good = "$dir/listen-proxy.yaml";
	my $text = $base =~ s/^  - 127\.0\.0\.1:8080$/  - {address: "127.0.0.1:8080", proxy_protocol: true}\n  - unix:\/run\/mw.sock/mr;
	$text =~ s/^  trusted: \[\]$/  trusted: [10.0.0.0\/8, "fd00::\/8", unix]/m;
	$text =~ s/^  proto_header: X-Forwarded-Proto.*$/  proto_header: null/m;
	write_file($good, $text);
	my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $good);
	is($rc, 0, 'a proxy_protocol listen entry, proxy.trusted networks and a null proto_header pass')
		or diag($err);
	# proxy_protocol takes YAML's booleans as every other boolean does
	for my $b (['TRUE', 1], ['True', 1], ['False', 0]) {
		my $t = $text =~ s/^(  - \{address: "127\.0\.0\.1:8080", proxy_protocol:) true\}$/$1 $b->[0]}/mr;
		isnt($t, $text, "a listen entry with proxy_protocol: $b->[0]");
		write_file($good, $t);
		($rc, $out, $err) = run_cmd($mwsup, '--dump', '-c', $good);
		my ($first) = $out =~ /^listen:\n(  - .*\n(?:    .*\n)*)/m;
		is($rc . ' ' . (($first // '') =~ /^    proxy_protocol: true$/m ? 1 : 0),
		    "0 $b->[1]", "proxy_protocol: $b->[0] is taken as "
		    . ($b->[1] ? 'true' : 'false')) or diag($err, $out);
	}
}
bad_config('errpage-status', qr/^  # 503: \/etc\/mwsup\/503\.html/, '  302: /etc/mwsup/302.html',
    qr/error_pages: "?302"? is not an HTTP error status \(400 to 599\)/, 'error_pages refuses a status that is no error');
bad_config('errpage-word', qr/^  # 503: \/etc\/mwsup\/503\.html/, '  busy: /etc/mwsup/503.html',
    qr/error_pages: "?busy"? is not an HTTP error status/, 'or a word');
bad_config('errpage-relative', qr/^  # 503: \/etc\/mwsup\/503\.html/, '  503: pages/503.html',
    qr/error_pages\.503: expected an absolute path/, 'error_pages refuses a relative path');
bad_config('dispatch', qr/^  dispatch:/, '  dispatch: fastest',
    qr/dispatch|fastest/, 'an unknown dispatch policy is refused');
bad_config('relative-root', qr/^  root:/, '  root: usr/share/mediawiki',
    qr/root|absolute/, 'a relative MediaWiki root is refused');
bad_config('timeout-type', qr/^  request:/, '  request: soon',
    qr/request|soon/, 'a timeout that is not a number of seconds is refused');
bad_config('size-suffix', qr/^  body: 100M/, '  body: 100Q',
    qr/body|100Q/, 'a size with an unknown suffix is refused');
bad_config('response-buffer-range', qr/^  response_buffer:/, '  response_buffer: 2G',
    qr/limits\.response_buffer: expected a size from 0 to 1G/, 'limits.response_buffer above 1G is refused');
bad_config('body-buffer-type', qr/^  body_buffer:/, '  body_buffer: lots',
    qr/limits\.body_buffer/, 'limits.body_buffer must be a size');
bad_config('temp-dir-relative', qr/^temp_dir:/, 'temp_dir: tmp/mwsup',
    qr/temp_dir: expected an absolute path/, 'temp_dir must be an absolute path');
bad_config('jobs-reserve', qr/^  reserve:/, '  reserve: some',
    qr/jobs\.reserve/, 'jobs.reserve must be a number');
bad_config('jobs-sqlite', qr/^  # sqlite:/, '  sqlite: data/wiki.sqlite',
    qr/jobs\.sqlite: expected an absolute path/, 'jobs.sqlite must be an absolute path');
bad_config('jobs-group-type-twice', qr/^  # groups:/,
    "  groups: [{name: a, types: [refreshLinks]}, {name: b, types: [x, refreshLinks]}]",
    qr/job type refreshLinks is already in group "a"/, 'a job type in two groups is refused');
bad_config('jobs-group-two-catchall', qr/^  # groups:/,
    "  groups: [{name: a}, {name: b}]",
    qr/both have no types/, 'only one group may take every other type');
bad_config('jobs-group-no-name', qr/^  # groups:/,
    "  groups: [{types: [x]}]",
    qr/jobs\.groups\[1\]: a group needs a name/, 'a group needs a name');
bad_config('jobs-group-key', qr/^  # groups:/,
    "  groups: [{name: a, priority: 3}]",
    qr/unknown key "priority" in jobs\.groups\[1\]/, 'an unknown key in a group is named');
bad_config('static-symlinks', qr{^  symlinks: inside}, '  symlinks: sometimes',
    qr/static\.symlinks: expected "refuse", "inside", "owner" or "follow", got "sometimes"/,
    'an unknown static.symlinks policy is refused');
bad_config('static-types-type', qr{^  symlinks: inside}, '  types: {png: image}',
    qr/:\d+:\d+: static\.types "png": expected a media type like "image\/png", got "image"/,
    'a static.types entry that is not a media type is refused');
bad_config('static-types-ext', qr{^  symlinks: inside}, '  types: {".png": image/png}',
    qr/:\d+:\d+: static\.types "\.png": an extension is up to 32 letters/,
    'a static.types extension is written without its dot');
bad_config('static-types-map', qr{^  symlinks: inside}, '  types: [png, image/png]',
    qr/static\.types: expected a mapping of file name extension to media type, got a sequence/,
    'static.types is a mapping');
bad_config('compression-level', qr{^  gzip: 5}, '  gzip: 10',
    qr/:\d+:\d+: compression\.gzip: expected "off" or a level from 1 to 9, got "10"/,
    'a gzip level above 9 is refused');
bad_config('compression-brotli', qr{^  brotli: 5}, '  brotli: fast',
    qr/:\d+:\d+: compression\.brotli: expected "off" or a level from 1 to 11, got "fast"/,
    'a brotli level that is not a number is refused');
bad_config('compression-types', qr{^  # types: \[text/html}, '  types: [text/html, "text/css; charset=utf-8"]',
    qr/:\d+:\d+: compression\.types: "text\/css; charset=utf-8" has parameters/,
    'a compression.types entry with parameters is refused');
bad_config('compression-type-word', qr{^  # types: \[text/html}, '  types: [html]',
    qr/:\d+:\d+: compression\.types: "html" is not a media type/,
    'a compression.types entry that is not a media type is refused');
bad_config('compression-min', qr{^  min_size: 256}, '  min_size: small',
    qr/compression\.min_size: expected a size/,
    'compression.min_size is a size');
bad_config('compression-cache', qr{^  static_cache: 16M}, '  static_cache: 100G',
    qr/compression\.static_cache: expected a size from 0 to 64G/,
    'compression.static_cache above 64G is refused');
bad_config('compression-key', qr{^  min_size: 256}, '  zstd: 3',
    qr/unknown key "zstd" in compression/,
    'an unknown coding in compression is named');
{
	my $off = "$dir/compression-off.yaml";
	my $text = $base;
	$text =~ s/^compression:\n(?:  .*\n|\n)*?(?=\S)/compression: off\n\n/m
		or die "test bug: no compression section in etc/mw.yaml\n";
	write_file($off, $text);
	my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $off);
	is($rc, 0, '"compression: off" passes the check') or diag($err);
	my $word = "$dir/compression-word.yaml";
	write_file($word, $text =~ s/^compression: off$/compression: fast/mr);
	($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $word);
	subtest 'compression is a mapping or "off"' => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/\Q$word\E:\d+:\d+: compression: expected a mapping, got "fast"/,
		    'the message points at the value');
	};
}
bad_config('cache-size', qr{^  size: 64M}, '  size: 1K',
    qr/:\d+:\d+: cache\.size: expected a size from 64k to 64G/,
    'a cache.size below 64K is refused');
bad_config('cache-max-entry', qr{^  max_entry: 1M}, '  max_entry: lots',
    qr/cache\.max_entry: expected a size/,
    'cache.max_entry is a size');
bad_config('cache-purge-allow', qr{^  # purge_allow:}, '  purge_allow: [localhost]',
    qr/:\d+:\d+: cache\.purge_allow: expected an IPv4 or IPv6 address/,
    'a cache.purge_allow entry that is not an address is refused');
bad_config('cache-enabled', qr{^  enabled: false$}, '  enabled: maybe',
    qr/cache\.enabled: expected true or false/,
    'cache.enabled is a boolean');
bad_config('cache-key', qr{^  max_entry: 1M}, '  ttl: 60',
    qr/unknown key "ttl" in cache/,
    'an unknown key in cache is named');
{
	my $text = $base;
	$text =~ s/^cache:\n(?:  .*\n|\n)*?(?=\S)/cache: off\n\n/m
		or die "test bug: no cache section in etc/mw.yaml\n";
	my $off = "$dir/cache-off.yaml";
	write_file($off, $text);
	my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $off);
	is($rc, 0, '"cache: off" passes the check') or diag($err);
	my $word = "$dir/cache-word.yaml";
	write_file($word, $text =~ s/^cache: off$/cache: fast/mr);
	($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $word);
	subtest 'cache is a mapping or "off"' => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/\Q$word\E:\d+:\d+: cache: expected a mapping, got "fast"/,
		    'the message points at the value');
	};
	my $big = "$dir/cache-big-entry.yaml";
	write_file($big, $base =~ s/^  max_entry: 1M$/  max_entry: 128M/mr);
	($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $big);
	subtest 'cache.max_entry may not exceed cache.size' => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/\Q$big\E:\d+:\d+: cache: max_entry \(134217728 bytes\) is larger than size \(67108864 bytes\)/,
		    'the message names both');
	};
}
bad_config('static-cache-control', qr{^  cache_control: max-age=0}, '  cache_control: "no-cache\r\nSet-Cookie: x=1"',
    qr/:\d+:\d+: static\.cache_control: .* contains a control or non-ASCII character/,
    'a static.cache_control that would end the header line is refused');
bad_config('mw-cache-control', qr{^  cache_control: max-age=86400}, '  cache_control: [max-age=1]',
    qr/mediawiki\.cache_control: expected a Cache-Control value/,
    'mediawiki.cache_control is one value');
bad_config('mw-favicon', qr{^  # favicon:}, '  favicon: favicon.ico',
    qr/:\d+:\d+: mediawiki\.favicon: expected an absolute path, got "favicon\.ico"/,
    'mediawiki.favicon is an absolute path');
bad_config('static-setting', qr{^  /images/:}, '  images: /var/lib/mediawiki/images',
    qr/unknown key "images" in static \(a URL prefix starts with "\/"\)/,
    'a static key that is neither a URL prefix nor a setting is refused');
bad_config('mediawiki-symlinks', qr{^  symlinks: owner}, '  symlinks: yes',
    qr/mediawiki\.symlinks: expected "refuse"/, 'an unknown mediawiki.symlinks policy is refused');
bad_config('status-show-query', qr/^  show_query:/, '  show_query: sometimes',
    qr/status\.show_query: expected true or false/, 'status.show_query must be a boolean');
bad_config('status-health-rel', qr/^  # health: \/healthz/, '  health: healthz',
    qr/:\d+:\d+: status\.health: "healthz" must start with "\/"/, 'status.health is a URL path');
bad_config('status-health-dir', qr/^  # health: \/healthz/, '  health: /healthz/',
    qr/status\.health: "\/healthz\/" must not end with "\/"/, 'status.health is one path, not a prefix');
bad_config('timeouts-drain', qr/^  drain: 0/, '  drain: -1',
    qr/:\d+:\d+: timeouts\.drain: expected seconds from 0 to 3600/, 'timeouts.drain is not negative');
bad_config('timeouts-drain-big', qr/^  drain: 0/, '  drain: 2h',
    qr/timeouts\.drain: expected seconds from 0 to 3600/, 'timeouts.drain is at most an hour');
bad_config('socket-mode', qr/^  mode: 0660/, '  mode: 0668',
    qr/unix_socket\.mode: expected permission bits in octal, like 0660, got "0668"/,
    'a unix socket mode that is not octal is refused');
bad_config('socket-mode-big', qr/^  mode: 0660/, '  mode: 1777',
    qr/unix_socket\.mode: expected permission bits/, 'a unix socket mode past 0777 is refused');
bad_config('socket-owner', qr/^  # owner: www-data/, '  owner: "www data"',
    qr/unix_socket\.owner: "www data" contains a space/, 'a unix socket owner with a space is refused');
bad_config('socket-key', qr/^  # group: www-data/, '  perms: 0660',
    qr/unknown key "perms" in unix_socket/, 'an unknown key in unix_socket is refused');

# sites: a farm.  A small file of two sites that passes, and one mistake
# at a time in it; "at" is the line the message must point at when it is
# not the changed one.
my $farm = <<'YAML';
listen:
  - 127.0.0.1:8080
user: root
mediawiki:
  root: /usr/share/mediawiki
sites:
  en.example.org: /srv/en/LocalSettings.php
  de.example.org:
    settings: /srv/de/LocalSettings.php
    aliases: [de.example.net, "*.de.example.org"]
    workers: 2
    default: true
    static:
      /images/: /srv/de/images
YAML
write_file("$dir/farm.yaml", $farm);
($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', "$dir/farm.yaml");
is($rc, 0, 'a farm of two sites (a path; settings, aliases, workers, default, static) passes')
	or diag($err);
sub bad_farm {
	my ($name, $from, $to, $msg, $what, %opt) = @_;
	my @lines = split /\n/, $farm, -1;
	my ($lineno) = grep { $lines[$_] =~ $from } 0 .. $#lines;
	die "test bug: no line matches $from in the farm\n" unless defined $lineno;
	$lines[$lineno] = $to;
	my $line = $lineno + 1;
	($line) = map { $_ + 1 } grep { $lines[$_] =~ $opt{at} } 0 .. $#lines if $opt{at};
	my $file = "$dir/$name.yaml";
	write_file($file, join("\n", @lines));
	my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $file);
	subtest $what => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/(?:^|\s)\Q$file\E:$line:\d+: /m, "stderr points at $name.yaml line $line");
		like($err, $msg, 'the message names the problem');
	};
}
bad_farm('site-name', qr/^  en\.example\.org:/, '  "en example": /srv/en/LocalSettings.php',
    qr/sites: "en example" is not a host name/, 'a site is named by a host name');
bad_farm('site-relative', qr/^  en\.example\.org:/, '  en.example.org: srv/en/LocalSettings.php',
    qr/sites\.en\.example\.org: expected the absolute path of its LocalSettings\.php, got "srv/,
    'a site\'s LocalSettings.php is an absolute path');
bad_farm('site-twice', qr/^  en\.example\.org:/, '  DE.example.org: /srv/en/LocalSettings.php',
    qr/sites: de\.example\.org is already a host of site de\.example\.org/,
    'one host is one site, whatever its case', at => qr/^  de\.example\.org:/);
bad_farm('site-alias-taken', qr/^    aliases:/, '    aliases: [de.example.net, En.Example.Org]',
    qr/sites\.de\.example\.org\.aliases: en\.example\.org is already a host of site en\.example\.org \(\d+:\d+\)/,
    'an alias that is another site\'s name is refused, with where that is');
bad_farm('site-alias-bad', qr/^    aliases:/, '    aliases: ["*.", x_y]',
    qr/aliases: "\*\." is not a host name nor "\*\." and one/, 'an alias is a host name or *.suffix');
bad_farm('site-alias-many', qr/^    aliases:/, '    aliases: [' . join(', ', map { "a$_.example" } 1 .. 17) . ']',
    qr/aliases: more than 16 aliases/, 'at most 16 aliases');
bad_farm('site-two-defaults', qr/^  en\.example\.org:/, '  en.example.org: {settings: /x, default: true}',
    qr/default: site en\.example\.org is the default already/, 'one default site',
    at => qr/^  de\.example\.org:/);
bad_farm('site-no-settings', qr/^    settings:/, '    # no settings',
    qr/sites\.de\.example\.org: needs settings/, 'a site needs its settings',
    at => qr/^  de\.example\.org:/);
bad_farm('site-key', qr/^    workers:/, '    wrokers: 2',
    qr/unknown key "wrokers" in sites\.de\.example\.org/, 'an unknown key of a site is named');
bad_farm('site-workers', qr/^    workers:/, '    workers: 2000',
    qr/sites\.de\.example\.org\.workers/, 'a site\'s workers are 1 to 1024');
bad_farm('site-static', qr{^      /images/:}, '      /images/: srv/images',
    qr/sites\.de\.example\.org\.static "\/images\/": expected an absolute directory path/, 'a site\'s static prefix maps to an absolute directory');
bad_farm('site-static-setting', qr{^      /images/:}, '      symlinks: owner',
    qr/"symlinks" is not a URL prefix/, 'a site\'s static has URL prefixes only');
bad_farm('site-mw-settings', qr/^  root:/, '  settings: /etc/mediawiki/LocalSettings.php',
    qr/mediawiki\.settings: not with sites:/, 'mediawiki.settings is refused with sites');
bad_farm('site-jobs-sqlite', qr/^user:/, 'jobs: {sqlite: /srv/jobs.sqlite}',
    qr/jobs\.sqlite: not with sites:/, 'jobs.sqlite is refused with sites');
bad_farm('sites-type', qr/^  en\.example\.org:/, '  en.example.org: {settings: /x, static: [/images/]}',
    qr/expected a mapping of URL prefix to directory, got a sequence/, 'a site\'s static is a mapping');

# A YAML syntax error: the position comes from the YAML parser, so only its
# form is checked.
my $syntax = "$dir/syntax.yaml";
write_file($syntax, "listen:\n  - 127.0.0.1:8080\npool:\n  workers: [1, 2\n");
($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $syntax);
subtest 'a YAML syntax error is refused with its position' => sub {
	is($rc, 2, 'mwsup -t exits with status 2');
	like($err, qr/(?:^|\s)\Q$syntax\E:\d+:\d+: \S/m, 'stderr has FILE:LINE:COL: message');
};

my $missing = "$dir/no-such-file.yaml";
($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $missing);
subtest 'a config file that does not exist is refused by name' => sub {
	is($rc, 2, 'mwsup -t exits with status 2');
	like($err, qr/\Q$missing\E/, 'stderr names the missing file');
};

# Files far beyond any configuration are refused before costing time or
# memory: 16 MB of keys (which took 12 s and 650 MB, under ASan 45 s and
# 1.2 GB, before its first error), at once from its size; under 1 MiB but of 30,000 keys, at the
# node past the bound.  Peak memory is measured by GNU time when present.
sub timed_check {
	my ($file) = @_;
	my $gnu_time = -x '/usr/bin/time';
	my @cmd = $gnu_time ? ('/usr/bin/time', '-f', 'maxrss %M', $mwsup) : ($mwsup);
	my $t0 = Time::HiRes::time();
	my ($rc, $out, $err) = run_cmd(@cmd, '-t', '-c', $file);
	my ($kb) = $err =~ /^maxrss (\d+)$/m;
	return ($rc, $err, Time::HiRes::time() - $t0, $kb);
}
{
	require Time::HiRes;
	my $huge = "$dir/huge.yaml";
	open(my $fh, '>', $huge) or die "$huge: $!\n";
	print $fh "user: www-data\n", "k: v\n" x 3_199_990;	# 16,000,000 bytes
	close($fh);
	my $size = -s $huge;
	my ($rc, $err, $took, $kb) = timed_check($huge);
	subtest 'a 16 MB file is refused at once, by its size' => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/\Q$huge\E: too large \($size bytes, at most 1048576\)/,
		    'stderr says it is too large, with both sizes');
		cmp_ok($took, '<', 2, sprintf('within 2 s (%.2f s)', $took));
		SKIP: {
			skip 'no GNU time to measure memory', 1 unless defined $kb;
			cmp_ok($kb, '<', 100 * 1024, "using little memory ($kb KB)");
		}
	};

	my $many = "$dir/many-keys.yaml";
	write_file($many, "user: www-data\nphp:\n" . join('', map { "  k$_: v\n" } 1 .. 30000));
	($rc, $err, $took, $kb) = timed_check($many);
	subtest 'a file of 30,000 keys is refused at the node past the bound' => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/\Q$many\E:10000:\d+: more than 20000 keys, values and list items/,
		    'stderr points at the 20,001st node (the value on line 10000)');
		cmp_ok($took, '<', 2, sprintf('within 2 s (%.2f s)', $took));
		SKIP: {
			skip 'no GNU time to measure memory', 1 unless defined $kb;
			cmp_ok($kb, '<', 100 * 1024, "using little memory ($kb KB)");
		}
	};
}

# Started as root, a file without user: is refused (t0850 starts it).
SKIP: {
	skip 'not root', 1 unless $> == 0;
	my $nouser = "$dir/no-user.yaml";
	write_file($nouser, join("\n", grep { !/^(user|group):/ } split /\n/, $base) . "\n");
	my ($rc, $out, $err) = run_cmd($mwsup, '-t', '-c', $nouser);
	subtest 'as root, a file without user: is refused' => sub {
		is($rc, 2, 'mwsup -t exits with status 2');
		like($err, qr/\Q$nouser\E: started as root, but no "user:" is set/, 'stderr names the file and the key');
	};
}

# Starting (not -t) with a bad config fails the same way, before listening.
($rc, $out, $err) = run_cmd($mwsup, '-c', "$dir/workers-zero.yaml");
is($rc, 2, 'starting with a bad config exits with status 2 too');

my ($version) = read_file(repo_dir() . '/configure.ac') =~ /AC_INIT\(\[mwsup\],\s*\[([^\]]+)\]/;
($rc, $out, $err) = run_cmd($mwsup, '--version');
subtest 'mwsup --version prints the version' => sub {
	is($rc, 0, 'exit 0');
	like($out, qr/\Q$version\E/, "stdout has the version $version");
};

($rc, $out, $err) = run_cmd($mwsup, '--help');
subtest 'mwsup --help prints usage on stdout' => sub {
	is($rc, 0, 'exit 0');
	like($out, qr/usage/i, 'stdout has a usage line');
	like($out, qr/-c\b/, 'the usage mentions -c');
	like($out, qr/-t\b/, 'the usage mentions -t');
};

# Every option the code accepts (its getopt_long table and short-option
# string) is in the help text that goes with it.
sub getopt_table {
	my ($file, $func) = @_;
	my $src = read_file(repo_dir() . "/$file");
	my ($body) = $src =~ /^\Q$func\E\(int argc, char \*\*argv\)\n\{\n(.*?)^\}/ms
		or die "test bug: no $func() in $file\n";
	my ($table) = $body =~ /struct option opts\[\] = \{(.*?)\};/s
		or die "test bug: no option table in $func()\n";
	my @long = $table =~ /\{\s*"([a-z-]+)",/g;
	my ($short) = $body =~ /getopt_long\(argc, argv, "([^"]*)"/
		or die "test bug: no getopt_long() in $func()\n";
	$short =~ s/://g;
	return (\@long, [split //, $short]);
}
for my $t (['supervisor/main.c', 'main', []],
    ['supervisor/status.c', 'status_main', ['status']]) {
	my ($file, $func, $pre) = @$t;
	my ($long, $short) = getopt_table($file, $func);
	my ($rc, $out) = run_cmd($mwsup, @$pre, '--help');
	my $cmd = join(' ', 'mwsup', @$pre, '--help');
	subtest "$cmd lists every option of $func() in $file" => sub {
		is($rc, 0, 'exit 0');
		cmp_ok(scalar @$long, '>=', 4, 'the table was read (' .
		    join(' ', @$long) . ')');
		like($out, qr/(?<![\w-])--\Q$_\E\b/, "--$_") for @$long;
		like($out, qr/(?<![\w-])-\Q$_\E\b/, "-$_") for @$short;
	};
}

# The default configuration --help names is the one compiled in (the
# build's sysconfdir, /etc for the Debian package), the one mwsup opens
# without -c, and the one the installed man pages name.
{
	my $mk = read_file(build_dir() . '/Makefile');
	my %var = $mk =~ /^(prefix|sysconfdir) = (.*)$/mg;
	(my $sysconf = $var{sysconfdir}) =~ s/\$\{prefix\}/$var{prefix}/;
	my $path = "$sysconf/mwsup/mw.yaml";
	my ($rc, $out) = run_cmd($mwsup, '--help');
	subtest "the default configuration is $path everywhere" => sub {
		like($out, qr/\(default \Q$path\E\)/, '--help names it');
		SKIP: {
			skip("$path exists here", 1) if -e $path;
			my ($rc2, undef, $err2) = run_cmd($mwsup, '-t');
			like($err2, qr/\Q$path\E: cannot open/,
			    'mwsup -t without -c opens it');
		}
		for my $page ('mwsup.8', 'mw.yaml.5') {
			my $man = read_file(build_dir() . "/man/gen/$page");
			like($man, qr/\Q$path\E/, "the installed $page names it");
			unlike($man, qr{(?<![\w/])/etc/mwsup/}, "and no other")
				if $sysconf ne '/etc';
		}
	};
}

# ---- mwsup --dump: the effective configuration ----

# dump_values(text): the keys of a dump, as "a\tb\tc" paths, each with its
# value; a sequence below a key is its value, its items joined by ", ".
sub dump_values {
	my ($text) = @_;
	my (%v, @stack);
	for my $l (split /\n/, $text) {
		if ($l =~ /^( *)(- )?(\S+?):(?: (.*))?$/) {
			my $ind = length($1) + ($2 ? 2 : 0);
			pop @stack while @stack && $stack[-1][0] >= $ind;
			my $path = join("\t", (map { $_->[1] } @stack), $3);
			$v{$path} = $4 // '';
			push @stack, [$ind, $3];
		} elsif ($l =~ /^( *)- (.*)$/) {
			my $ind = length($1);
			pop @stack while @stack && $stack[-1][0] >= $ind;
			my $path = join("\t", map { $_->[1] } @stack);
			$v{$path} = $v{$path} eq '' ? $2 : "$v{$path}, $2";
		}
	}
	return \%v;
}

my $empty = "$dir/empty.yaml";
write_file($empty, '');
my ($drc, $defaults, $derr) = run_cmd($mwsup, '--dump', '-c', $empty);
subtest 'mwsup --dump prints the defaults as a mw.yaml that reads back the same' => sub {
	is($drc, 0, 'exit 0') or diag($derr);
	like($defaults, qr/^  exclude:\n    - service:BootstrapConfig$/m,
	    'with the kept-services list');
	my $file = "$dir/dump.yaml";
	write_file($file, ($defaults =~ s/^user: ~$/user: nobody/mr));
	my ($rc, undef, $err) = run_cmd($mwsup, '-t', '-c', $file);
	is($rc, 0, 'mwsup -t accepts it (with a user:)') or diag($err);
	write_file($file, $defaults);
	my (undef, $again) = run_cmd($mwsup, '--dump', '-c', $file);
	is($again, $defaults, 'and dumps it again identically');
};

# A file that sets every kind of key, farm and job groups included.
my $page = "$dir/503.html";
write_file($page, "<p>busy</p>\n");
my $rich = "$dir/rich.yaml";
write_file($rich, <<"EOF");
listen:
  - "[::1]:8081"
  - {address: "unix:$dir/x.sock", proxy_protocol: true}
unix_socket: {owner: www-data, mode: "0600"}
mediawiki: {short_urls: /wiki, cache_control: "", favicon: /tmp/f.ico}
pool: {dispatch: longest-busy, workers: 2}
timeouts: {header: 0.5, body: 1.25}
limits: {head: 1025, body: 0}
recycle: {max_requests: 0, max_rss: 0}
php: {memory_limit: 1G, display_errors: "true", x.y: '', error_log: "it's"}
static:
  /images: /var/lib/mediawiki/images
  types: {GLB: model/gltf-binary}
  cache_control: ~
compression: {gzip: off, types: []}
snapshot: {exclude: [], reset: [core, Foo]}
log: {access: stderr, slow: 2.5}
status: {path: /st, allow: [10.0.0.0/8, unix, "::1"], show_query: true}
proxy: {trusted: [127.0.0.1], proto_header: ~}
error_pages: {503: $page}
jobs:
  groups:
    - {name: high, types: [refreshLinks], max_jobs: 3, max_time: 1.5, workers: 1}
    - {name: low}
sites:
  en.example.org: /etc/en.php
  de.example.org:
    settings: /etc/de.php
    aliases: ["*.de.example.net"]
    default: true
    static: {/img/: /srv/img}
user: www-data
EOF
my ($rrc, $full, $rerr) = run_cmd($mwsup, '--dump', '-c', $rich);
subtest 'a file that sets every kind of key dumps and reads back the same' => sub {
	is($rrc, 0, 'exit 0') or diag($rerr);
	my $file = "$dir/rich-dump.yaml";
	write_file($file, $full);
	my ($rc, undef, $err) = run_cmd($mwsup, '-t', '-c', $file);
	is($rc, 0, 'mwsup -t accepts the dump') or diag($err);
	my (undef, $again) = run_cmd($mwsup, '--dump', '-c', $file);
	is($again, $full, 'and dumps it again identically');
	my $v = dump_values($full);
	is($v->{"php\terror_log"}, q{'it''s'}, 'a quote inside a value is kept');
	is($v->{"timeouts\theader"}, '0.5', 'a duration keeps its decimals');
	is($v->{"sites\tde.example.org\tworkers"}, '2',
	    "a site's pool is pool.workers when it names none");
};

# Every key of shared/config.c's tables is in the dump: the defaults' for
# the sections, the file above's for a site and a job group.
{
	my $src = read_file(repo_dir() . '/shared/config.c');
	my %tables;
	while ($src =~ /^(?:static )?const struct config_key (config_\w+_keys)\[\] = \{\n(.*?)^\};/msg) {
		my ($name, $body) = ($1, $2);
		$tables{$name} = [$body =~ /^\s*(?:\{|CONFIG_DURATION\()\s*"(\w+)"/mg];
	}
	my %under = (config_top_keys => [], config_static_keys => ['static'],
	    config_job_group_keys => ['jobs', 'groups'],
	    config_site_keys => ['sites', 'de.example.org']);
	while ($src =~ /^\s*\{ "(\w+)",\s*config_set_\w+,\s*0,[\s0,]*(config_\w+_keys) \}/mg) {
		$under{$2} = [$1];
	}
	my ($d, $f) = (dump_values($defaults), dump_values($full));
	my @missing;
	for my $t (sort keys %tables) {
		if (!$under{$t}) {
			push @missing, "$t (which section holds it?)";
			next;
		}
		my @at = @{$under{$t}};
		my $in = $t =~ /^config_(job_group|site)_keys$/ ? $f : $d;
		for my $k (@{$tables{$t}}) {
			push @missing, join('.', @at, $k)
				unless exists $in->{join("\t", @at, $k)};
		}
	}
	ok(keys(%tables) >= 16 && $tables{config_top_keys} && !@missing,
	    'every key of the tables in shared/config.c is in mwsup --dump')
		or diag('missing: ' . join(', ', @missing) .
		    "\ntables: " . join(', ', sort keys %tables));
}

# etc/mw.yaml states the defaults, except on the lines that say "not the
# default", and there it is not (a stale note would mislead too).
{
	my (undef, $etc) = run_cmd($mwsup, '--dump', '-c', $default);
	my ($e, $d) = (dump_values($etc), dump_values($defaults));
	my @lines = split /\n/, $base;
	my (@wrong, %noted);
	for my $path (sort keys %{{ %$e, %$d }}) {
		my @p = split /\t/, $path;
		my ($top, $leaf) = ($p[0], $p[-1]);
		my ($i) = grep { $lines[$_] =~ /^\Q$top\E:/ } 0 .. $#lines;
		next unless defined $i;		# not in etc/mw.yaml
		if (@p > 1) {
			my $j;
			for my $k ($i + 1 .. $#lines) {
				last if $lines[$k] =~ /^\S/ && $lines[$k] !~ /^#/;
				if ($lines[$k] =~ /^\s+(?:- )?\Q$leaf\E:/) {
					$j = $k;
					last;
				}
			}
			$i = $j;
		}
		my $same = ($e->{$path} // '') eq ($d->{$path} // '');
		my $note = defined $i && $lines[$i] =~ /#\s+not the default/;
		$noted{$i} = 1 if $note;
		push @wrong, "$path: " . ($e->{$path} // 'none') . ' (default ' .
		    ($d->{$path} // 'none') . ') without "not the default"'
			if !$same && !$note;
		push @wrong, "$path: says \"not the default\" but is"
			if $same && $note;
	}
	my @stale = grep { $lines[$_] =~ /#\s+not the default/ &&
	    !$noted{$_} } 0 .. $#lines;
	push @wrong, map { 'line ' . ($_ + 1) . ' says "not the default" ' .
	    'of no key that differs' } @stale;
	ok(!@wrong, 'every value etc/mw.yaml sets is the default of mwsup '
	    . '--dump, or its line says "not the default"')
		or diag(join("\n", @wrong));
	unlike($base, qr/^\s+- service:/m,
	    'etc/mw.yaml does not copy the kept-services list');
}

($rc, $out, $err) = run_cmd($mwsup, '--no-such-option');
subtest 'an unknown option is refused with usage' => sub {
	is($rc, 2, 'exit 2');
	like($err, qr/usage/i, 'stderr has the usage');
};

done_testing();
