# SPDX-License-Identifier: ISC
"""Faults around the main node: full or read-only disk, SQLite busy, SIGPIPE.

Focus of this file: the main node keeps serving what it can when its
environment misbehaves, says clearly what failed, and recovers by itself.
The state dir lives on a small tmpfs the test mounts and unmounts (skipped
when mounting is not permitted); another process takes SQLite's write lock
with Python's sqlite3; text and JSON clients hang up without reading.
"""

import json
import os
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import pytest

from conftest import wait_for


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs of our own for the state dir."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700",
                        "encore-test", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs for a full/read-only disk (needs "
                    "root / CAP_SYS_ADMIN): " + r.stderr.strip())
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path):
    """Write a file until the disk is full; returns its path."""
    p = os.path.join(path, "filler")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 512):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return p


def error_of(r):
    d = r.get("data", {})
    if r.get("message_type") == "error":
        return d
    return d.get("error") or {}


def submit_until_error(op, limit=3000):
    """Submit until one is refused; returns (acked ids, the refusal)."""
    acked = []
    for i in range(limit):
        r = op.request("submit", {"task": {"command": ["true"],
                                           "name": "x" * 100}}, timeout=15)
        if r.get("data", {}).get("ok") is True:
            acked.append(r["data"]["task_id"])
        else:
            return acked, r
    return acked, None


def check_reads(cluster, op):
    assert "devices_total:" in cluster.text("status")
    assert cluster.text("tasks csv").startswith("id,name,state")
    assert op.request("list_tasks", {"all": True})["data"]["ok"] is True
    assert op.request("list_devices")["data"]["ok"] is True


def recovered_submit(op, timeout=30):
    def ok():
        r = op.request("submit", {"task": {"command": ["true"]}})
        return r["data"]["task_id"] if r["data"].get("ok") else None
    return wait_for(ok, timeout, interval=0.5, what="submit to work again")


def db_ids(cluster):
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {str(r[0]) for r in db.execute("SELECT id FROM tasks")}
    finally:
        db.close()


def test_disk_full_keeps_reads_and_recovers(cluster, small_disk):
    cluster.state = os.path.join(small_disk, "state")
    cluster.start_main()
    op = cluster.operator()
    first, _ = submit_until_error(op, limit=5)
    assert len(first) == 5
    filler = fill(small_disk)
    acked, refusal = submit_until_error(op)
    assert refusal is not None, "every submit succeeded on a full disk"
    err = error_of(refusal)
    assert err.get("code") == "internal", refusal
    assert "disk" in err.get("message", ""), refusal
    # The node keeps serving reads, and keeps refusing writes clearly.
    check_reads(cluster, op)
    r = op.request("submit", {"task": {"command": ["true"]}})
    assert error_of(r).get("code") == "internal", r
    assert cluster.main.alive()
    # Space comes back: writes work again, without a restart.
    os.unlink(filler)
    tid = recovered_submit(op)
    check_reads(cluster, op)
    ids = db_ids(cluster)
    missing = [t for t in first + acked + [tid] if t not in ids]
    assert not missing, missing
    assert cluster.main.alive()


def test_result_on_a_full_disk_is_kept_until_space_returns(cluster,
                                                          small_disk):
    """A result that cannot be saved is never acknowledged.

    Its group commit fails, nothing of it is sent, the worker is cut off
    and re-sends the spooled result once the disk has space again; the task
    ends up finished exactly once.
    """
    cluster.state = os.path.join(small_disk, "state")
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    # No output: the result is the only write of its batch.  It ends when
    # the test says so, once the disk is full.
    flag = os.path.join(cluster.tmp, "go")
    r = op.request("submit", {"task": {"command": [
        "sh", "-c", "while [ ! -e %s ]; do sleep 0.1; done" % flag]}})
    tid = r["data"]["task_id"]

    def state():
        return op.request("get_task", {"task_id": tid})["data"]["task"]["state"]
    wait_for(lambda: state() == "running", 30, what="the task to run")
    filler = fill(small_disk)
    open(flag, "w").close()
    wait_for(lambda: "commit_failed" in cluster.main.output(), 30,
             what="the result to arrive on the full disk")
    time.sleep(1)
    assert state() in ("assigned", "running", "queued")
    assert cluster.main.alive()
    os.unlink(filler)
    wait_for(lambda: state() == "completed", 90, what="the task to complete")
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    try:
        done = db.execute("SELECT count(*) FROM attempts WHERE task_id = ? "
                          "AND state = 3", (int(tid),)).fetchone()[0]
    finally:
        db.close()
    assert done == 1, done
    # No result_ack leaked out of the failed commit: the worker still had
    # the first attempt's result to send again.
    assert "event=spool_resent" in cluster.workers["w1"].output()


