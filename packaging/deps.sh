#!/bin/sh
# Install every Debian package that the build, the demo and the tests need.
# Idempotent: does nothing when all are present; runs `apt-get update` only
# when something is missing.  Also sets up podman for this kind of sandbox
# (no CAP_SYS_RESOURCE, hybrid cgroups) unless a containers.conf exists.
set -e

PKGS="build-essential pkg-config libevent-dev libjson-c-dev libsqlite3-dev
libproc2-dev libncurses-dev libcmocka-dev python3-pytest netcat-openbsd tmux
sqlite3 clang libclang-rt-14-dev podman runc busybox-static uidmap procps"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages:$missing" >&2
		echo "deps: run 'sudo sh packaging/deps.sh' or install them with apt-get" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
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
