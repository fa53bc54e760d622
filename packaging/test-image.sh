#!/bin/sh
# SPDX-License-Identifier: ISC
# Build the local busybox image localhost/encore-test:latest for container
# tasks (demo and tests), without any registry: a rootfs holding the static
# busybox and its applet links, imported with `podman import`.
# Usage: packaging/test-image.sh [RUNTIME]   (default podman)
set -e
rt=${1:-podman}
image=localhost/encore-test:latest
command -v "$rt" >/dev/null 2>&1 || { echo "test-image: $rt not found" >&2; exit 1; }
if "$rt" image exists "$image" 2>/dev/null; then
	exit 0
fi
bb=$(command -v busybox || echo /bin/busybox)
[ -x "$bb" ] || { echo "test-image: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
tar -C "$root" -c . | "$rt" import - "$image" >/dev/null
echo "test-image: built $image"
