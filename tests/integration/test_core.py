# SPDX-License-Identifier: ISC
"""The main node's core: attempts that come back, retries that happen,
admin writes that fail, backups, snapshots and upgrades.

Focus of this file: task and device state that must stay right when the
unusual happens -- a device that was away but kept running, a database
that refuses a write for a moment, a full disk under an admin command --
and the database's own life: `backup`, rotating snapshots, and opening a
database that the previous release wrote.
"""

import base64
import glob
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading

import pytest

from conftest import ROOT, binpath, free_port, wait_for
from test_faults import fill, hold_write_lock, small_disk  # noqa: F401
from test_main_node import HB, register


def task_of(op, tid):
    return op.request("get_task", {"task_id": tid})["data"]["task"]


def test_device_back_in_time_keeps_its_attempt(cluster):
    """One device, stopped longer than --lost-after: its task went back to
    the queue, but the device comes back still running it.  It is the same
    attempt again (not refused as a second one, not run twice)."""
    cluster.start_main(offline_after=2)
    cluster.start_worker("w1", "--slots", "1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    tid = op.request("submit", {"task": {"command": ["sh", "-c",
                                                     "sleep 6; echo done"]}}
                     )["data"]["task_id"]
    wait_for(lambda: task_of(op, tid)["state"] == "running", 15,
             what="the task to run")
    cluster.workers["w1"].signal(signal.SIGSTOP)
    wait_for(lambda: task_of(op, tid)["state"] == "queued", 15,
             what="the task re-queued (device lost)")
    cluster.workers["w1"].signal(signal.SIGCONT)
    wait_for(lambda: task_of(op, tid)["state"] == "completed", 30,
             what="the task to complete")
    t = task_of(op, tid)
    assert t["attempt"] == 1, t
    attempts = t["attempts"]
    assert [a["state"] for a in attempts] == ["completed"], attempts
    assert "done" in op.request("logs", {"task_id": tid})["data"]["output"]
    assert "reinstate" in cluster.main.output()


def test_dispatch_refused_by_a_locked_database_is_retried(cluster):
    """A pass whose write the database refused is tried again by itself:
    the retry that the log promised used to need an unrelated event."""
    cluster.start_main(offline_after=60)
    dev, ack = register(cluster, "raw1")
    hb = dict(HB, accepting=False, reason="testing")
    dev.send("heartbeat", hb)
    cluster.wait_state("raw1", "paused")
    op = cluster.operator()
    tid = op.request("submit", {"task": {"command": ["true"]}}
                     )["data"]["task_id"]
    started = threading.Event()
    th = threading.Thread(target=hold_write_lock, daemon=True, args=(
        os.path.join(cluster.state, "encore.db"), 3.0, started))
    th.start()
    assert started.wait(10)
    dev.send("heartbeat", dict(HB, accepting=True))
    th.join(15)
    # Nothing else happens now; the main node must place the task anyway.
    msg = dev.recv_until(lambda m: m["message_type"] == "task_assign", 15)
    assert msg["data"]["task"]["task_id"] == tid


def test_admin_change_not_saved_is_not_obeyed(cluster, small_disk):
    """A drain the database could not save must not be obeyed either."""
    cluster.state = os.path.join(small_disk, "state")
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    filler = fill(small_disk)
    try:
        r = op.request("drain", {"device_id": "w1"})
        assert r["data"]["ok"] is False, r
        assert r["data"]["error"]["code"] in ("internal", "busy"), r
    finally:
        os.unlink(filler)
    assert cluster.device_state("w1") in ("online", "busy")
    tid = op.request("submit", {"task": {"command": ["true"]}}
                     )["data"]["task_id"]
    wait_for(lambda: task_of(op, tid)["state"] == "completed", 20,
             what="the undrained device to run a task")


