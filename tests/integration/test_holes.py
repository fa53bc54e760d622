# SPDX-License-Identifier: ISC
"""Holes found by attacking the main node, and what closes each.

Focus of this file: a hostile or buggy peer -- a join-token holder, an
operator, a reader that never reads, another process holding the database
-- against the real encore-main.  Each test failed before its fix; the
use-after-free ones are caught by the sanitizer pass of `make test`
(conftest fails a test on any sanitizer report).
"""

import os
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import wait_for
from encore_client import Closed, Conn
from test_main_node import HB, register


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- memory safety ----

def test_second_register_on_a_session_is_refused(cluster):
    """A registered session cannot register another id: when it closed, the
    first device kept a dangling connection (use-after-free)."""
    cluster.start_main()
    c, ack = register(cluster, "first")
    assert ack["message_type"] == "register_ack"
    data = {"device_info": {"hostname": "second"}, "hardware_specs": {},
            "capabilities": ["command"], "token": cluster.token("join")}
    c.send("register", data, sender_id="second")
    r = c.recv()
    assert r["message_type"] == "error", r
    assert r["data"]["code"] == "forbidden", r
    assert "already registered" in r["data"]["message"]
    c.close()
    cluster.wait_state("first", "offline")
    assert "second" not in cluster.devices_csv()
    # Placing a task on the first device must not touch the freed session.
    op = cluster.operator()
    assert op.request("submit", {"task": {"command": ["true"],
                                          "requirements": {"device": "first"}}}
                      )["data"]["ok"]
    # The node has moved on (it answers what came after) and is alive.
    assert "devices_total:" in cluster.text("status")
    assert cluster.main.alive()


def test_pending_second_register_refused(cluster):
    cluster.start_main(approve="manual")
    c, ack = register(cluster, "p1")
    assert ack["data"]["state"] == "pending"
    c.send("register", {"device_info": {"hostname": "p2"},
                        "hardware_specs": {}, "capabilities": [],
                        "token": cluster.token("join")}, sender_id="p2")
    assert c.recv()["data"]["code"] == "forbidden"
    c.close()
    assert cluster.main.alive()


def test_remove_device_of_a_reloaded_task(cluster):
    """`encore remove` of a device whose task was reloaded after a main node
    restart, before the device came back: the task pointed at the freed
    device (use-after-free).  Now it goes back to the queue."""
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    tid = op.request("submit", {"task": {"command": ["sleep", "60"]}}
                     )["data"]["task_id"]
    wait_for(lambda: op.request("get_task", {"task_id": tid})["data"]["task"]
             ["state"] == "running", 15, what="the task to run")
    op.close()
    cluster.workers["w1"].kill9()
    cluster.main.kill9()
    cluster.start_main()
    op = cluster.operator()
    r = op.request("remove", {"device_id": "w1"})
    assert r["data"]["ok"], r
    t = op.request("get_task", {"task_id": tid})["data"]["task"]
    assert t["state"] == "queued", t
    assert t["device"] is None
    # The node has moved on (it answers what came after) and is alive.
    assert "devices_total:" in cluster.text("status")
    assert cluster.main.alive()
    assert op.request("status")["data"]["ok"]


# ---- impersonation ----

def test_approved_while_offline_cannot_be_taken_with_the_token(cluster):
    cluster.start_main(approve="manual")
    c, ack = register(cluster, "pi", join_secret="s" * 32)
    assert ack["data"]["state"] == "pending"
    assert "device_key" not in ack["data"]
    c.close()
    op = cluster.operator()
    assert op.request("approve", {"device_id": "pi"})["data"]["ok"]
    # A token holder who does not know the device's join secret.
    for extra in ({}, {"join_secret": "x" * 32}):
        c2, r = register(cluster, "pi", **extra)
        assert r["message_type"] == "error", r
        assert r["data"]["code"] == "conflict", r
        assert "device_key" not in r["data"]
        assert c2.is_closed()
    # The real device, back with its secret, gets its key.
    c3, ack3 = register(cluster, "pi", join_secret="s" * 32)
    assert ack3["data"]["state"] == "approved", ack3
    key = ack3["data"]["device_key"]
    c3.send("heartbeat", HB)
    cluster.wait_state("pi", "online")
    c3.close()
    # From now on only that key.
    c4, r4 = register(cluster, "pi", join_secret="s" * 32)
    assert r4["message_type"] == "error" and r4["data"]["code"] == "conflict"
    c5, ack5 = register(cluster, "pi", key=key)
    assert ack5["message_type"] == "register_ack"
    c5.close()


