#!/bin/sh
# SPDX-License-Identifier: ISC
# deb.sh -- build the Debian packages encore-main, encore-worker and
# encore-tools (encore + encore-top) with dpkg-deb into build/deb/.
# Called by `make deb`.  Environment:
#   DEB_O        build dir for the binaries (default build/deb-obj)
#   DEB_OUT      where the .debs go (default build/deb)
#   DEB_VERSION  package version (default ENCORE_VERSION from protocol.h)
#   CROSS        aarch64-linux-gnu or arm-linux-gnueabihf: build only the
#                encore-worker package, for arm64 or armhf, from
#                `make CROSS=...` (make deb CROSS=aarch64-linux-gnu)
#
# Depends: lines come from dpkg-shlibdeps on the built binaries (so they
# name exactly the libraries each binary links: the worker never gets
# libsqlite3-0 or libncursesw6), with a hand-written fallback where
# dpkg-dev is not installed.  /etc/encore/*.conf and /etc/default/* are
# conffiles.  The maintainer scripts create the users (systemd-sysusers, or
# adduser without systemd) and touch systemd only where it is running, so
# installing into a chroot or a scratch root works.
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
O=${DEB_O:-build/deb-obj}
OUT=${DEB_OUT:-build/deb}
BIN=$O/bin
VERSION=${DEB_VERSION:-$(sed -n 's/^#define ENCORE_VERSION[^"]*"\(.*\)"/\1/p' \
    protocol/protocol.h)}
ARCH=$(dpkg --print-architecture)
MAINTAINER="encore developers <encore@localhost>"

if [ -n "$CROSS" ]; then
	case $CROSS in
	aarch64-linux-gnu)	ARCH=arm64 ;;
	arm-linux-gnueabihf)	ARCH=armhf ;;
	*)	echo "deb: unknown CROSS=$CROSS" >&2; exit 2 ;;
	esac
	O=build/$CROSS
	BIN=$O/bin
	OUT=${DEB_OUT:-build/deb-$ARCH}
	echo "deb: cross-building the worker into $BIN"
	env -u MAKEFLAGS -u MAKEOVERRIDES make -s CROSS="$CROSS" >/dev/null
else
	echo "deb: building binaries into $BIN"
	make -s O="$O" BIN="$BIN" all >/dev/null
fi

rm -rf "$OUT"
mkdir -p "$OUT"
stage="$OUT/stage"

# shlibdeps BINARY... -- the Depends of these binaries.
shlibdeps() {
	# dpkg-shlibdeps needs the target's libraries installed: not so when
	# cross-building.
	if [ -z "$CROSS" ] && command -v dpkg-shlibdeps >/dev/null 2>&1; then
		d=$(mktemp -d)
		mkdir "$d/debian"
		printf 'Source: encore\n\nPackage: encore\nArchitecture: any\n' \
		    >"$d/debian/control"
		for b in "$@"; do
			set -- "$@" "$top/$b"
			shift
		done
		(cd "$d" && dpkg-shlibdeps -O "$@" 2>/dev/null) |
		    sed -n 's/^shlibs:Depends=//p'
		rm -rf "$d"
		return
	fi
	# Fallback: bookworm's library packages, by what each binary links.
	deps="libc6 (>= 2.34), libevent-2.1-7 (>= 2.1.8-stable), libjson-c5 (>= 0.15)"
	for b in "$@"; do
		case $b in
		*/encore-main)	 deps="$deps, libsqlite3-0 (>= 3.20.0), libssl3 (>= 3.0.0), libevent-openssl-2.1-7 (>= 2.1.8-stable)" ;;
		*/encore-worker) deps="$deps, libproc2-0 (>= 2:4.0.2), libssl3 (>= 3.0.0), libevent-openssl-2.1-7 (>= 2.1.8-stable)" ;;
		*/encore-top)	 deps="$deps, libncursesw6 (>= 6), libtinfo6 (>= 6), libssl3 (>= 3.0.0), libevent-openssl-2.1-7 (>= 2.1.8-stable)" ;;
		*/encore)	 deps="$deps, libssl3 (>= 3.0.0)" ;;
		esac
	done
	echo "$deps"
}

