#!/bin/sh
# SPDX-License-Identifier: ISC
# make demo: a small local cluster doing real work.  Starts a main node and
# two workers on this machine (state under ./demo-state), submits a few
# command tasks (and container tasks where podman works), an array and a
# merge step after it with files in and out, waits for them and shows the
# results.  The cluster keeps running afterwards so you can look
# around; `make demo-stop` stops it.
set -e
cd "$(dirname "$0")/.."
BIN=$PWD/bin
DIR=$PWD/demo-state
PORT=${ENCORE_DEMO_PORT:-7070}
MAIN=127.0.0.1:$PORT

say() { printf '\n==> %s\n' "$*"; }

sh packaging/demo-stop.sh >/dev/null 2>&1 || true
mkdir -p "$DIR"
say "starting encore-main on $MAIN (state in $DIR/main)"
"$BIN/encore-main" --listen "$MAIN" --state-dir "$DIR/main" --approve auto \
	--heartbeat-interval 2 >"$DIR/main.log" 2>&1 &
echo $! >"$DIR/main.pid"
i=0
until [ -s "$DIR/main/operator.token" ] && echo status | nc -w 1 127.0.0.1 "$PORT" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 "$(cat "$DIR/main.pid")" 2>/dev/null; then
		echo "demo: encore-main did not start; its log:" >&2
		cat "$DIR/main.log" >&2
		exit 1
	fi
	sleep 0.2
done

runtime=none
if command -v podman >/dev/null 2>&1 && sh packaging/test-image.sh podman >/dev/null 2>&1; then
	runtime=podman
fi
for w in demo-laptop demo-pi; do
	say "starting worker $w (runtime: $runtime)"
	"$BIN/encore-worker" --main "$MAIN" --token-file "$DIR/main/join.token" \
		--id "$w" --state-dir "$DIR/$w" --slots 2 --runtime "$runtime" \
		--label "demo=$w" >"$DIR/$w.log" 2>&1 &
	echo $! >"$DIR/$w.pid"
done

export ENCORE_MAIN=$MAIN
ENCORE_TOKEN=$(cat "$DIR/main/operator.token")
export ENCORE_TOKEN
i=0
until [ "$(echo status | nc 127.0.0.1 "$PORT" | sed -n 's/^devices_online: //p')" = 2 ]; do
	i=$((i + 1))
	[ $i -le 50 ] || { echo "demo: workers did not join; see $DIR/*.log" >&2; exit 1; }
	sleep 0.2
done
say "echo devices | nc 127.0.0.1 $PORT"
echo devices | nc 127.0.0.1 "$PORT"

say "submitting tasks"
ids=""
for n in 1 2 3 4; do
	id=$("$BIN/encore" submit --name "count-$n" -- sh -c "for i in 1 2 3; do echo task $n step \$i on \$(hostname); sleep 0.3; done")
	ids="$ids $id"
	echo "submitted task $id: count-$n"
done
id=$("$BIN/encore" submit --name uname --priority high -- uname -a)
ids="$ids $id"
echo "submitted task $id: uname (high priority)"
id=$("$BIN/encore" submit --name failing -- sh -c 'echo about to fail >&2; exit 3')
ids="$ids $id"
echo "submitted task $id: failing (exits 3)"
if [ "$runtime" = podman ]; then
	id=$("$BIN/encore" submit --name in-a-container --image localhost/encore-test:latest --memory 64 -- sh -c 'echo hello from a container; cat /etc/passwd; touch /x 2>&1 || echo root filesystem is read-only')
	ids="$ids $id"
	echo "submitted task $id: in-a-container (podman, read-only, no network)"
fi

say "waiting for them (encore logs -f follows a task until it ends)"
for id in $ids; do
	"$BIN/encore" logs -f "$id" >/dev/null 2>&1 || true
done
"$BIN/encore" ps --all

for id in $ids; do
	say "encore logs $id"
	"$BIN/encore" logs "$id" || true
done

say "an array of 8 chunks (at most 4 at a time), then a merge step after them"
printf 'old laptops\nraspberry pis\nandroid phones\na nas\n' >"$DIR/devices.txt"
arr=$("$BIN/encore" submit --name chunk --array 8%4 --output part.txt -- \
    sh -c 'echo "chunk {index}: $(({index} * {index}))" > part.txt')
echo "submitted array $arr: chunk 0..7, each writes part.txt"
merge=$("$BIN/encore" submit --name merge --after "$arr" \
    --input "$DIR/devices.txt" --output merged.txt -- \
    sh -c 'sort devices.txt > merged.txt; echo merged $(wc -l < merged.txt) lines')
echo "submitted task $merge: merge, after every chunk, with an input file"
"$BIN/encore" logs -f "$merge" || true
"$BIN/encore" ps --all | grep -E 'ID|chunk|merge' || true
rm -rf "$DIR/out"
"$BIN/encore" fetch "$arr" "$DIR/out/chunks"
"$BIN/encore" fetch "$merge" "$DIR/out"
echo "fetched into $DIR/out:"
cat "$DIR"/out/chunks/*/part.txt "$DIR/out/merged.txt"

say "echo status | nc 127.0.0.1 $PORT"
echo status | nc 127.0.0.1 "$PORT"

cat <<MSG

The cluster is still running.  Try:
  export ENCORE_MAIN=$MAIN ENCORE_TOKEN=\$(cat $DIR/main/operator.token)
  bin/encore devices          bin/encore submit --wait -- echo hi
  bin/encore-top              echo devices | nc 127.0.0.1 $PORT
Stop it with: make demo-stop
MSG