def test_auto_approved_key_not_given_twice(cluster):
    """--approve auto: an id whose key was just issued, before its first
    heartbeat, could be claimed with the join token, and the claimer got the
    same key."""
    cluster.start_main()
    c, ack = register(cluster, "phone")
    key = ack["data"]["device_key"]
    c2, r = register(cluster, "phone")
    assert r["message_type"] == "error", r
    assert key not in str(r)
    c.close()
    c3, r3 = register(cluster, "phone")
    assert r3["message_type"] == "error", r3
    assert key not in str(r3)


# ---- unbounded memory and stalls ----

def test_text_export_readers_that_never_read(cluster):
    """Readers of a long text export that never read cost no memory and no
    loop time: the listing streams as the reader reads."""
    cluster.start_main("--max-queued", "200000", "--max-msg-rate", "0")
    op = cluster.operator()
    n = 20000
    for i in range(n):
        op.send("submit", {"task": {"command": ["true"],
                                    "name": "t%d" % i,
                                    "requirements": {"arch": "riscv64"}}})
    wait_for(lambda: "tasks_queued: %d" % n in cluster.text("status"), 120,
             what="%d tasks queued" % n)
    base = rss_kb(cluster.main.pid)
    stuck = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", cluster.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"queue\n")
        stuck.append(s)
    # The node has started all 20 replies (it logs each command first).
    wait_for(lambda: cluster.main.output().count('command="queue"') >= 20,
             60, what="the 20 queue commands to be read")
    t0 = time.monotonic()
    assert "devices_total:" in cluster.text("status")
    # Not held up by them (a node blocked on one would not answer at all;
    # the bound leaves room for a busy machine).
    assert time.monotonic() - t0 < 5.0
    grown = rss_kb(cluster.main.pid) - base
    if not os.environ.get("ENCORE_ASAN"):    # ASan's shadow memory
        assert grown < 30 * 1024, grown
    # A reader that does read gets all of it.
    out = cluster.text("queue")
    assert len(out.splitlines()) == n + 1
    for s in stuck:
        s.close()
    assert cluster.main.alive()


def test_main_node_stopped_does_not_drop_devices(cluster):
    """A main node that was itself stopped (a NAS that suspends) must not
    count its own stall against its devices."""
    cluster.start_main(offline_after=3)
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    tid = op.request("submit", {"task": {"command": ["sleep", "8"]}}
                     )["data"]["task_id"]
    wait_for(lambda: op.request("get_task", {"task_id": tid})["data"]["task"]
             ["state"] == "running", 15, what="the task to run")
    cluster.main.signal(signal.SIGSTOP)
    time.sleep(6)
    cluster.main.signal(signal.SIGCONT)
    wait_for(lambda: op.request("get_task", {"task_id": tid})["data"]["task"]
             ["state"] == "completed", 30, what="the task to complete")
    t = op.request("get_task", {"task_id": tid})["data"]["task"]
    assert t["attempt"] == 1, t
    assert "device_silent" not in cluster.main.output()
    assert "main_stalled" in cluster.main.output()


def test_open_files_limit_is_raised_and_refusal_is_graceful(tmp_path):
    """About 1,014 connections in, accept() failed with EMFILE and everyone
    was locked out.  The soft limit is raised to the hard one; past it the
    waiting peer is told `busy` and, once the flood is gone, others get in
    again."""
    from conftest import binpath, free_port
    import encore_client
    if subprocess.run(["prlimit", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("prlimit (util-linux) is not installed")
    port = free_port()
    log = open(str(tmp_path / "main.log"), "w")
    p = subprocess.Popen(["prlimit", "--nofile=64:200", "--",
                          binpath("encore-main"), "--listen",
                          "127.0.0.1:%d" % port, "--state-dir",
                          str(tmp_path / "state"), "--max-connections",
                          "1000"], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    socks = []
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                return False
        wait_for(up, 15, what="the main node to listen")
        with open("/proc/%d/limits" % p.pid) as f:
            line = [l for l in f if l.startswith("Max open files")][0]
        assert line.split()[3] == "200", line   # soft raised to the hard
        for _ in range(260):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port),
                                                      timeout=2))
            except OSError:
                break
        told = 0
        for s in socks[150:]:
            s.settimeout(3)
            try:
                if b"busy" in s.recv(4096):
                    told += 1
            except OSError:
                pass
        assert told > 0
        for s in socks:
            s.close()
        socks = []
        wait_for(lambda: "devices_total:" in
                 encore_client.text_command(port, "status"), 15,
                 what="the text export after the flood")
        assert p.poll() is None
    finally:
        for s in socks:
            s.close()
        p.terminate()
        p.wait(10)
        log.close()


def test_pending_devices_are_capped(cluster):
    cluster.start_main("--max-pending", "3", approve="manual")
    conns = []
    for i in range(3):
        c, ack = register(cluster, "p%d" % i)
        assert ack["data"]["state"] == "pending"
        conns.append(c)
    c, r = register(cluster, "p9")
    assert r["message_type"] == "error"
    assert r["data"]["code"] == "busy"
    assert "max-pending" in r["data"]["message"]
    op = cluster.operator()
    assert op.request("reject", {"device_id": "p0"})["data"]["ok"]
    c, ack = register(cluster, "p9")
    assert ack["data"]["state"] == "pending"


