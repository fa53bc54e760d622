#!/bin/sh
# SPDX-License-Identifier: ISC
# cross-sysroot.sh TRIPLET DIR -- unpack the target's libraries and -dev
# packages (libevent, json-c, libproc2, Mbed TLS, libcrypto and what they
# link) into DIR, for
# `make CROSS=TRIPLET` and for running the result under qemu-user.
#
# Why a sysroot and not `apt-get install libevent-dev:arm64`: multiarch
# "Multi-Arch: same" packages must have the very same version for every
# architecture, so installing libsystemd0:arm64 (pulled in by libproc2-0)
# forces an upgrade of the host's libsystemd0, liblzma5, ... and fails when
# the host is not fully up to date or the mirror's indexes of the two
# architectures are out of step.  `apt-get download` + `dpkg -x` takes the
# target's packages as they are, changes nothing on the host and needs no
# root once the architecture's package index is there (packaging/deps.sh
# adds arm64 and armhf and runs apt-get update).
#
# The sysroot also holds the target's libc and loader, so the binaries run
# with `qemu-aarch64-static -L DIR` (or qemu-arm-static) alone.
# Idempotent: does nothing when DIR/.complete lists the same packages.
set -e

triplet=$1
dir=$2
if [ -z "$triplet" ] || [ -z "$dir" ]; then
	echo "usage: cross-sysroot.sh TRIPLET DIR" >&2
	exit 2
fi
case $triplet in
aarch64-linux-gnu)	arch=arm64 ;;
arm-linux-gnueabihf)	arch=armhf ;;
*)	echo "cross-sysroot: unknown triplet $triplet" \
	    "(aarch64-linux-gnu or arm-linux-gnueabihf)" >&2
	exit 2 ;;
esac

# The packages whose files the build and the run need: the -dev packages
# (libcrypto's for the CLI's `encore backup` and the worker's SHA-256,
# Mbed TLS's for the worker's TLS), the shared libraries they
# link, and what libproc2 needs at link time (the linker follows
# DT_NEEDED) and at run time.
PKGS="libc6 libgcc-s1
libevent-dev libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7
libevent-pthreads-2.1-7 libevent-openssl-2.1-7
libjson-c-dev libjson-c5
libproc2-dev libproc2-0
libssl-dev libssl3
libmbedtls-dev libmbedtls14 libmbedx509-1 libmbedcrypto7
libsystemd0 libcap2 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libzstd1"

# Done already, from this very list (a sysroot made from an older list is
# made again).
[ -e "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$PKGS" ] && exit 0
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)

if ! apt-cache show "libevent-dev:$arch" >/dev/null 2>&1; then
	echo "cross-sysroot: no $arch package index; run" \
	    "'sudo sh packaging/deps.sh' (it adds the $arch architecture)" >&2
	exit 1
fi

debs="$dir.debs"
rm -rf "$dir" "$debs"
mkdir -p "$dir" "$debs"
list=""
for p in $PKGS; do
	list="$list $p:$arch"
done
echo "cross-sysroot: downloading $arch packages into $debs"
# apt-get download writes into the current directory.  As root, apt drops
# to the _apt user for downloads, which cannot write into a build tree.
(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root $list \
    >/dev/null)
for d in "$debs"/*.deb; do
	dpkg-deb -x "$d" "$dir"
done
# Absolute symlinks (e.g. lib*.so -> /lib/...) would point into the host.
find "$dir" -type l | while read -r l; do
	t=$(readlink "$l")
	case $t in
	/*)	ln -sf "$dir$t" "$l" ;;
	esac
done
rm -rf "$debs"
# Nothing in it may be named *.d: the Makefile includes every *.d under
# build/ as a dependency file.  Only etc/ld.so.conf.d is, and it is unused.
find "$dir" -name '*.d' -prune -exec rm -rf {} +
printf '%s\n' "$PKGS" >"$dir/.complete"
echo "cross-sysroot: $arch sysroot ready in $dir"
