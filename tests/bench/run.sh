#!/bin/sh
# SPDX-License-Identifier: ISC
# run.sh -- `make bench`: every scenario, each against a fresh
# encore-main (its own temp state dir, a free loopback port), printing one
# "bench: NAME VALUE UNIT" line per figure.  Everything is bounded: each
# swarm has a --duration, each wait a deadline; the whole run takes a few
# minutes.  Logs stay in the work dir when a scenario fails (KEEP=1 keeps
# them always).
#
# The main node runs with --max-msg-rate 0: the per-connection rate limit
# (default 2000 lines/s) would otherwise cap the one operator connection
# that submits the tasks, and the figures are about capacity.
#
#   ENCORE_BIN=DIR      binaries (default ./bin); make bench sets it
#   ENCORE_BENCH_LOG=L  main node log level (default info, as shipped)
#   ONLY="s1 s3"        run only these scenarios

set -u

BIN=${ENCORE_BIN:-$(pwd)/bin}
SWARM=$BIN/encore-swarm
LOGLEVEL=${ENCORE_BENCH_LOG:-info}
ONLY=${ONLY:-}
HB=1			# heartbeat interval given to the main node, s
WORK=$(mktemp -d "${TMPDIR:-/tmp}/encore-bench.XXXXXX")
MAIN_PID=
FAILED=0
HZ=$(getconf CLK_TCK)

for b in encore-main encore-worker encore-swarm encore-spawn-limit \
    encore-tls-handshake; do
	if [ ! -x "$BIN/$b" ]; then
		echo "run.sh: $BIN/$b is missing; run 'make bench'" >&2
		exit 2
	fi
done

cleanup() {
	stop_main
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	if [ "$FAILED" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$WORK"
	else
		echo "# logs kept in $WORK" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 10,000 devices need 10,000+ descriptors in the main node and the swarm.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then
	ulimit -n 65536
else
	ulimit -n "$hard"
fi
NOFILE=$(ulimit -n)
NDEV=10000
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((NDEV + 200)) ]; then
	NDEV=$((NOFILE - 200))
	echo "# fd limit $NOFILE: simulating $NDEV devices, not 10000" >&2
fi

now() { date +%s.%N; }

# A free loopback port.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# 0 if something listens on 127.0.0.1:$1.
port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null
}

# One text command; the reply on stdout.
text_cmd() {
	python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.settimeout(5)
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace"))
EOF
}

# Wait (at most $3 s) until file $1 has a line matching $2.
wait_line() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Start a fresh main node for scenario $1; extra flags follow.
start_main() {
	pct=; rss=
	sync	# the last scenario's writeback must not stall this one
	SDIR=$WORK/$1
	mkdir -p "$SDIR"
	shift
	PORT=$(free_port)
	"$BIN/encore-main" --listen "127.0.0.1:$PORT" --state-dir "$SDIR/state" \
	    --approve auto --heartbeat-interval $HB --log-level "$LOGLEVEL" \
	    --max-connections 30000 --max-msg-rate 0 "$@" >"$SDIR/main.log" 2>&1 &
	MAIN_PID=$!
	i=0
	while ! port_open "$PORT"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$MAIN_PID" 2>/dev/null; then
			echo "run.sh: encore-main did not start; see $SDIR/main.log" >&2
			FAILED=1
			exit 1
		fi
		sleep 0.1
	done
	JT=$SDIR/state/join.token
	OT=$SDIR/state/operator.token
}

# Stop the main node (SIGTERM, then SIGKILL after 15 s).
stop_main() {
	[ -n "$MAIN_PID" ] || return 0
	kill -TERM "$MAIN_PID" 2>/dev/null
	i=0
	while kill -0 "$MAIN_PID" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$MAIN_PID" 2>/dev/null
	wait "$MAIN_PID" 2>/dev/null
	MAIN_PID=
}