def test_finished_tasks_are_pruned(cluster):
    cluster.start_main("--keep-finished", "1")
    op = cluster.operator()
    tid = op.request("submit", {"task": {"command": ["true"]}}
                     )["data"]["task_id"]
    assert op.request("cancel", {"task_id": tid})["data"]["ok"]
    wait_for(lambda: op.request("get_task", {"task_id": tid}).get(
        "data", {}).get("error", {}).get("code") == "not_found", 40,
        what="the finished task to be pruned")
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    try:
        assert db.execute("SELECT count(*) FROM attempts WHERE task_id = ?",
                          (int(tid),)).fetchone()[0] == 0
    finally:
        db.close()
    assert "tasks_cancelled: 0" in cluster.text("status")


# ---- secrets and lies ----

def test_long_tokens_never_reach_the_log(cluster):
    cluster.start_main()
    secret = "A1b2C3d4" * 40      # longer than any token may be
    c = Conn(cluster.port)
    r = c.request("auth", {"token": secret})
    assert r["data"]["code"] == "bad_field" if "data" in r else True
    c.close()
    c2 = Conn(cluster.port)
    addr = "127.0.0.1:%d" % c2.sock.getsockname()[1]
    c2.send("register", {"device_info": {"hostname": "x"},
                         "hardware_specs": {}, "capabilities": [],
                         "token": secret}, sender_id="x")
    r2 = c2.recv()
    assert secret[:12] not in str(r2)
    c2.close()
    # Everything the node logs of that session is out once it logs its end.
    wait_for(lambda: addr not in cluster.conns()[1], 30,
             what="the node to log the end of %s" % addr)
    assert secret[:12] not in cluster.main.output()


def test_control_characters_never_reach_a_terminal(cluster):
    cluster.start_main()
    op = cluster.operator()
    evil = "evil\x1b[2J\x1b]0;owned\x07\rname"
    op.request("submit", {"task": {"command": ["true"], "name": evil}})
    for cmd in ("tasks", "queue", "tasks csv"):
        out = cluster.text(cmd)
        assert "\x1b" not in out and "\x07" not in out, cmd
        assert "evil" in out
    assert "\x1b" not in cluster.main.output()


def test_pending_device_cannot_report_results(cluster):
    cluster.start_main(approve="manual")
    c, ack = register(cluster, "pend")
    c.send("task_result", {"task_id": "1", "attempt": 1,
                           "status": "completed", "exit_code": 0})
    r = c.recv()
    assert r["message_type"] == "error", r
    assert r["data"]["code"] == "forbidden", r
    assert "pending" in r["data"]["message"]


def test_operator_bye_closes(cluster):
    cluster.start_main()
    op = cluster.operator()
    op.send("bye", {"reason": "done"})
    assert op.is_closed()


def test_list_tasks_pages(cluster):
    cluster.start_main()
    op = cluster.operator()
    ids = [op.request("submit", {"task": {"command": ["true"],
                                          "requirements": {"arch": "none"}}}
                      )["data"]["task_id"] for _ in range(25)]
    seen, after, pages = [], None, 0
    while True:
        data = {"limit": 10}
        if after:
            data["after"] = after
        r = op.request("list_tasks", data)["data"]
        assert r["total"] == 25
        seen += [t["id"] for t in r["tasks"]]
        pages += 1
        after = r["next"]
        if after is None:
            break
    assert seen == ids
    assert pages == 3


def test_half_closed_session_gets_the_whole_reply(cluster):
    cluster.start_main()
    op = cluster.operator()
    for i in range(600):
        op.send("submit", {"task": {"command": ["true"], "name": "n" * 100,
                                    "requirements": {"arch": "none"}}})
    wait_for(lambda: "tasks_queued: 600" in cluster.text("status"), 30,
             what="600 queued")
    c = Conn(cluster.port)
    c.send("auth", {"token": cluster.operator_token})
    c.send("list_tasks", {"all": True})
    c.sock.shutdown(socket.SHUT_WR)
    msgs = []
    try:
        while True:
            msgs.append(c.recv(timeout=10))
    except Closed:
        pass
    reply = [m for m in msgs if "tasks" in m.get("data", {})]
    assert reply and len(reply[0]["data"]["tasks"]) == 600


# ---- admin writes and retries ----

def test_listen_without_host_is_a_usage_error(tmp_path):
    from conftest import binpath
    state = tmp_path / "state"
    r = subprocess.run([binpath("encore-main"), "--listen", "7070",
                        "--state-dir", str(state)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2, r
    assert "HOST:PORT" in r.stderr
    assert not state.exists()
