#!/bin/sh
# SPDX-License-Identifier: ISC
# deps.sh [build|demo|deb|test] -- install the Debian packages one use of
# this tree needs, and nothing more:
#   build   compile the four programs (make)
#   demo    build, plus what `make demo` runs: nc, podman and a static
#           busybox for its container task
#   deb     build, plus debhelper and lintian for `make deb`
#   test    everything `make test` runs: the above, cmocka, pytest, tmux,
#           clang (libFuzzer), man page linters, bash-completion,
#           stress-ng, and the cross compilers, qemu-user and the arm64 and
#           armhf package indexes of the cross tests
# Without an argument: build.
#
# Idempotent and quick when all is present: asks dpkg only, runs
# `apt-get update` only when something is missing.  Only `test` adds
# foreign dpkg architectures.  For podman in a sandbox that cannot run it
# with the default settings (no CAP_SYS_RESOURCE, or cgroup v1), demo and
# test write /etc/containers/containers.conf when there is none, and say
# so: that file is system-wide.
set -e

mode=${1:-build}

BUILD_PKGS="build-essential pkg-config libevent-dev libjson-c-dev
libsqlite3-dev libproc2-dev libncurses-dev libssl-dev libmbedtls-dev"
DEMO_PKGS="netcat-openbsd podman runc busybox-static uidmap"
DEB_PKGS="dpkg-dev debhelper lintian"
TEST_PKGS="libcmocka-dev python3-pytest tmux sqlite3 procps iproute2
clang libclang-rt-14-dev mandoc groff-base man-db bash-completion stress-ng"
# tests/integration/test_http.py and test_web.py run a real Prometheus
# server and promtool (prometheus), and load the web dashboard in headless
# Chromium driven by Selenium (chromium, chromium-driver,
# python3-selenium).  Nothing of encore needs them to build or run.
TEST_PKGS="$TEST_PKGS prometheus chromium chromium-driver python3-selenium"

# Cross builds (make CROSS=...), tests/integration/test_cross.py and the
# cross package test: Debian's cross compilers, qemu-user, and apt's
# package index of arm64 and armhf, from which packaging/cross-sysroot.sh
# unpacks the target's libevent, json-c, libproc2, Mbed TLS and libcrypto (no foreign package is
# installed on this machine).  Optional: when they cannot be installed,
# deps.sh says so and goes on, and those tests skip with that reason.
CROSS_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
libc6-dev-armhf-cross qemu-user-static"
CROSS_ARCHS="arm64 armhf"

case $mode in
build)	PKGS=$BUILD_PKGS ;;
demo)	PKGS="$BUILD_PKGS $DEMO_PKGS" ;;
deb)	PKGS="$BUILD_PKGS $DEB_PKGS" ;;
test)	PKGS="$BUILD_PKGS $DEMO_PKGS $DEB_PKGS $TEST_PKGS" ;;
*)	echo "usage: deps.sh [build|demo|deb|test]" >&2
	exit 2 ;;
esac

# Installed packages among those named, one dpkg-query for all of them.
present=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PKGS \
    $CROSS_PKGS 2>/dev/null | awk '$2 == "installed" { print $1 }')
installed() {
	echo "$present" | grep -qx "$1"
}

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done
missing_cross=""
missing_arch=""
stale_index=""
if [ "$mode" = test ]; then
	for p in $CROSS_PKGS; do
		installed "$p" || missing_cross="$missing_cross $p"
	done
	for a in $CROSS_ARCHS; do
		if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
			missing_arch="$missing_arch $a"
		# An architecture added but whose index was never fetched.
		elif ! ls /var/lib/apt/lists/*_binary-${a}_Packages* \
		    >/dev/null 2>&1; then
			stale_index=1
		fi
	done
fi

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "$missing_cross$missing_arch$stale_index" ]; then
		echo "deps: cross builds need packages:$missing_cross" \
		    "architectures:$missing_arch (run 'sudo sh packaging/deps.sh" \
		    "test')" >&2
	fi
	if [ -n "$missing" ]; then
		echo "deps: missing packages:$missing" >&2
		echo "deps: run 'sudo sh packaging/deps.sh $mode' or install" \
		    "them with apt-get" >&2
		exit 1
	fi
	exit 0
fi

for a in $missing_arch; do
	echo "deps: adding dpkg architecture $a (only its package index is" \
	    "used, by packaging/cross-sysroot.sh; nothing of $a is installed)"
	dpkg --add-architecture "$a"
done
# One architecture's index may fail to download while a mirror syncs; the
# rest is still usable, so a failed update is reported, not fatal.
if [ -n "$missing$missing_cross$missing_arch$stale_index" ]; then
	apt-get update -qq ||
		echo "deps: apt-get update reported errors; continuing" >&2
fi
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
fi
if [ -n "$missing_cross" ]; then
	echo "deps: installing$missing_cross"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing_cross >/dev/null ||
		echo "deps: could not install$missing_cross: cross builds" \
		    "and tests/integration/test_cross.py will not run" >&2
fi

# podman with its default settings raises the ulimits of every container,
# which needs CAP_SYS_RESOURCE, and on cgroup v1 (or hybrid) only runc
# works.  Containers and sandboxes (CI, this kind of VM) often have
# neither; there podman needs a system-wide containers.conf.  Write it only
# then, never over one the administrator wrote, and say so.
conf=/etc/containers/containers.conf
[ "$mode" = demo ] || [ "$mode" = test ] || exit 0
command -v podman >/dev/null 2>&1 || exit 0
[ ! -e "$conf" ] || exit 0
why=""
capbnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
if [ -n "$capbnd" ] && [ $(((0x$capbnd >> 24) & 1)) -eq 0 ]; then
	why="this machine lacks CAP_SYS_RESOURCE, so podman cannot set its default ulimits"
fi
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ]; then
	why="${why:+$why; }cgroups are v1 or hybrid, where podman needs runc"
fi
[ -n "$why" ] || exit 0
mkdir -p /etc/containers
cat >"$conf" <<'CONF'
# Written by encore's packaging/deps.sh: this machine cannot run podman
# with its default settings (no CAP_SYS_RESOURCE to raise ulimits, or
# cgroup v1/hybrid, where only runc works).  Delete this file to undo.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
echo "deps: NOTE: wrote $conf, a SYSTEM-WIDE podman configuration"
echo "deps:   why: $why"
echo "deps:   it sets explicit ulimits (nofile, nproc 1024) and runtime runc" \
    "for every podman user on this machine; delete it to undo"
exit 0