swarm() {
	"$SWARM" --main "127.0.0.1:$PORT" --token-file "$JT" \
	    --operator-token-file "$OT" "$@"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# The process's own pages (USS): private clean + dirty, shared ones not.
uss_kb() { awk '/^Private_(Clean|Dirty):/ { n += $2 } END { print n }' "/proc/$1/smaps_rollup"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# CPU % of one core over $1 seconds of process $2 (default: the main
# node), with $3 decimals (default 1).
cpu_pct() {
	pid=${2:-$MAIN_PID}
	c1=$(cpu_ticks "$pid"); t1=$(now)
	sleep "$1"
	c2=$(cpu_ticks "$pid"); t2=$(now)
	awk -v c1="$c1" -v c2="$c2" -v t1="$t1" -v t2="$t2" -v hz="$HZ" \
	    -v d="${3:-1}" \
	    'BEGIN { printf "%.*f", d, 100 * (c2 - c1) / hz / (t2 - t1) }'
}

# A swarm figure: $1 file, $2 name, $3 name to print (default $2).
pick() {
	grep "^bench: $2 " "$1" | head -1 | sed "s/^bench: $2 /bench: ${3:-$2} /"
}
value() { grep "^bench: $2 " "$1" | head -1 | awk '{ print $3 }'; }

# With real workers every task of $2 must have completed (/bin/true).
check_real() {
	f=$(text_cmd "$PORT" status | awk -F': ' '/^tasks_failed/ { print $2 }')
	if [ "${f:-0}" -ne 0 ]; then
		echo "# $1: CORRECTNESS: $f tasks failed; worker logs in $WORK" >&2
		FAILED=1
	fi
}

# The swarm's own verdict on correctness.
check() {
	if ! grep -q "^swarm: finish" "$1"; then
		echo "# $2: the swarm did not finish; logs in $WORK" >&2
		FAILED=1
	fi
	if grep -q "tasks_lost=[1-9]\|duplicate_[a-z]*=[1-9]\|over_slots=[1-9]" "$1"; then
		echo "# $2: CORRECTNESS: $(grep '^swarm: check' "$1")" >&2
		FAILED=1
	fi
}

want() { [ -z "$ONLY" ] || echo " $ONLY " | grep -q " $1 "; }

echo "# encore bench $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)," \
    "$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(awk '/^MemTotal/ { printf "%.0f MB", $2 / 1024 }' /proc/meminfo) RAM;" \
    "main node log level $LOGLEVEL, heartbeat interval $HB s"

# s1: devices connected; main CPU and RSS at NDEV devices, 1 s heartbeats.
if want s1; then
	start_main s1
	out=$SDIR/swarm.out
	swarm -n "$NDEV" --ramp 2000 --hold 12 --duration 120 >"$out" 2>"$SDIR/swarm.err" &
	sp=$!
	if wait_line "$out" "^swarm: steady" 90; then
		sleep 2
		pct=$(cpu_pct 6)
		rss=$(rss_kb "$MAIN_PID")
	fi
	wait "$sp"
	pick "$out" devices_connected
	pick "$out" ramp_s
	echo "bench: main_cpu_pct ${pct:-nan} %"
	awk -v k="${rss:-0}" 'BEGIN { printf "bench: main_rss_mb %.1f MB\n", k / 1024 }'
	check "$out" s1
	stop_main
fi

# s2: heartbeat ingest, NDEV devices heartbeating every 80 ms (125,000
# msgs/s offered; four lines per write so one swarm core can offer it).
# The figure is the main node's own message counter over the window.
if want s2; then
	start_main s2
	out=$SDIR/swarm.out
	swarm -n "$NDEV" --heartbeat-ms 80 --heartbeat-batch 4 \
	    --measure-ingest --ramp 2000 --hold 25 --duration 150 \
	    >"$out" 2>"$SDIR/swarm.err" &
	sp=$!
	if wait_line "$out" "^swarm: steady" 90; then
		sleep 2
		pct=$(cpu_pct 6)
		rss=$(rss_kb "$MAIN_PID")
	fi
	wait "$sp"
	pick "$out" heartbeats_per_s
	pick "$out" heartbeats_offered_per_s
	echo "bench: main_cpu_pct_ingest ${pct:-nan} %"
	echo "bench: main_rss_mb_ingest $(awk -v k="${rss:-0}" 'BEGIN { printf "%.1f", k / 1024 }') MB"
	echo "bench: devices_dropped_ingest $(sed -n 's/.*unexpected_close=\([0-9]*\).*/\1/p' "$out") devices"
	check "$out" s2
	stop_main
fi

# s3: end-to-end task throughput, 100 devices x 4 slots, 20,000 0 ms tasks.
TPS=
if want s3 || want s5; then
	start_main s3
	out=$SDIR/swarm.out
	swarm -n 100 --slots 4 --tasks 20000 --task-ms 0 --window 512 \
	    --duration 150 >"$out" 2>"$SDIR/swarm.err"
	pick "$out" tasks_per_s
	pick "$out" tasks_done
	pick "$out" submit_to_start_ms_p99 submit_to_start_ms_p99_saturated
	awk -v k="$(rss_kb "$MAIN_PID")" 'BEGIN { printf "bench: main_rss_mb_tasks %.1f MB\n", k / 1024 }'
	TPS=$(value "$out" tasks_per_s)
	check "$out" s3
	stop_main
fi

# s4: submit -> task_started on an idle cluster, 1 task every 5 ms.
if want s4; then
	start_main s4
	out=$SDIR/swarm.out
	swarm -n 100 --slots 4 --tasks 1000 --rate 200 --duration 60 \
	    >"$out" 2>"$SDIR/swarm.err"
	pick "$out" submit_to_start_ms_p50
	pick "$out" submit_to_start_ms_p99
	check "$out" s4
	stop_main
fi

# s5: the same at half the maximum load measured by s3.
if want s5 && [ -n "$TPS" ]; then
	rate=$(awk -v t="$TPS" 'BEGIN { r = int(t / 2); print (r < 1 ? 1 : r) }')
	n=$((rate * 8))
	start_main s5
	out=$SDIR/swarm.out
	swarm -n 100 --slots 4 --tasks "$n" --rate "$rate" --window 4096 \
	    --duration 90 >"$out" 2>"$SDIR/swarm.err"
	pick "$out" submit_to_start_ms_p50 submit_to_start_ms_p50_half_load
	pick "$out" submit_to_start_ms_p99 submit_to_start_ms_p99_half_load
	echo "bench: half_load_rate $rate tasks/s"
	check "$out" s5
	stop_main
fi

# s6: RSS with 100,000 queued tasks (no devices: they stay queued).
if want s6; then
	start_main s6
	out=$SDIR/swarm.out
	swarm -n 0 --tasks 100000 --window 512 --duration 90 \
	    >"$out" 2>"$SDIR/swarm.err"
	pick "$out" submits_per_s
	pick "$out" tasks_rejected
	q=$(text_cmd "$PORT" status | awk -F': ' '/^tasks_queued/ { print $2 }')
	echo "bench: tasks_queued ${q:-nan} tasks"
	awk -v k="$(rss_kb "$MAIN_PID")" 'BEGIN { printf "bench: main_rss_mb_queued %.1f MB\n", k / 1024 }'
	check "$out" s6
	stop_main
fi

# Wait up to 10 s until the main node's devices_online OP N (-ge, -eq).
wait_online() {
	i=0
	while [ $i -lt 100 ]; do
		on=$(text_cmd "$PORT" status | awk -F': ' '/^devices_online/ { print $2 }')
		[ "${on:--1}" "$1" "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Start $1 real encore-workers (8 slots each) on the current main node
# and wait until they are online; their pids in WPIDS.  The token files
# of the first ones may follow (default: the pinned join.token, so TLS).
start_workers() {
	WPIDS=
	n=$1
	shift
	for w in $(seq 1 "$n"); do
		tf=${1:-$JT}
		[ $# -gt 0 ] && shift
		mkdir -p "$SDIR/w$w"
		"$BIN/encore-worker" --main "127.0.0.1:$PORT" --token-file "$tf" \
		    --id "real-$w" --state-dir "$SDIR/w$w" --runtime none \
		    --slots 8 --log-level "${WORKER_LOG:-warn}" \
		    ${WORKER_OPTS:-} >"$SDIR/w$w.log" 2>&1 &
		WPIDS="$WPIDS $!"
	done
	wait_online -ge "$n" || true
}

stop_workers() {
	kill -TERM $WPIDS 2>/dev/null
	wait $WPIDS 2>/dev/null
	WPIDS=
}

# s0: the physical limit: /bin/true started and reaped per second from as
# many threads as there are cores, and one spawn's own time.
SPAWN_LIMIT=
if want s8 || want s14; then
	out=$WORK/spawn.out
	"$BIN/encore-spawn-limit" 3 >"$out" 2>&1
	pick "$out" spawn_limit_per_s
	pick "$out" spawn_one_ms_p50
	pick "$out" spawn_one_ms_p99
	SPAWN_LIMIT=$(value "$out" spawn_limit_per_s)
fi

# s7: real encore-workers, idle, registered, their policy on (the load of
# other programs measured at every 1 s heartbeat, a run window): one with
# the bare secret of the join token (plaintext, as before pinned tokens),
# one with the pinned token (TLS).  RSS as the kernel counts it (shared
# library pages included), the pages each has to itself (USS), and the
# CPU of the TLS one over 20 s.
# s8: those 2 real encore-workers running /bin/true, against the spawn
# limit; and the CPU per task of the workers (their own, without their
# tasks') and of the main node.
if want s7 || want s8; then
	start_main s7
	BARE=$SDIR/bare.token
	sed 's/^ENC1:[0-9a-f]*://' "$JT" >"$BARE"
	WORKER_OPTS="--max-load 64 --run-hours 00:00-24:00" \
	    start_workers 2 "$BARE" "$JT"
	sleep 3
	w1=$(echo $WPIDS | awk '{ print $1 }')
	w2=$(echo $WPIDS | awk '{ print $2 }')
	echo "bench: worker_idle_rss_kb $(rss_kb "$w1") kB"
	echo "bench: worker_idle_uss_kb $(uss_kb "$w1") kB"
	echo "bench: worker_idle_rss_kb_tls $(rss_kb "$w2") kB"
	echo "bench: worker_idle_uss_kb_tls $(uss_kb "$w2") kB"
	echo "bench: worker_idle_cpu_pct $(cpu_pct 20 "$w2" 2) %"
	if want s8; then
		out=$SDIR/swarm.out
		wc1=$(( $(cpu_ticks "$w1") + $(cpu_ticks "$w2") ))
		mc1=$(cpu_ticks "$MAIN_PID")
		swarm -n 0 --tasks 5000 --window 512 --done-by-status \
		    --duration 120 >"$out" 2>"$SDIR/swarm.err"
		wc2=$(( $(cpu_ticks "$w1") + $(cpu_ticks "$w2") ))
		mc2=$(cpu_ticks "$MAIN_PID")
		pick "$out" tasks_per_s tasks_per_s_real
		# The CPU each task cost the workers themselves (their
		# tasks' own time not counted) and the main node.
		awk -v w="$((wc2 - wc1))" -v m="$((mc2 - mc1))" -v hz="$HZ" \
		    'BEGIN { printf "bench: worker_cpu_us_per_task %.0f us\n", w * 1e6 / hz / 5000
			printf "bench: main_cpu_us_per_task %.0f us\n", m * 1e6 / hz / 5000 }'
		tpr=$(value "$out" tasks_per_s)
		if [ -n "$tpr" ] && [ -n "$SPAWN_LIMIT" ]; then
			awk -v t="$tpr" -v l="$SPAWN_LIMIT" \
			    'BEGIN { printf "bench: tasks_real_vs_limit %.2f ratio\n", t / l }'
		fi
		check "$out" s8
		check_real s8
	fi
	stop_workers
	stop_main
fi

# s14: submit -> running (the worker's task_started, seen as a `tasks`
# event) with one real worker on an idle cluster, 20 tasks/s.
if want s14; then
	start_main s14
	start_workers 1
	out=$SDIR/swarm.out
	swarm -n 0 --tasks 400 --rate 20 --window 64 --done-by-status \
	    --watch-starts --duration 60 >"$out" 2>"$SDIR/swarm.err"
	pick "$out" submit_to_start_ms_p50 submit_to_start_real_ms_p50
	pick "$out" submit_to_start_ms_p99 submit_to_start_real_ms_p99
	check "$out" s14
	check_real s14
	stop_workers
	stop_main
fi

# s15: the worker's TLS handshake with a real main node: 50 rounds of
# connect + handshake + the check against the pin, with the worker's own
# client session (tests/bench/tls-handshake.c).
if want s15; then
	start_main s15
	"$BIN/encore-tls-handshake" "127.0.0.1:$PORT" "$JT" 50 \
	    >"$SDIR/tls.out" 2>&1 || FAILED=1
	pick "$SDIR/tls.out" tls_handshake_ms_p50
	pick "$SDIR/tls.out" tls_handshake_ms_p99
	pick "$SDIR/tls.out" tls_handshake_cpu_ms
	stop_main
fi

# s9: failover when the connection drops and the device does not return
# (--lost-after 1: the figure is the mechanism, not the default grace);
# s10: when the device goes silent (offline-after = 3 x interval).
for sc in "s9 drop failover_dropped_s" "s10 silent failover_silent_s"; do
	set -- $sc
	want "$1" || continue
	start_main "$1" --lost-after 1
	out=$SDIR/swarm.out
	swarm -n 4 --slots 1 --failover "$2" --failover-rounds 3 \
	    --duration 60 >"$out" 2>"$SDIR/swarm.err"
	pick "$out" "$3"
	check "$out" "$1"
	stop_main
done

# s11: task throughput with NDEV devices x 4 slots (placement scans them).
if want s11; then
	start_main s11
	out=$SDIR/swarm.out
	swarm -n "$NDEV" --slots 4 --tasks 20000 --task-ms 0 --window 512 \
	    --duration 150 >"$out" 2>"$SDIR/swarm.err"
	pick "$out" tasks_per_s tasks_per_s_many_devices
	check "$out" s11
	stop_main
fi

# s13: arrays.  The submit of a 1,000,000-element array (one row until
# its elements run: time to the reply, and the main node's RSS growth),
# then 20,000 elements of one array through 100 devices x 4 slots, to
# compare with s3's plain tasks.
if want s13; then
	start_main s13a
	sleep 1
	rss0=$(rss_kb "$MAIN_PID")
	out=$SDIR/swarm.out
	swarm -n 0 --tasks 1000000 --array --duration 60 >"$out" \
	    2>"$SDIR/swarm.err"
	sleep 1
	rss1=$(rss_kb "$MAIN_PID")
	pick "$out" array_submit_ms
	awk -v a="$rss0" -v b="$rss1" \
	    'BEGIN { printf "bench: array_rss_mb %.1f MB\n", (b - a) / 1024 }'
	stop_main
	start_main s13b
	out=$SDIR/swarm.out
	swarm -n 100 --slots 4 --tasks 20000 --array --task-ms 0 \
	    --duration 150 >"$out" 2>"$SDIR/swarm.err"
	pick "$out" tasks_per_s array_tasks_per_s
	check "$out" s13
	stop_main
fi

# Main node CPU time so far, in nanoseconds (schedstat: finer than ticks).
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }

# Submit $2 tasks no device can run (arch riscv64) over one operator
# connection to the main node on port $1; returns once all are queued.
submit_unplaceable() {
	python3 - "$1" "$2" "$OT" <<'PYEOF'
import json, socket, sys
port, n, tokfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), 10)
f = s.makefile("rwb")
tok = open(tokfile).read().strip()
f.write((json.dumps({"message_type": "auth", "message_id": "a",
                     "data": {"token": tok}}) + "\n").encode())
for i in range(n):
    f.write((json.dumps({"message_type": "submit", "message_id": str(i),
                         "data": {"task": {"command": ["true"],
                                  "requirements": {"arch": "riscv64"}}}})
             + "\n").encode())
f.flush()
got = 0
while got < n + 1:
    if not f.readline():
        sys.exit("connection closed")
    got += 1
PYEOF
}

# s16: one 1 GB input to one real worker over loopback: the worker's own
# figure from its first file_get to the file verified in its cache
# (event=file_fetched), and the main node's largest RSS meanwhile.  The
# input is one MiB of /dev/urandom repeated with a counter stamped in each
# MiB (tests/integration/files_helper.py), so its hash is of real bytes;
# it is uploaded from disk first, then a task `true` that takes it.  Once
# with the pinned token (TLS: the worker's Mbed TLS decrypts), once with
# the bare secret (plaintext: what the main node serves when the worker's
# crypto is not in the way).
if want s16; then
	start_main s16
	BARE=$SDIR/bare.token
	sed 's/^ENC1:[0-9a-f]*://' "$JT" >"$BARE"
	peak=0
	for mode in tls plain; do
		tf=$JT name=file_mb_per_s
		[ $mode = plain ] && tf=$BARE name=file_mb_per_s_plain
		mkdir -p "$SDIR/$mode"
		"$BIN/encore-worker" --main "127.0.0.1:$PORT" --token-file "$tf" \
		    --id "file-$mode" --state-dir "$SDIR/$mode" --runtime none \
		    --cache-mb 2048 --log-level info >"$SDIR/$mode.log" 2>&1 &
		WPIDS=$!
		wait_online -ge 1 || true
		if python3 "$(dirname "$0")/../integration/files_helper.py" \
		    "$PORT" "$OT" "$SDIR/big.bin" 1024 submit \
		    >"$SDIR/upload-$mode.out" 2>"$SDIR/upload-$mode.err"; then
			i=0
			while [ $i -lt 1200 ] && ! grep -q "event=file_fetched" \
			    "$SDIR/$mode.log"; do
				r=$(rss_kb "$MAIN_PID")
				[ "${r:-0}" -gt "$peak" ] && peak=$r
				sleep 0.1
				i=$((i + 1))
			done
		fi
		mbs=$(sed -n 's/.*event=file_fetched .*mb_per_s=\([0-9.]*\).*/\1/p' \
		    "$SDIR/$mode.log" | head -1)
		if [ -z "$mbs" ]; then
			echo "# s16: the input did not reach the $mode worker;" \
			    "logs in $WORK" >&2
			FAILED=1
		fi
		echo "bench: $name ${mbs:-nan} MB/s"
		rm -f "$SDIR/big.bin"
		rm -rf "$SDIR/$mode/cache" "$SDIR/$mode/work"
		stop_workers
		# The next worker must be the only one online.
		wait_online -eq 0 || true
	done
	awk -v k="$peak" 'BEGIN { printf "bench: file_main_rss_mb %.1f MB\n", k / 1024 }'
	rm -rf "$SDIR/state/files"
	stop_main
fi

# s12: the cost of a long queue that cannot run: main node CPU for 30
# runnable tasks run one after another, with 20,000 unplaceable tasks
# queued, divided by the same with none (target <= 1.5).  The WAL the
# submissions left is checkpointed first, and each figure is the least
# of three runs, so neither is a checkpoint's or a neighbour's noise.
if want s12; then
	for q in 0 20000; do
		start_main "s12-$q"
		[ "$q" -eq 0 ] || submit_unplaceable "$PORT" "$q"
		sqlite3 "$SDIR/state/encore.db" \
		    "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null 2>&1
		best=
		for run in 1 2 3; do
			sleep 1
			c1=$(cpu_ns "$MAIN_PID")
			out=$SDIR/swarm-$run.out
			swarm -n 1 --slots 1 --tasks 30 --window 1 --task-ms 0 \
			    --prefix "r$run-" --duration 60 >"$out" \
			    2>"$SDIR/swarm.err"
			c2=$(cpu_ns "$MAIN_PID")
			d=$((c2 - c1))
			[ -z "$best" ] || [ "$d" -lt "$best" ] && best=$d
			check "$out" "s12-$q"
		done
		eval "CPU$q=\$best"
		stop_main
	done
	awk -v a="$CPU0" -v b="$CPU20000" 'BEGIN {
		printf "bench: queue_cpu_ms_empty %.1f ms\n", a / 1e6
		printf "bench: queue_cpu_ms_blocked %.1f ms\n", b / 1e6
		printf "bench: queue_blocked_overhead %.2f x\n", (a > 0 ? b / a : 0) }'
fi

exit "$FAILED"
