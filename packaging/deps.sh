#!/bin/sh
# SPDX-License-Identifier: ISC
# Install every Debian package that the build, the demo and the tests need.
# Idempotent: does nothing when all are present; runs `apt-get update` only
# when something is missing.  Also sets up podman for this kind of sandbox
# (no CAP_SYS_RESOURCE, hybrid cgroups) unless a containers.conf exists.
set -e

PKGS="build-essential pkg-config libevent-dev libjson-c-dev libsqlite3-dev
libssl-dev libproc2-dev libncurses-dev libcmocka-dev python3-pytest netcat-openbsd tmux
sqlite3 clang libclang-rt-14-dev podman runc busybox-static uidmap procps
dpkg-dev"

# Test-only: tests/integration/test_http.py and test_web.py run a real
# Prometheus server and promtool (prometheus), and load the web dashboard
# in headless Chromium driven by Selenium (chromium, chromium-driver,
# python3-selenium).  Nothing of encore needs them to build or run.
PKGS="$PKGS prometheus chromium chromium-driver python3-selenium"

# Cross builds (make CROSS=...) and tests/integration/test_cross.py: Debian's
# cross compilers, qemu-user, and apt's package index of arm64 and armhf,
# from which packaging/cross-sysroot.sh unpacks the target's libevent,
# json-c and libproc2 (no foreign package is installed on this machine).
# Optional: when they cannot be installed, deps.sh says so and goes on, and
# the cross test skips with that reason.
CROSS_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
libc6-dev-armhf-cross qemu-user-static"
CROSS_ARCHS="arm64 armhf"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
missing_cross=""
for p in $CROSS_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing_cross="$missing_cross $p"
done
missing_arch=""
for a in $CROSS_ARCHS; do
	dpkg --print-foreign-architectures | grep -qx "$a" ||
		missing_arch="$missing_arch $a"
done
# An architecture added but whose index was never fetched.
stale_index=""
[ -n "$missing_arch" ] ||
	apt-cache show libevent-dev:arm64 libevent-dev:armhf >/dev/null 2>&1 ||
	stale_index=1

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "$missing_cross$missing_arch$stale_index" ]; then
		echo "deps: cross builds need packages:$missing_cross" \
		    "architectures:$missing_arch (run 'sudo sh packaging/deps.sh')" >&2
	fi
	if [ -n "$missing" ]; then
		echo "deps: missing packages:$missing" >&2
		echo "deps: run 'sudo sh packaging/deps.sh' or install them with apt-get" >&2
		exit 1
	fi
	exit 0
fi

for a in $missing_arch; do
	echo "deps: adding dpkg architecture $a (for its package index)"
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
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -n "$missing_cross" ]; then
	echo "deps: installing$missing_cross"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing_cross >/dev/null ||
		echo "deps: could not install$missing_cross: cross builds" \
		    "and tests/integration/test_cross.py will not run" >&2
fi

# podman in this sandbox needs runc and explicit ulimits; do not touch a
# configuration the administrator wrote.
conf=/etc/containers/containers.conf
if [ "$(id -u)" -eq 0 ] && [ ! -e "$conf" ]; then
	mkdir -p /etc/containers
	cat > "$conf" <<'CONF'
# Written by encore's packaging/deps.sh for sandboxes without
# CAP_SYS_RESOURCE and with hybrid cgroups.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
	echo "deps: wrote $conf"
fi
exit 0