def backup_of(op):
    """Run `backup`; returns (bytes, reply data)."""
    mid = op.send("backup", {})
    chunks = []
    while True:
        m = op.recv(timeout=30)
        if m.get("reply_to") != mid:
            continue
        if m["message_type"] == "event":
            assert m["data"]["offset"] == sum(len(c) for c in chunks)
            chunks.append(base64.b64decode(m["data"]["data"]))
            continue
        return b"".join(chunks), m["data"]


def test_backup_is_a_consistent_copy_a_main_node_starts_on(cluster, tmp_path):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    done = op.request("submit", {"task": {"command": ["echo", "hi"]}}
                      )["data"]["task_id"]
    wait_for(lambda: task_of(op, done)["state"] == "completed", 20,
             what="a task to complete")
    queued = [op.request("submit", {"task": {
        "command": ["true"], "requirements": {"arch": "none"}}}
        )["data"]["task_id"] for _ in range(50)]
    data, reply = backup_of(op)
    assert reply["ok"], reply
    assert reply["size"] == len(data) > 0
    assert reply["sha256"] == hashlib.sha256(data).hexdigest()
    # Restore: the copy as encore.db in a state dir with the same tokens.
    state2 = tmp_path / "restored"
    state2.mkdir(mode=0o700)
    (state2 / "encore.db").write_bytes(data)
    for name in ("join.token", "operator.token"):
        shutil.copy(os.path.join(cluster.state, name), str(state2 / name))
    db = sqlite3.connect(str(state2 / "encore.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    cluster.stop_all()
    cluster.state = str(state2)
    cluster.port = None
    cluster.start_main()
    op2 = cluster.operator()
    assert task_of(op2, done)["state"] == "completed"
    r = op2.request("list_tasks", {})["data"]
    assert [t["id"] for t in r["tasks"]] == queued
    assert "w1" in cluster.devices_csv()
    # The worker's key still admits it.
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")


def test_snapshots_rotate(cluster):
    cluster.start_main("--snapshot-interval", "1", "--snapshot-keep", "2")
    op = cluster.operator()
    op.request("submit", {"task": {"command": ["true"],
                                   "requirements": {"arch": "none"}}})
    snaps = os.path.join(cluster.state, "snapshots")

    def names():
        return sorted(glob.glob(os.path.join(snaps, "encore-*.db")))
    wait_for(lambda: len(names()) >= 2, 60, what="two snapshots")
    first = set(names())
    # A newer snapshot has been taken and the oldest dropped: two kept.
    got = wait_for(lambda: (lambda n: n if len(n) == 2 and set(n) - first
                            else None)(names()), 60,
                   what="a third snapshot and the oldest dropped")
    for path in got:
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("SELECT count(*) FROM tasks").fetchone()[0] == 1
        finally:
            db.close()
    assert oct(os.stat(snaps).st_mode & 0o777) == "0o700"
    # A copy in progress at exit leaves nothing half-written behind.
    cluster.main.stop()
    assert not glob.glob(os.path.join(snaps, ".copy-*"))


# The last commit whose encore-main wrote schema version 1 (the first
# release's); its database must open, unchanged in meaning, in this one.
PREVIOUS_RELEASE = "98fbadb"


@pytest.fixture(scope="module")
def previous_main(tmp_path_factory):
    """encore-main of the previous release, built from the git history."""
    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", ROOT, "cat-file", "-e", PREVIOUS_RELEASE],
            capture_output=True).returncode != 0:
        pytest.skip("the git history (commit %s) is not in this checkout, "
                    "so the previous release cannot be built"
                    % PREVIOUS_RELEASE)
    src = tmp_path_factory.mktemp("previous-release")
    arch = subprocess.run(["git", "-C", ROOT, "archive", PREVIOUS_RELEASE],
                          capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=arch, check=True)
    r = subprocess.run(["make", "-j2", "bin/encore-main"], cwd=str(src),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return os.path.join(str(src), "bin", "encore-main")


def test_database_of_the_previous_release_is_upgraded(cluster, previous_main):
    old = binpath
    # The previous release writes a database with devices and tasks in
    # every state...
    cluster.port = free_port()
    argv = [previous_main, "--listen", "127.0.0.1:%d" % cluster.port,
            "--state-dir", cluster.state, "--approve", "auto",
            "--heartbeat-interval", "1"]
    from conftest import Proc
    cluster.main = Proc(argv, os.path.join(cluster.tmp, "old-main.log"))
    cluster.procs.append(cluster.main)
    cluster.wait_listening()
    dev, ack = register(cluster, "pi4")
    key = ack["data"]["device_key"]
    dev.send("heartbeat", HB)
    cluster.wait_state("pi4", "online")
    op = cluster.operator()
    ids = {}
    ids["queued"] = op.request("submit", {"task": {
        "command": ["true"], "name": "wait", "priority": "high",
        "requirements": {"arch": "riscv64", "labels": {"room": "attic"}},
        "limits": {"cpus": 1.5, "memory_mb": 64}}})["data"]["task_id"]
    ids["cancelled"] = op.request("submit", {"task": {
        "command": ["true"], "requirements": {"arch": "none"}}}
        )["data"]["task_id"]
    op.request("cancel", {"task_id": ids["cancelled"]})
    ids["done"] = op.request("submit", {"task": {"command": ["echo", "x"]}}
                             )["data"]["task_id"]
    a = dev.recv_until(lambda m: m["message_type"] == "task_assign", 10)
    dev.send("task_started", {"task_id": ids["done"], "attempt": 1})
    dev.send("task_output", {"task_id": ids["done"], "attempt": 1,
                             "stream": "stdout", "seq": 0, "data": "x\n"})
    dev.send("task_result", {"task_id": ids["done"], "attempt": 1,
                             "status": "completed", "exit_code": 0})
    dev.recv_until(lambda m: m["message_type"] == "result_ack", 10)
    ids["running"] = op.request("submit", {"task": {"command": ["sleep", "9"]}}
                                )["data"]["task_id"]
    a = dev.recv_until(lambda m: m["message_type"] == "task_assign", 10)
    assert a["data"]["task"]["task_id"] == ids["running"]
    dev.send("task_started", {"task_id": ids["running"], "attempt": 1})
    wait_for(lambda: task_of(op, ids["running"])["state"] == "running", 10,
             what="running under the old release")
    dev.close()
    op.close()
    cluster.main.stop()
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()

    # ...and this release opens it in place and finds everything.
    cluster.start_main()
    assert "store_migrated" in cluster.main.output()
    # The database as the old release left it is kept, to go back.
    kept = glob.glob(os.path.join(cluster.state, "snapshots",
                                  "encore-before-v*.db"))
    assert len(kept) == 1, kept
    db = sqlite3.connect(kept[0])
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    op = cluster.operator()
    assert task_of(op, ids["queued"])["state"] == "queued"
    assert task_of(op, ids["cancelled"])["state"] == "cancelled"
    t = task_of(op, ids["done"])
    assert t["state"] == "completed" and t["exit_code"] == 0
    assert "x" in op.request("logs", {"task_id": ids["done"]}
                             )["data"]["output"]
    full = task_of(op, ids["queued"])
    assert full["requirements"]["arch"] == "riscv64"
    assert full["limits"]["cpus"] == 1.5
    # The device's key still admits it, and it reclaims its running task.
    dev2, ack2 = register(cluster, "pi4", key=key,
                          running_tasks=[{"task_id": ids["running"],
                                          "attempt": 1}])
    assert ack2["message_type"] == "register_ack", ack2
    dev2.send("heartbeat", HB)
    assert task_of(op, ids["running"])["state"] == "running"
    dev2.send("task_result", {"task_id": ids["running"], "attempt": 1,
                              "status": "completed", "exit_code": 0})
    dev2.recv_until(lambda m: m["message_type"] == "result_ack", 10)
    t = task_of(op, ids["running"])
    assert t["state"] == "completed" and t["attempt"] == 1
    # The upgraded queue still places: a device for the old queued task.
    dev3, _ = register(cluster, "rv", device_info={
        "hostname": "rv", "platform": "linux", "architecture": "riscv64"},
        labels={"room": "attic"})
    dev3.send("heartbeat", HB)
    a = dev3.recv_until(lambda m: m["message_type"] == "task_assign", 10)
    assert a["data"]["task"]["task_id"] == ids["queued"]
    assert binpath is old


def test_newer_database_is_refused(cluster):
    cluster.start_main()
    cluster.main.stop()
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    cluster.start_main(wait=False)
    assert cluster.main.p.wait(timeout=15) != 0
    out = cluster.main.output()
    assert "newer than this encore-main" in out
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 99
    db.close()


def test_array_elements_are_made_and_named_by_index(cluster):
    """Array elements are made as they start (their rows insert), are
    named ARRAY.INDEX in logs and in the output events of `logs -f` --
    also when it was asked for before the element existed -- and a hold
    of an element not made yet says what to hold instead."""
    cluster.start_main()
    cluster.start_worker("w1", "--slots", "1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    aid = op.request("submit", {"task": {"command": [
        "sh", "-c", "sleep 1; echo out-{index}"]},
        "array": {"start": 0, "end": 2}, "hold": True})["data"]["task_id"]
    r = op.request("hold", {"task_id": "%s.2" % aid})
    assert r["data"]["ok"] is False
    assert "hold its array" in r["data"]["error"]["message"], r
    follower = cluster.operator()
    mid = follower.send("logs", {"task_id": "%s.2" % aid, "follow": True})
    first = follower.recv_until(lambda m: m.get("reply_to") == mid)
    assert first["data"]["task_id"] == "%s.2" % aid, first
    assert op.request("release", {"task_id": aid})["data"]["ok"] is True
    out = follower.recv_until(lambda m: m.get("reply_to") == mid and
                              m["data"].get("topic") == "output", 30)
    assert out["data"]["task_id"] == "%s.2" % aid, out
    assert "out-2" in out["data"]["data"]
    end = follower.recv_until(lambda m: m.get("reply_to") == mid and
                              m["data"].get("topic") == "task", 30)
    assert end["data"]["task"]["state"] == "completed"
    wait_for(lambda: task_of(op, aid)["state"] == "completed", 30,
             what="the array to complete")
    r = op.request("logs", {"task_id": "%s.1" % aid})["data"]
    assert r["task_id"] == "%s.1" % aid and "out-1" in r["output"]
    assert "NOT NULL" not in cluster.main.output()


def test_failed_start_goes_elsewhere_or_fails_without_blame(cluster):
    """A task a device cannot start goes to a device that can; a task no
    device can start fails with the error, and does not count against the
    device (six of them leave it online, not quarantined)."""
    cluster.start_main()
    env = dict(os.environ, PATH="/nonexistent")
    cluster.start_worker("bad", "--slots", "1", env=env)
    cluster.wait_state("bad", "online")
    op = cluster.operator()
    for i in range(6):
        tid = op.request("submit", {"task": {
            "command": ["no-such-program-%d" % i]}})["data"]["task_id"]
        wait_for(lambda: task_of(op, tid)["state"] == "failed", 30,
                 what="the unstartable task to fail")
        assert "every device that could run it" in task_of(op, tid)["error"]
    assert cluster.device_state("bad") == "online"
    cluster.start_worker("good", "--slots", "1")
    cluster.wait_state("good", "online")
    tid = op.request("submit", {"task": {"command": [
        "sh", "-c", "echo ok"], "requirements": {}}})["data"]["task_id"]
    wait_for(lambda: task_of(op, tid)["state"] == "completed", 30,
             what="the task to complete on the good device")
    t = task_of(op, tid)
    assert t["device"] == "good", t
