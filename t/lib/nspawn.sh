#!/usr/bin/env bash
# t/lib/nspawn.sh - the cached Debian 12 root that t0600-systemd.t boots
# with systemd-nspawn: debootstrap into a cached directory, the
# packages a test needs, then boot it with systemd-nspawn --boot.
#
#   t/lib/nspawn.sh prepare ROOT [PACKAGE...]
#   t/lib/nspawn.sh mirror
#
# Makes ROOT with debootstrap when it is missing (minbase + systemd, ~1 min
# and ~300 MB the first time), then installs PACKAGEs into it from the
# archive, running apt inside a non-booted nspawn so that maintainer
# scripts see a normal system.  A second run with the same packages does
# not touch the network.  The root is booted read-only with a tmpfs overlay
# (--volatile=overlay), so tests never change it.  Needs root.  "mirror"
# prints the archive URI that prepare uses, so that a test can tell an
# unreachable archive from any other failure.
set -euo pipefail

prog=nspawn.sh
die() { echo "$prog: $*" >&2; exit 1; }

# The first deb URI the host's apt uses (deb822 or one-line format).
mirror() {
	local f=/etc/apt/sources.list.d/debian.sources uri=
	if [ -f "$f" ]; then
		uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$f" | head -n1)
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

usage() { die "usage: t/lib/nspawn.sh prepare ROOT [PACKAGE...] | mirror"; }
case "${1:-}" in
mirror) [ $# -eq 1 ] || usage; mirror; exit 0 ;;
prepare) [ $# -ge 2 ] || usage ;;
*) usage ;;
esac
root=$2
shift 2

[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v debootstrap >/dev/null || die "debootstrap is not installed"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn is not installed (systemd-container)"

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9	# one preparation at a time; others wait, then find it done

in_root() {	# run a command inside ROOT (not booted), with the host's network
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D "$root" \
		--register=no --keep-unit -E DEBIAN_FRONTEND=noninteractive \
		"$@" </dev/null
}

if [ ! -f "$root/.mwsup-root-ok" ]; then
	rm -rf -- "$root" "$root.new"
	m=$(mirror)
	echo "$prog: debootstrap bookworm into $root from $m"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
		bookworm "$root.new" "$m" >"$root.log" 2>&1 ||
		{ tail -n 30 "$root.log" >&2; die "debootstrap failed (log: $root.log)"; }
	echo mwsup-test >"$root.new/etc/hostname"
	# Same archive as the host, including security updates, so that the
	# versions match what the package was built against.
	cp /etc/apt/sources.list.d/*.sources "$root.new/etc/apt/sources.list.d/" 2>/dev/null || true
	if ls "$root.new/etc/apt/sources.list.d/"*.sources >/dev/null 2>&1; then
		: >"$root.new/etc/apt/sources.list"
	fi
	# No root password prompt, no first-boot wizard on the console.
	rm -f "$root.new/etc/machine-id"
	: >"$root.new/etc/machine-id"
	mv -T -- "$root.new" "$root"
	touch "$root/.mwsup-root-ok"
fi

if [ $# -gt 0 ]; then
	want=$(printf '%s\n' "$@" | sort -u)
	have=$(cat "$root/.mwsup-packages" 2>/dev/null || true)
	if [ "$want" != "$have" ]; then
		echo "$prog: installing into $root: $*"
		in_root sh -c 'apt-get -q update && apt-get -q install -y --no-install-recommends "$@" && apt-get clean' \
			sh "$@" >>"$root.log" 2>&1 ||
			{ tail -n 30 "$root.log" >&2; die "apt-get install in $root failed (log: $root.log)"; }
		printf '%s\n' "$want" >"$root/.mwsup-packages"
	fi
fi
echo "$prog: $root ready"