# control PKG DEPENDS DESCRIPTION... -- write DEBIAN/control.
control() {
	pkg=$1 deps=$2
	shift 2
	size=$(du -sk --exclude=DEBIAN "$stage/$pkg" | cut -f1)
	{
		echo "Package: $pkg"
		echo "Version: $VERSION"
		echo "Architecture: $ARCH"
		echo "Maintainer: $MAINTAINER"
		echo "Installed-Size: $size"
		echo "Depends: $deps"
		echo "Section: net"
		echo "Priority: optional"
		echo "Homepage: https://github.com/encore/encore"
		for line in "$@"; do
			echo "$line"
		done
	} >"$stage/$pkg/DEBIAN/control"
}

# common PKG -- the directories, README and copyright of every package.
common() {
	pkg=$1
	mkdir -p "$stage/$pkg/DEBIAN" "$stage/$pkg/usr/bin" \
	    "$stage/$pkg/usr/share/doc/$pkg"
	install -m 0644 README.md "$stage/$pkg/usr/share/doc/$pkg/README.md"
	cat >"$stage/$pkg/usr/share/doc/$pkg/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: encore
Comment: built from the encore source tree by packaging/deb.sh
EOF
}

# binary PKG NAME -- a stripped copy of NAME in /usr/bin.
binary() {
	install -m 0755 "$BIN/$2" "$stage/$1/usr/bin/$2"
	$STRIP --strip-unneeded "$stage/$1/usr/bin/$2"
}

# service PKG ROLE USERLINE -- unit, sysusers file, /etc/encore and
# /etc/default conffiles, and the maintainer scripts of a daemon package.
service() {
	pkg=$1 role=$2
	d="$stage/$pkg"
	mkdir -p "$d/lib/systemd/system" "$d/usr/lib/sysusers.d" \
	    "$d/etc/encore" "$d/etc/default"
	install -m 0644 "packaging/systemd/$pkg.service" "$d/lib/systemd/system/"
	grep "^u *$3 " packaging/systemd/encore.sysusers \
	    >"$d/usr/lib/sysusers.d/$pkg.conf"
	install -m 0644 "config/$role.conf" "$d/etc/encore/$role.conf"
	install -m 0644 "packaging/systemd/$pkg.default" "$d/etc/default/$pkg"
	printf '/etc/encore/%s.conf\n/etc/default/%s\n' "$role" "$pkg" \
	    >"$d/DEBIAN/conffiles"
	for s in postinst prerm postrm; do
		install -m 0755 "packaging/deb/$pkg.$s" "$d/DEBIAN/$s"
	done
}

# strip for the binary's own architecture.
STRIP=strip
[ -z "$CROSS" ] || STRIP=$CROSS-strip
PKGS="encore-main encore-worker encore-tools"
[ -z "$CROSS" ] || PKGS=encore-worker

if [ -z "$CROSS" ]; then
common encore-main
binary encore-main encore-main
service encore-main main encore
control encore-main "$(shlibdeps "$BIN/encore-main"), adduser | systemd" \
    "Recommends: encore-tools" \
    "Description: encore main node: turns retired devices into a cluster" \
    " The main node keeps every device's profile and a priority task queue" \
    " in SQLite and dispatches tasks to encore-worker devices over TCP 7070."
fi

common encore-worker
binary encore-worker encore-worker
service encore-worker worker encore-worker
control encore-worker "$(shlibdeps "$BIN/encore-worker"), adduser | systemd" \
    "Suggests: podman | docker.io" \
    "Description: encore worker: runs cluster tasks on this device" \
    " The device agent profiles the machine from /proc and /sys, runs the" \
    " tasks the encore main node gives it (in podman or docker where" \
    " available) and reports back.  Links no SQLite and no ncurses."

if [ -z "$CROSS" ]; then
common encore-tools
binary encore-tools encore
binary encore-tools encore-top
control encore-tools "$(shlibdeps "$BIN/encore" "$BIN/encore-top")" \
    "Description: encore operator tools: CLI and ncurses dashboard" \
    " encore submits, lists and cancels tasks and administers devices;" \
    " encore-top is the live device grid."
fi

for pkg in $PKGS; do
	dpkg-deb --root-owner-group -Zxz --build "$stage/$pkg" \
	    "$OUT/${pkg}_${VERSION}_$ARCH.deb" >/dev/null
	echo "deb: $OUT/${pkg}_${VERSION}_$ARCH.deb" \
	    "($(dpkg-deb -f "$OUT/${pkg}_${VERSION}_$ARCH.deb" Depends))"
done
rm -rf "$stage"
