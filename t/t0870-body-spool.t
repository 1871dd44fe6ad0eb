#!/usr/bin/perl
# Request bodies past limits.body_buffer are kept on disk, not in memory:
# POSTs that stop before their end leave the supervisor's memory (its
# resident set and its memfds) where it was, their bytes are in unlinked
# files of temp_dir while they last and gone with their connections, and
# complete large bodies (announced or chunked, moving to disk half-way)
# reach PHP byte for byte from the file.  temp_dir is made ready at start:
# created when missing, a previous run's files removed, refused when it is
# not the server's own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::MD5 qw(md5_hex);
use IO::Socket::IP;
use Test::More;
use Time::HiRes qw(time sleep);
use MwTest;

my $w = wiki('pool.workers' => 1, 'limits.body' => '100M', 'php.post_max_size' => '64M');
append_settings($w, <<'EOF2');
$wgHooks['ApiBeforeMain'][] = static function () {
	if ( isset( $_GET['mwsup_test_body'] ) ) {
		$in = file_get_contents( 'php://input' );
		header( 'X-Body-Length: ' . strlen( $in ) );
		header( 'X-Body-MD5: ' . md5( $in ) );
		if ( isset( $_POST['blob'] ) ) {
			header( 'X-Blob-Length: ' . strlen( $_POST['blob'] ) );
			header( 'X-Blob-MD5: ' . md5( $_POST['blob'] ) );
		}
	}
};
EOF2
my $tmp = "$w->{dir}/tmp";
# A file a crashed run could leave (only where O_TMPFILE is missing), and
# one that is not mwsup's.
write_file("$tmp/mwsup-left-over", 'x');
write_file("$tmp/someone-else", 'x');
my $srv = start_mwsup($w->{config});
ok(!-e "$tmp/mwsup-left-over", 'a file a previous run left in temp_dir is removed at start');
ok(-e "$tmp/someone-else", 'a file not named as mwsup names its files is left alone');
log_like($srv, qr/temp_dir \Q$tmp\E: removed 1 file left by a previous run/, 'and the log says so');

# Memory of mwsup: resident set plus the size of the memfds it holds;
# and its descriptors on files of temp_dir with their sizes.
sub fds {
	my (%r) = (memfd => 0, temp => []);
	opendir(my $dh, "/proc/$srv->{pid}/fd") or return \%r;
	for (readdir $dh) {
		my $l = readlink("/proc/$srv->{pid}/fd/$_") // next;
		my $size = (stat("/proc/$srv->{pid}/fd/$_"))[7] // 0;
		$r{memfd} += $size if $l =~ m{^/memfd:};
		push @{ $r{temp} }, $size if index($l, "$tmp/") == 0;
	}
	return \%r;
}
sub rss_kb { (read_file("/proc/$srv->{pid}/status") =~ /^VmRSS:\s+(\d+) kB/m)[0] }

my $api = '/api.php?action=query&meta=siteinfo&format=json&mwsup_test_body=1';
is(http(GET => $api)->{status}, 200, 'the API answers before the large bodies');
my $rss0 = rss_kb();
my $mem0 = fds()->{memfd};

# Three POSTs announce 60 MB and send 20 MB of it, then stop.
my $chunk = 'x' x (1 << 20);
my @socks;
for (1 .. 3) {
	my $s = raw_begin($srv->{port}, "POST $api HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    . "Content-Type: application/octet-stream\r\nContent-Length: 60000000\r\n\r\n");
	syswrite($s, $chunk) == length($chunk) or die "write: $!\n" for 1 .. 20;
	push @socks, $s;
}
my $seen = wait_until(sub { my $f = fds(); (grep { $_ >= 20 << 20 } @{ $f->{temp} }) >= 3 ? $f : undef }, 20) // fds();
is(scalar(grep { $_ >= 20 << 20 } @{ $seen->{temp} }), 3,
    'the three unfinished bodies (20 MB each so far) are in temp_dir files mwsup holds');
opendir(my $dh, $tmp) or die "$tmp: $!\n";
is_deeply([ sort grep { !/^\.\.?$/ } readdir $dh ], ['someone-else'], 'files without a name');
closedir $dh;
my $grew = rss_kb() - $rss0 + ($seen->{memfd} - $mem0) / 1024;
cmp_ok($grew, '<', 8 * 1024, "mwsup's memory (resident + memfds) grew by less than 8 MB for 60 MB of bodies")
    or diag("grew by $grew kB");
close($_) for @socks;
ok(wait_until(sub { !@{ fds()->{temp} } }, 10), 'the files are gone once the connections close');

# Complete large bodies reach PHP whole, from the file.
my $body = join('', map { chr(($_ * 7 + ($_ >> 9)) % 256) } 0 .. (6 << 20) - 1);
my $r = http(POST => $api, { 'Content-Type' => 'application/octet-stream' }, $body);
is($r->{status}, 200, 'a 6 MB binary POST is answered 200');
is($r->{headers}{'x-body-length'}, length($body), 'PHP read all of its bytes');
is($r->{headers}{'x-body-md5'}, md5_hex($body), 'exactly the bytes sent');
like($r->{body}, qr/"sitename"/, 'and the API answered it');

my $blob = join('', map { chr(97 + $_ % 26) } 0 .. 3_000_000);
my $form = form(blob => $blob);
$r = http(POST => $api, { 'Content-Type' => 'application/x-www-form-urlencoded' }, $form);
is($r->{headers}{'x-blob-md5'}, md5_hex($blob), 'a 3 MB form field is parsed by PHP from the file exactly');

# A chunked body has no announced length: it starts in memory and moves
# to a file when it passes limits.body_buffer.
my $s = raw_begin($srv->{port}, "POST $api HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    . "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
for (my $off = 0; $off < length($body); $off += 100_000) {
	my $piece = substr($body, $off, 100_000);
	syswrite($s, sprintf("%x\r\n", length $piece) . $piece . "\r\n");
}
syswrite($s, "0\r\n\r\n");
$r = parse_response(raw_end($s, timeout => 30));
is($r->{status}, 200, 'a 6 MB chunked POST is answered 200');
is($r->{headers}{'x-body-md5'}, md5_hex($body), 'with exactly its bytes');
stopped_cleanly($srv);

# temp_dir that is not the server's own: mwsup does not start.
{
	my $w2 = wiki('pool.workers' => 1);
	chmod 0777, "$w2->{dir}/tmp";
	my ($rc, $out, $err) = run_cmd(mwsup_bin(), '-c', $w2->{config});
	isnt($rc, 0, 'a temp_dir others may write: mwsup exits non-zero');
	like($err, qr/temp_dir \Q$w2->{dir}\E\/tmp: writable by others \(mode 0777\)/, 'naming the directory and why');
	# A parent mwsup's account may write (www-data when tests run as root).
	my $parent = "$w2->{dir}/parent";
	mkdir $parent or die "mkdir $parent: $!\n";
	chmod 0777, $parent;
	set_yaml($w2, temp_dir => "$parent/tmp");
	my $srv2 = start_mwsup($w2->{config});
	ok(-d "$parent/tmp" && ((stat "$parent/tmp")[2] & 07777) == 0700, 'a missing temp_dir is created, mode 0700');
	stopped_cleanly($srv2);
}
done_testing();
