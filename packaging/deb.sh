#!/bin/sh
# SPDX-License-Identifier: ISC
# deb.sh -- `make deb`: the Debian packages encore-main, encore-worker and
# encore-tools, built by debhelper (debian/) with dpkg-buildpackage in a
# copy of this tree (build/deb-src), so the build leaves the tree and its
# parent directory alone.  The .debs go to build/deb/; the -dbgsym
# packages (debug symbols), .buildinfo and .changes stay in build/deb-src/.  Environment:
#   DEB_OUT       where the .debs go (default build/deb)
#   DEBEMAIL, DEBFULLNAME
#                 the Maintainer of the packages built (default: the one
#                 in debian/control), as dch(1) takes them
#   CROSS         aarch64-linux-gnu or arm-linux-gnueabihf: only the
#                 encore-worker package, for arm64 or armhf, cross-built
#                 with the target's libraries in build/sysroot/CROSS
#                 (make deb CROSS=aarch64-linux-gnu)
#   DEB_BUILD_OPTIONS   as dpkg-buildpackage takes it (nocheck skips the
#                 unit tests the build runs)
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
OUT=${DEB_OUT:-build/deb}
SRC=build/deb-src

for tool in dpkg-buildpackage dh; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "deb: $tool not found: run 'sudo sh packaging/deps.sh deb'" \
		    "(it installs dpkg-dev, debhelper and lintian)" >&2
		exit 1
	fi
done

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
code=$(sed -n 's/^#define ENCORE_VERSION[^"]*"\(.*\)"/\1/p' \
    protocol/protocol.h)
if [ "$version" != "$code" ]; then
	echo "deb: debian/changelog is at $version, protocol/protocol.h's" \
	    "ENCORE_VERSION at $code: add a changelog entry (dch -v $code)" >&2
	exit 1
fi

opts="-us -uc -b"
if [ -n "$CROSS" ]; then
	case $CROSS in
	aarch64-linux-gnu)	arch=arm64 ;;
	arm-linux-gnueabihf)	arch=armhf ;;
	*)	echo "deb: unknown CROSS=$CROSS (aarch64-linux-gnu or" \
		    "arm-linux-gnueabihf)" >&2
		exit 2 ;;
	esac
	OUT=${DEB_OUT:-build/deb-$arch}
	# The target's -dev packages are in the sysroot, not installed: -d.
	opts="-us -uc -B -d -a$arch -Ppkg.encore.worker-only,nocheck"
	SYSROOT=${SYSROOT:-$top/build/sysroot/$CROSS}
	export SYSROOT
	DEB_BUILD_OPTIONS="nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
	export DEB_BUILD_OPTIONS
fi

# A copy of the tree without build output.
rm -rf "$SRC"
mkdir -p "$SRC/encore-$version"
tar -C "$top" --exclude=./build --exclude=./bin --exclude=./.git \
    --exclude=./demo-state --exclude=__pycache__ --exclude=.pytest_cache \
    -cf - . | tar -C "$SRC/encore-$version" -xf -
if [ -n "$DEBEMAIL" ]; then
	who="${DEBFULLNAME:-encore developers} <$DEBEMAIL>"
	sed -i "s/^Maintainer: .*/Maintainer: $who/" \
	    "$SRC/encore-$version/debian/control"
	sed -i "s/^ -- [^>]*>/ -- $who/" \
	    "$SRC/encore-$version/debian/changelog"
fi

echo "deb: dpkg-buildpackage $opts in $SRC/encore-$version" \
    "(log: $SRC/build.log)"
# Not the outer make's variables (O=, BIN=, SAN=) nor its jobserver.
if ! (cd "$SRC/encore-$version" &&
    env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
    dpkg-buildpackage $opts -J"$(nproc)") >"$SRC/build.log" 2>&1; then
	tail -40 "$SRC/build.log" >&2
	echo "deb: dpkg-buildpackage failed; the whole log is $SRC/build.log" >&2
	exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT"
for deb in "$SRC"/*.deb; do
	case $deb in
	*-dbgsym_*)	continue ;;
	esac
	cp "$deb" "$OUT/"
	echo "deb: $OUT/$(basename "$deb")" \
	    "(Depends: $(dpkg-deb -f "$deb" Depends))"
done
