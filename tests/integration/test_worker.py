# SPDX-License-Identifier: ISC
"""encore-worker: join, report, stay joined.

Focus of this file: the worker daemon's command line (--help, --version,
--profile, usage errors), registration with a real main node (token,
device.key, manual approval, refusals), heartbeats, and reconnection after
either side dies.  Every wait is bounded; all traffic is on 127.0.0.1.
"""

import json
import os
import platform
import socket
import subprocess
import time

import pytest

from conftest import Proc, binpath, wait_for
from fake_upstream import fake  # noqa: F401 (a fixture)

ASAN = bool(os.environ.get("ENCORE_ASAN"))




def run_worker(*args, timeout=30):
    return subprocess.run([binpath("encore-worker")] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def meminfo_total_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def nproc_values():
    vals = set()
    for argv in (["nproc"], ["nproc", "--all"]):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode == 0:
            vals.add(int(r.stdout.strip()))
    vals.add(os.cpu_count())
    return vals


def log_count(proc, needle):
    return proc.output().count(needle)


# ---- command line ----

def test_profile_matches_this_machine(tmp_path):
    r = run_worker("--profile", "--state-dir", str(tmp_path / "w"),
                   "--runtime", "none", "--label", "room=kitchen")
    assert r.returncode == 0, r.stderr
    prof = json.loads(r.stdout)
    info, hw = prof["device_info"], prof["hardware_specs"]
    assert info["architecture"] == platform.machine()
    assert info["hostname"] == socket.gethostname()
    assert info["platform"] == "linux"
    assert info["kernel"] == platform.release()
    assert hw["memory_total"] == meminfo_total_bytes()
    assert hw["cpu_cores"] in nproc_values()
    assert hw["disk_space"] > 0 and 0 <= hw["disk_free"] <= hw["disk_space"]
    assert prof["capabilities"] == ["command"]
    assert prof["labels"] == {"room": "kitchen"}
    assert prof["slots"] == hw["cpu_cores"]
    # Pretty-printed: one field a line.
    assert r.stdout.count("\n") > 10
    # The state dir was created private.
    assert (os.stat(tmp_path / "w").st_mode & 0o777) == 0o700


def test_profile_slots_flag(tmp_path):
    r = run_worker("--profile", "--state-dir", str(tmp_path), "--runtime",
                   "none", "--slots", "3")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["slots"] == 3


def test_help_and_version():
    r = run_worker("--help")
    assert r.returncode == 0
    assert "--main" in r.stdout and "--token-file" in r.stdout
    assert "state" in r.stdout
    r = run_worker("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("encore-worker ")


def test_missing_main_is_usage_error(tmp_path):
    r = run_worker("--state-dir", str(tmp_path))
    assert r.returncode == 2
    assert "--main" in r.stderr


def test_unreadable_token_file_is_named(tmp_path):
    missing = str(tmp_path / "no-such.token")
    r = run_worker("--main", "127.0.0.1:1", "--state-dir", str(tmp_path),
                   "--token-file", missing)
    assert r.returncode == 2
    assert missing in r.stderr


def test_bad_label_and_unknown_flag(tmp_path):
    r = run_worker("--profile", "--state-dir", str(tmp_path), "--label",
                   "novalue")
    assert r.returncode == 2 and "--label" in r.stderr
    r = run_worker("--bogus-flag")
    assert r.returncode == 2


def test_config_file(tmp_path, cluster):
    conf = tmp_path / "worker.conf"
    conf.write_text("# test\nslots = 2\nlabel = zone=a\n")
    r = run_worker("--profile", "--state-dir", str(tmp_path / "s"),
                   "--runtime", "none", "--config", str(conf))
    assert r.returncode == 0, r.stderr
    prof = json.loads(r.stdout)
    assert prof["slots"] == 2 and prof["labels"] == {"zone": "a"}


# ---- joining ----

def test_worker_joins_and_reports(cluster):
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    row = cluster.devices_csv()["w1"]
    assert int(row["cores"]) in nproc_values()
    assert abs(int(row["mem_mb"]) - meminfo_total_bytes() // (1024 * 1024)) <= 1
    assert row["arch"] == platform.machine()
    assert int(row["slots"]) == int(row["cores"])
    # Heartbeat metrics arrive within a few heartbeats (interval 1 s).
    wait_for(lambda: cluster.devices_csv()["w1"]["cpu_pct"] != "", 10,
             what="cpu_pct from heartbeats")
    row = cluster.devices_csv()["w1"]
    assert 0.0 <= float(row["mem_pct"]) <= 100.0
    assert float(row["load1"]) >= 0.0
    # The worker logged the connection as one key=value line.
    assert "event=connected" in w.output()
    assert os.path.exists(os.path.join(cluster.tmp, "w-w1", "device.key"))
    st = os.stat(os.path.join(cluster.tmp, "w-w1", "device.key"))
    assert (st.st_mode & 0o777) == 0o600


def memory_kb(pid):
    """(RSS, USS) of a process in KiB: USS is the pages it has to itself,
    RSS adds the shared pages of its libraries."""
    with open("/proc/%d/status" % pid) as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
    uss = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for l in f:
            if l.startswith(("Private_Clean:", "Private_Dirty:")):
                uss += int(l.split()[1])
    return rss, uss


def test_idle_footprint(cluster):
    """Idle, a worker costs little: with the pinned join token (TLS) and
    with the bare secret (plaintext), its own memory stays under 2 MiB,
    and its RSS near the README's 4 MiB target (about 3.4 and 3.0 MiB
    measured; these bounds catch a return of OpenSSL's client, 8 MiB, or
    of libsystemd, not a few pages)."""
    cluster.start_main()
    w = cluster.start_worker("w1")
    bare = os.path.join(cluster.tmp, "bare.token")
    with open(bare, "w") as f:
        f.write(cluster.token("join").split(":")[2] + "\n")
    w2 = cluster.start_worker("w2", token_file=bare)
    cluster.wait_state("w1", "online")
    cluster.wait_state("w2", "online")
    assert "event=tls " in w.output() and "tls=off" in w2.output()
    time.sleep(2)
    for p, rss_max in ((w, 5 * 1024), (w2, 4608)):
        rss, uss = memory_kb(p.pid)
        if not ASAN:
            assert uss < 2 * 1024, "idle USS %d KiB (RSS %d)" % (uss, rss)
            assert rss < rss_max, "idle RSS %d KiB (USS %d)" % (rss, uss)

    def cpu_ticks():
        with open("/proc/%d/stat" % w.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    t0 = cpu_ticks()
    time.sleep(3)
    # Three heartbeats in 3 s: well under 5% of one CPU.
    assert cpu_ticks() - t0 <= 15


def test_kill9_worker_goes_offline(cluster):
    cluster.start_main(offline_after=3)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    w.kill9()
    cluster.wait_state("w1", "offline", timeout=15)


def test_main_restart_worker_rejoins_with_key(cluster):
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    key = os.path.join(cluster.tmp, "w-w1", "device.key")
    wait_for(lambda: os.path.exists(key), 30, what="device.key")
    cluster.main.kill9()
    wait_for(lambda: "event=disconnected" in w.output() or
             "event=connect_failed" in w.output(), 10,
             what="worker noticing the main node is gone")
    cluster.start_main()
    cluster.wait_state("w1", "online", timeout=30)
    assert w.alive()
    assert "credential=device_key" in w.output()
    # Only one device, still the same id.
    assert list(cluster.devices_csv()) == ["w1"]


def test_worker_survives_main_absent_at_start(cluster):
    """A worker started before its main node keeps retrying."""
    from conftest import free_port
    cluster.port = free_port()
    tok = os.path.join(cluster.tmp, "join.token")
    with open(tok, "w") as f:
        f.write("x" * 32 + "\n")
    w = cluster.start_worker("w1", token_file=tok)
    wait_for(lambda: "event=connect_failed" in w.output(), 10,
             what="a failed connect")
    assert w.alive()
    cluster.start_main("--join-token", "x" * 32)
    cluster.wait_state("w1", "online", timeout=40)


def test_wrong_token_rejected_once(cluster, tmp_path):
    cluster.start_main()
    bad = tmp_path / "bad.token"
    bad.write_text("not-the-token\n")
    w = cluster.start_worker("intruder", token_file=str(bad))
    wait_for(lambda: "event=rejected" in w.output(), 10,
             what="a rejected line")
    wait_for(lambda: "event=reconnect_scheduled" in
             w.output().split("event=rejected", 1)[1], 30,
             what="its next attempt to be set")
    out = w.output()
    lines = [l for l in out.splitlines() if "event=rejected" in l and
             (" error: " in l or " warn: " in l)]
    assert len(lines) == 1, out
    assert "--token" in lines[0] and "join.token" in lines[0]
    assert "not-the-token" not in out
    assert w.alive()
    assert "intruder" not in cluster.devices_csv()


def test_same_id_cannot_take_over(cluster, tmp_path):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    sdir = tmp_path / "impostor"
    argv = [binpath("encore-worker"), "--main", "127.0.0.1:%d" % cluster.port,
            "--id", "w1", "--state-dir", str(sdir), "--runtime", "none",
            "--token-file", os.path.join(cluster.state, "join.token"),
            "--log-level", "debug"]
    imp = Proc(argv, str(tmp_path / "impostor.log"))
    cluster.procs.append(imp)
    wait_for(lambda: "event=rejected" in imp.output(), 10,
             what="the impostor to be refused")
    wait_for(lambda: "event=reconnect_scheduled" in
             imp.output().split("event=rejected", 1)[1], 30,
             what="its next attempt to be set")
    assert cluster.device_state("w1") == "online"
    assert list(cluster.devices_csv()) == ["w1"]
    assert not os.path.exists(sdir / "device.key")
    assert cluster.workers["w1"].alive()


def test_manual_approval(cluster):
    cluster.start_main(approve="manual")
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "pending")
    wait_for(lambda: "event=pending" in w.output(), 10, what="pending log")
    key = os.path.join(cluster.tmp, "w-w1", "device.key")
    assert not os.path.exists(key)
    op = cluster.operator()
    try:
        r = op.request("approve", {"device_id": "w1"})
        assert r["data"]["ok"] is True, r
    finally:
        op.close()
    cluster.wait_state("w1", "online")
    wait_for(lambda: os.path.exists(key), 10, what="device.key after approval")
    assert w.output().count("event=pending") == 1


def test_sigterm_says_bye(cluster):
    cluster.start_main(offline_after=60)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    assert w.stop() == 0
    # Offline long before offline-after (60 s): the bye did it.
    cluster.wait_state("w1", "offline", timeout=30)
    # (Proc.output() needs an open log; stop() closed it.)
    with open(w.log_path, "rb") as f:
        out = f.read().decode(errors="replace")
    assert "event=shutdown" in out and "event=exit" in out


def test_removed_device_rejoins_with_token(cluster):
    """A device.key the main node no longer knows is refused; the worker
    then joins again with its join token and stores the new key."""
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    key = os.path.join(cluster.tmp, "w-w1", "device.key")
    wait_for(lambda: os.path.exists(key), 30, what="device.key")
    with open(key) as f:
        old = f.read()
    op = cluster.operator()
    try:
        r = op.request("remove", {"device_id": "w1"})
        assert r["data"]["ok"] is True, r
    finally:
        op.close()
    wait_for(lambda: "credential=device_key" in w.output() and
             "retrying with the join token" in w.output(), 20,
             what="the key to be refused and the token used")
    cluster.wait_state("w1", "online", timeout=20)

    def new_key():
        with open(key) as f:
            return f.read() not in ("", old)
    # The main node counts it online when it registers; the worker stores
    # the key when the register_ack arrives, a moment later.
    wait_for(new_key, 10, what="the new device.key")


# ---- credentials ----

def test_no_credentials_is_exit_2(tmp_path):
    """No --token/--token-file and no device.key: nothing can ever
    register, so exit 2 (final for systemd) saying what to pass."""
    r = run_worker("--main", "127.0.0.1:1", "--state-dir",
                   str(tmp_path / "s"), "--runtime", "none", timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--token-file" in r.stderr and "device.key" in r.stderr


def test_token_file_unreadable_is_exit_2(tmp_path):
    d = tmp_path / "a-directory"
    d.mkdir()
    r = run_worker("--main", "127.0.0.1:1", "--state-dir",
                   str(tmp_path / "s"), "--token-file", str(d), timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert str(d) in r.stderr


def test_key_refused_without_token_is_exit_2(cluster):
    """A device removed on the main node, restarted with its key and no
    join token, cannot join again: exit 2 with what to do."""
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    key = os.path.join(cluster.tmp, "w-w1", "device.key")
    wait_for(lambda: os.path.exists(key), 10, what="device.key")
    assert w.stop() == 0
    op = cluster.operator()
    try:
        assert op.request("remove", {"device_id": "w1"})["data"]["ok"]
    finally:
        op.close()
    w2 = cluster.start_worker("w1", token_file=False)
    wait_for(lambda: not w2.alive(), 20, what="the worker to exit")
    assert w2.p.returncode == 2, w2.output()
    assert "--token-file" in w2.output()


# ---- a main node that misbehaves (tests/integration/fake_upstream.py) ----

def reconnect_gaps(fm, n, timeout):
    """Seconds between the first n connections."""
    fm.wait_conn(n, timeout)
    t = [c.opened for c in fm.conns[:n]]
    return [b - a for a, b in zip(t, t[1:])]


def test_reconnects_quickly_at_first(fake):
    """A main node that closes at once: the worker's first retries come
    after 0.125-0.25 s, 0.25-0.5 s, 0.5-1 s, 1-2 s (it was 1 s doubling
    to 30 s, so a restarted main node waited long for its workers)."""
    fm, start = fake
    w = start()
    for i in range(1, 6):
        fm.wait_conn(i, 20).close()
    gaps = reconnect_gaps(fm, 5, 20)
    bounds = [0.25, 0.5, 1.0, 2.0]
    for g, b in zip(gaps, bounds):
        # + time to notice the close and connect, on a busy machine
        assert g <= b + 1.0, (gaps, bounds)
    # The old schedule (1 s doubling) took at least 7.5 s for these four.
    assert sum(gaps) < 6.0, gaps
    assert w.alive()


def test_no_register_ack_reconnects(fake):
    fm, start = fake
    w = start()
    c = fm.wait_conn(1)
    c.wait_msg("register")
    fm.wait_conn(2, timeout=25)     # after the 10 s register_ack deadline
    assert "no register_ack within 10 s" in w.output()
    assert w.alive()


def test_stalled_line_reconnects(fake):
    """A main node that begins a line and dribbles bytes without ever
    ending it does not hang the worker."""
    fm, start = fake
    w = start()
    c = fm.wait_conn(1)
    c.wait_msg("register")
    c.ack()
    c.wait_msg("heartbeat")
    c.send_raw(b'{"message_type":"task_ass')
    deadline = time.monotonic() + 30
    while not c.closed and time.monotonic() < deadline:
        c.send_raw(b" ")
        time.sleep(0.5)
    assert c.closed, "the worker kept the stalled connection"
    assert "did not end it within 15 s" in w.output()
    fm.wait_conn(2, timeout=15)
    assert w.alive()


def test_oversized_line_closes(fake):
    fm, start = fake
    w = start()
    c = fm.wait_conn(1)
    c.wait_msg("register")
    c.ack()
    c.send_raw(b'{"message_type":"error","data":{"message":"' +
               b"x" * 70000)
    c.wait_closed(timeout=15)
    assert "line too long" in w.output()
    fm.wait_conn(2, timeout=15)
    assert w.alive()


def test_main_strings_sanitized_in_log(fake):
    fm, start = fake
    w = start()
    c = fm.wait_conn(1)
    c.wait_msg("register")
    c.ack()
    evil = 'boom\u001b[31m" forged=1\nevent=fake'
    c.send({"message_type": "error", "data": {"code": "internal",
                                               "message": evil}})
    c.send_raw(b'{"message_type":"task_cancel","data":{"task_id":"\\u001b[2J","attempt":"x"}}\n')
    # Task ids come from the main node too.
    bad_id = 't\u001b[31m" x=1'
    c.assign(bad_id, 1, ["true"])
    c.wait_msg("task_result", lambda d: d["task_id"] == bad_id)
    c.cancel(bad_id + "2", 1)
    c.send({"message_type": "bye", "data": {"reason": evil}})
    wait_for(lambda: "event=main_bye" in w.output(), 10, what="the bye")
    out = w.output()
    assert "\x1b" not in out, out
    assert '" forged=1' not in out
    assert "\nevent=fake" not in out


# ---- assignments the worker cannot start ----

def result_of(c, task_id, attempt):
    return c.wait_msg("task_result", lambda d: d.get("task_id") == task_id
                      and d.get("attempt") == attempt)["data"]


def test_unstartable_assignments_are_start_failed(fake, tmp_path):
    """No free slot, a second attempt of a task still running here, a
    missing program, a program the kernel cannot execute: each is answered
    failed with start_failed and a clear error, and no task_started; a
    duplicate of a running attempt is not refused; a task_cancel stops the
    attempt it names."""
    fm, start = fake
    w = start("--slots", "2")
    c = fm.wait_conn(1)
    c.wait_msg("register")
    c.ack()
    # execve itself fails (ENOEXEC): the child reports it (in the worker's
    # memory, which it shares, or else through the exec-status pipe).
    bindir = tmp_path / "bin"
    bindir.mkdir()
    notelf = bindir / "not-a-program"
    notelf.write_bytes(b"\x7fELF garbage, not a program\n")
    notelf.chmod(0o755)
    c.assign("noexec", 1, [str(notelf)])
    r = result_of(c, "noexec", 1)
    assert r["status"] == "failed" and r.get("start_failed") is True, r
    assert "cannot run" in r["error"] and "format" in r["error"], r
    assert not c.of_type("task_started", lambda d: d["task_id"] == "noexec")
    c.assign("a", 1, ["sleep", "6301"])
    c.wait_msg("task_started", lambda d: d["task_id"] == "a")
    c.assign("nope", 1, ["no-such-program-encore"])
    r = result_of(c, "nope", 1)
    assert r["status"] == "failed" and r.get("start_failed") is True, r
    assert "not found" in r["error"], r
    c.assign("a", 2, ["sleep", "6301"])
    r = result_of(c, "a", 2)
    assert r["status"] == "failed" and r.get("start_failed") is True, r
    assert "attempt 1" in r["error"] and "still running" in r["error"], r
    c.assign("b", 1, ["sleep", "6302"])
    c.wait_msg("task_started", lambda d: d["task_id"] == "b")
    c.assign("c", 1, ["true"])
    r = result_of(c, "c", 1)
    assert r["status"] == "failed" and r.get("start_failed") is True, r
    assert "no free slot" in r["error"], r
    # The same attempt again is a duplicate, not a refusal.
    c.assign("a", 1, ["sleep", "6301"])
    time.sleep(0.5)
    assert not c.of_type("task_result", lambda d: d["task_id"] == "a" and
                         d["attempt"] == 1)
    c.cancel("a", 1)
    r = result_of(c, "a", 1)
    assert r["status"] == "cancelled", r
    assert not r.get("start_failed"), r
    c.cancel("b", 1)
    assert result_of(c, "b", 1)["status"] == "cancelled"
    assert w.alive()