def test_read_only_state_dir(cluster, small_disk):
    """A state dir that became read-only (a remount after disk errors).

    A running node keeps its files open for writing, so the kernel will
    not remount under it; this covers the restart: a clear refusal, no
    crash, no damage, and a normal start once the disk is writable.
    """
    cluster.state = os.path.join(small_disk, "state")
    cluster.start_main()
    op = cluster.operator()
    before = [recovered_submit(op) for _ in range(3)]
    op.close()
    assert cluster.main.stop() == 0
    r = subprocess.run(["mount", "-o", "remount,ro", small_disk],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot remount the tmpfs read-only: " + r.stderr.strip())
    try:
        cluster.start_main(wait=False)
        rc = cluster.main.p.wait(timeout=60)
        out = cluster.main.output()
        assert rc not in (0, None) and rc > 0, (rc, out[-2000:])
        assert "encore.db" in out or cluster.state in out, out[-2000:]
    finally:
        subprocess.run(["mount", "-o", "remount,rw", small_disk],
                       capture_output=True)
    cluster.start_main()
    op = cluster.operator()
    tid = recovered_submit(op)
    check_reads(cluster, op)
    ids = db_ids(cluster)
    missing = [t for t in before + [tid] if t not in ids]
    assert not missing, missing


def hold_write_lock(path, seconds, started):
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        started.set()
        time.sleep(seconds)
        db.execute("COMMIT")
    finally:
        db.close()


@pytest.mark.parametrize("hold", [2.0, 7.0])
def test_sqlite_busy(cluster, hold):
    """Another process holding encore.db locked (a backup, an admin's
    sqlite3) never stalls the loop: a write is refused at once with `busy`,
    reads (status, the text export) are answered meanwhile, a worker's
    heartbeats keep it online, and writes work again once the lock goes."""
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    assert op.request("submit", {"task": {"command": ["true"]}})["data"]["ok"]
    started = threading.Event()
    th = threading.Thread(target=hold_write_lock, daemon=True, args=(
        os.path.join(cluster.state, "encore.db"), hold, started))
    th.start()
    assert started.wait(10)
    t0 = time.monotonic()
    r = op.request("submit", {"task": {"command": ["true"]}}, timeout=30)
    took = time.monotonic() - t0
    if r["data"].get("ok") is not True:
        err = error_of(r)
        assert err.get("code") == "busy", (took, r)
        assert "retry" in err.get("message", ""), r
    # Answered well before the lock is gone, whatever the answer.
    assert took < 1.0, took
    t0 = time.monotonic()
    assert op.request("status")["data"]["ok"]
    assert "devices_total:" in cluster.text("status")
    assert time.monotonic() - t0 < 1.0
    th.join(timeout=15)
    assert cluster.main.alive()
    recovered_submit(op)
    assert cluster.device_state("w1") in ("online", "busy")


def rst_close(s):
    """Close with a reset instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_clients_hanging_up_do_not_kill_the_node(cluster):
    """SIGPIPE: replies written to peers that are gone."""
    cluster.start_main()
    op = cluster.operator()
    for i in range(300):
        op.send("submit", {"task": {"command": ["true"],
                                    "name": "n%d-" % i + "y" * 100}})
    for i in range(300):
        assert op.recv(timeout=20)["data"]["ok"] is True
    big = len(cluster.text("tasks csv"))
    assert big > 40000, big     # a reply of several writes
    tok = cluster.operator_token
    auth = json.dumps({"message_type": "auth", "sender_id": "gone",
                       "message_id": "1", "data": {"token": tok}}) + "\n"
    lt = json.dumps({"message_type": "list_tasks", "sender_id": "gone",
                     "message_id": "2", "data": {"all": True}}) + "\n"
    for i in range(60):
        for cmd in (b"tasks\n", b"tasks csv\n", b"metrics\n"):
            s = socket.create_connection(("127.0.0.1", cluster.port))
            s.sendall(cmd)
            if i % 2:
                rst_close(s)
            else:
                s.close()
        s = socket.create_connection(("127.0.0.1", cluster.port))
        s.sendall((auth + lt * 5).encode())
        if i % 2:
            rst_close(s)
        else:
            s.close()
        if i % 10 == 0:
            time.sleep(0.05)
    time.sleep(0.5)
    assert cluster.main.alive(), cluster.main.output()[-2000:]
    assert "devices_total:" in cluster.text("status")
    assert op.request("list_devices")["data"]["ok"] is True
