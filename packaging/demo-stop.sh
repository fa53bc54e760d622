#!/bin/sh
# SPDX-License-Identifier: ISC
# Stop what packaging/demo.sh started.
cd "$(dirname "$0")/.." || exit 1
for f in demo-state/*.pid; do
	[ -f "$f" ] || continue
	kill "$(cat "$f")" 2>/dev/null && echo "stopped $(basename "$f" .pid)"
	rm -f "$f"
done
exit 0
