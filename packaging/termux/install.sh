#!/data/data/com.termux/files/usr/bin/sh
# SPDX-License-Identifier: ISC
# install.sh -- build and run encore-worker on an Android phone in Termux.
#
#   sh packaging/termux/install.sh --main HOST:7070 --token-file join.token \
#       [other encore-worker flags]
#
# Run it from a clone of the encore repository inside Termux (F-Droid or
# GitHub build of Termux; the Play Store one is outdated).  It:
#  1. installs the build dependencies with pkg (clang make pkg-config
#     libevent json-c mbedtls openssl, and termux-services);
#  2. builds encore-worker with NO_PROC2=1: Termux packages no libproc2, so
#     the profiler reads /proc with its own parsers (the same ones the tests
#     run on captured trees); SQLite and ncurses are not needed;
#  3. installs it as $PREFIX/bin/encore-worker and writes a termux-services
#     (runit) service "encore-worker" with the flags given, which restarts
#     it when it exits.  Without flags it only builds and installs.
#
# Keeping it alive: Android kills background apps.  Run `termux-wake-lock`
# (or tap "Acquire wakelock" in Termux's notification) so the CPU stays up,
# exclude Termux from battery optimisation in Android's settings, and
# install Termux:Boot to start services after a reboot.  The worker pauses
# by itself on low battery (--min-battery, default 20 %) or heat.
# Container tasks are not available on Android: the worker offers command
# tasks only (--runtime auto finds no podman/docker there).
set -e

PREFIX=${PREFIX:-/data/data/com.termux/files/usr}
here=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v pkg >/dev/null 2>&1; then
	echo "install.sh: this is for Termux (no 'pkg' here); on Debian use" \
	    "the .debs or 'make', see the README" >&2
	exit 1
fi

echo "install.sh: installing build dependencies"
pkg install -y clang make pkg-config libevent json-c mbedtls openssl \
    termux-services

echo "install.sh: building encore-worker (NO_PROC2=1)"
# WERROR=: the user's build, which a new compiler warning must not stop.
# WORKER_SHA=-lcrypto: Termux's openssl has no static archive.
make -C "$here" O=build/termux BIN=build/termux/bin NO_PROC2=1 CC=clang WERROR= \
    WORKER_SHA=-lcrypto \
    build/termux/bin/encore-worker
install -m 0755 "$here/build/termux/bin/encore-worker" "$PREFIX/bin/"
"$PREFIX/bin/encore-worker" --version

[ $# -gt 0 ] || {
	echo "install.sh: installed; to run it as a service, run again with" \
	    "--main HOST:7070 --token-file FILE"
	exit 0
}

# The token file must outlive the clone: keep a copy in the state dir.
state="$HOME/.local/state/encore-worker"
mkdir -p "$state"
args=""
while [ $# -gt 0 ]; do
	case $1 in
	--token-file)
		cp "$2" "$state/join.token"
		chmod 0600 "$state/join.token"
		args="$args --token-file '$state/join.token'"
		shift 2 ;;
	*)
		args="$args '$1'"
		shift ;;
	esac
done

# termux-services: runit service directory, log through svlogd.
sv_dir="$PREFIX/var/service/encore-worker"
mkdir -p "$sv_dir/log"
cat >"$sv_dir/run" <<RUN
#!$PREFIX/bin/sh
exec 2>&1
exec $PREFIX/bin/encore-worker$args
RUN
chmod 0755 "$sv_dir/run"
ln -sf "$PREFIX/share/termux-services/svlogger" "$sv_dir/log/run"

echo "install.sh: service written to $sv_dir"
echo "install.sh: restart Termux once (termux-services starts runsvdir),"
echo "  then: sv-enable encore-worker && sv up encore-worker"
echo "  logs: tail -f $PREFIX/var/log/sv/encore-worker/current"
echo "  keep the phone awake: termux-wake-lock"
echo "  without termux-services, a loop works too:"
echo "  while :; do encore-worker$args; sleep 5; done"
