# SPDX-License-Identifier: ISC
"""encore-main: admission, the registry, the text export, bad input.

Focus of this file: the main node as a network service, driven over raw
sockets and real `nc`.  Devices here are protocol peers written in Python
(encore_client), so each rule of protocol/PROTOCOL.md can be poked at directly;
test_worker.py does the same with the real worker.
"""

import csv
import io
import os
import socket
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import wait_for
from encore_client import Conn

HB = {"system_metrics": {"cpu_usage": 12.5, "memory_usage": 40.0,
                         "disk_usage": 10.0, "load_average": [0.5, 0.25, 0.1],
                         "uptime": 1000, "temperature": 51.5,
                         "battery": {"percent": 77, "charging": False},
                         "net_rx": 100, "net_tx": 50},
      "active_tasks": []}


def register(cluster, dev_id, token=None, key=None, **extra):
    """Register a protocol-level device; returns (conn, first reply)."""
    c = Conn(cluster.port, sender=dev_id)
    data = {"device_info": {"hostname": dev_id + "-host", "platform": "linux",
                            "architecture": "aarch64", "os": "Test OS",
                            "kernel": "6.1"},
            "hardware_specs": {"cpu_cores": 4, "cpu_model": "Cortex-A72",
                               "memory_total": 4 << 30, "disk_space": 32 << 30,
                               "disk_free": 16 << 30},
            "capabilities": ["command"]}
    if key is not None:
        data["device_key"] = key
    else:
        data["token"] = token if token is not None else cluster.token("join")
    data.update(extra)
    c.send("register", data)
    return c, c.recv()


def test_join_token_and_key(cluster):
    cluster.start_main()
    c, ack = register(cluster, "pi-kitchen")
    assert ack["message_type"] == "register_ack", ack
    assert ack["data"]["state"] == "approved"
    key = ack["data"]["device_key"]
    assert len(key) >= 32
    c.send("heartbeat", HB)
    cluster.wait_state("pi-kitchen", "online")
    c.close()
    # The key admits the device again, and is not sent a second time.
    c2, ack2 = register(cluster, "pi-kitchen", key=key)
    assert ack2["message_type"] == "register_ack"
    assert "device_key" not in ack2["data"]
    c2.close()


def test_wrong_join_token_refused(cluster):
    cluster.start_main()
    c, reply = register(cluster, "intruder", token="not-the-token")
    assert reply["message_type"] == "error"
    assert reply["data"]["code"] == "unauthorized"
    assert "join.token" in reply["data"]["message"]
    assert c.is_closed()
    assert "intruder" not in cluster.devices_csv()
    # The token never reaches the log.
    assert cluster.token("join") not in cluster.main.output()
    assert "not-the-token" not in cluster.main.output()


def test_key_bound_to_its_device(cluster):
    cluster.start_main()
    a, ack = register(cluster, "dev-a")
    key = ack["data"]["device_key"]
    a.send("heartbeat", HB)
    b, ack_b = register(cluster, "dev-b")
    b.send("heartbeat", HB)
    # dev-b cannot use dev-a's key to become dev-a, nor dev-a's key for b.
    x, reply = register(cluster, "dev-b", key=key)
    assert reply["data"]["code"] == "unauthorized"
    # A join-token holder cannot take over an id that has its own key.
    y, reply = register(cluster, "dev-a")
    assert reply["message_type"] == "error"
    assert reply["data"]["code"] == "conflict"
    cluster.wait_state("dev-a", "online")


def test_manual_approval(cluster):
    cluster.start_main(approve="manual")
    c, ack = register(cluster, "phone")
    assert ack["data"]["state"] == "pending"
    assert "device_key" not in ack["data"]
    c.send("heartbeat", HB)
    cluster.wait_state("phone", "pending")
    op = cluster.operator()
    r = op.request("approve", {"device_id": "phone"})
    assert r["data"]["ok"] is True, r
    assert r["data"]["device"]["state"] == "online"
    # The device hears of it at once, with its key.
    ack2 = c.recv_until(lambda m: m["message_type"] == "register_ack")
    assert ack2["data"]["state"] == "approved"
    assert len(ack2["data"]["device_key"]) >= 32
    r = op.request("approve", {"device_id": "nope"})
    assert r["data"]["ok"] is False
    assert r["data"]["error"]["code"] == "not_found"


def test_reject_and_remove(cluster):
    cluster.start_main(approve="manual")
    c, ack = register(cluster, "stranger")
    op = cluster.operator()
    r = op.request("reject", {"device_id": "stranger"})
    assert r["data"]["ok"] is True, r
    assert c.is_closed()
    assert "stranger" not in cluster.devices_csv()
    d, ack = register(cluster, "laptop")
    op.request("approve", {"device_id": "laptop"})
    r = op.request("reject", {"device_id": "laptop"})
    assert r["data"]["error"]["code"] == "conflict"
    r = op.request("remove", {"device_id": "laptop"})
    assert r["data"] == {"ok": True, "removed": "laptop"}
    assert "laptop" not in cluster.devices_csv()


def test_heartbeat_metrics_in_csv(cluster):
    cluster.start_main()
    c, _ = register(cluster, "nas")
    c.send("heartbeat", HB)
    row = wait_for(lambda: cluster.devices_csv().get("nas", {}).get("cpu_pct") and
                   cluster.devices_csv()["nas"])
    out = cluster.text("devices csv")
    header = out.splitlines()[0]
    # The columns of the contract, in order, and `reason` at the end.
    assert header == ("id,hostname,state,arch,platform,cores,mem_mb,cpu_pct,"
                      "mem_pct,load1,temp_c,battery_pct,running,slots,last_seen_s,"
                      "reason")
    assert out.endswith("\r\n")
    assert row["state"] == "online"
    assert row["hostname"] == "nas-host"
    assert row["arch"] == "aarch64"
    assert row["cores"] == "4"
    assert row["mem_mb"] == "4096"
    assert float(row["cpu_pct"]) == 12.5
    assert float(row["mem_pct"]) == 40.0
    assert float(row["load1"]) == 0.5
    assert float(row["temp_c"]) == 51.5
    assert row["battery_pct"] == "77"
    assert row["running"] == "0" and row["slots"] == "4"
    assert int(row["last_seen_s"]) <= 2
    tsv = cluster.text("devices tsv").splitlines()
    assert tsv[0].split("\t")[0] == "id" and tsv[1].split("\t")[0] == "nas"
    human = cluster.text("devices")
    assert "nas" in human and "online" in human and "STATE" in human


def test_paused_when_not_accepting(cluster):
    cluster.start_main()
    c, _ = register(cluster, "phone")
    hb = dict(HB, accepting=False, reason="battery 15% < 20%")
    c.send("heartbeat", hb)
    cluster.wait_state("phone", "paused")
    c.send("heartbeat", HB)
    cluster.wait_state("phone", "online")


def test_offline_when_silent_and_when_gone(cluster):
    cluster.start_main(heartbeat=1, offline_after=2)
    silent, _ = register(cluster, "silent")
    silent.send("heartbeat", HB)
    cluster.wait_state("silent", "online")
    # No heartbeat for offline-after seconds: offline, connection dropped.
    cluster.wait_state("silent", "offline", timeout=30)
    assert silent.is_closed()
    # Why each went offline is in the log (the time it took would only
    # measure how busy the machine is).
    assert 'device=silent reason="silent"' in cluster.main.output()
    gone, _ = register(cluster, "gone")
    gone.send("heartbeat", HB)
    cluster.wait_state("gone", "online")
    gone.send("heartbeat", HB)      # not silent when it goes
    gone.close()
    cluster.wait_state("gone", "offline", timeout=30)
    assert 'device=gone reason="connection lost"' in cluster.main.output()
    # bye: offline at once, not for silence.
    polite, _ = register(cluster, "polite")
    polite.send("heartbeat", HB)
    cluster.wait_state("polite", "online")
    polite.send("heartbeat", HB)
    polite.send("bye", {"reason": "shutting down"})
    cluster.wait_state("polite", "offline", timeout=30)
    assert 'device=polite reason="bye"' in cluster.main.output()


def test_restart_keeps_devices(cluster):
    cluster.start_main()
    c, ack = register(cluster, "pi4")
    key = ack["data"]["device_key"]
    c.send("heartbeat", HB)
    cluster.wait_state("pi4", "online")
    cluster.main.kill9()
    cluster.start_main()
    row = cluster.devices_csv()["pi4"]
    assert row["state"] == "offline"
    assert row["cores"] == "4" and row["arch"] == "aarch64"
    c2, ack2 = register(cluster, "pi4", key=key)
    assert ack2["data"]["state"] == "approved"
    c2.send("heartbeat", HB)
    cluster.wait_state("pi4", "online")
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_state_files_private(cluster):
    cluster.start_main()
    for name in ("join.token", "operator.token", "encore.db"):
        mode = stat.S_IMODE(os.stat(os.path.join(cluster.state, name)).st_mode)
        assert mode & 0o077 == 0, (name, oct(mode))
    assert stat.S_IMODE(os.stat(cluster.state).st_mode) & 0o077 == 0
    assert "encore-worker --main" in cluster.main.output()


def test_operator_auth(cluster):
    cluster.start_main()
    c = cluster.conn()
    r = c.request("list_devices")
    assert r["message_type"] == "error" and r["data"]["code"] == "unauthorized"
    c = cluster.conn()
    r = c.request("auth", {"token": "wrong"})
    assert r["data"]["ok"] is False
    assert r["data"]["error"]["code"] == "unauthorized"
    assert c.is_closed()
    op = cluster.operator()
    r = op.request("status")
    assert r["data"]["ok"] is True
    assert r["data"]["status"]["version"]
    # A worker session cannot send operator messages.
    w, _ = register(cluster, "w1")
    w.send("list_devices")
    err = w.recv_until(lambda m: m["message_type"] == "error")
    assert err["data"]["code"] == "forbidden"
    # And an operator cannot send worker messages.
    r = op.request("heartbeat", HB)
    assert r["data"]["code"] == "forbidden"


def test_protocol_version(cluster):
    cluster.start_main()
    c = cluster.conn()
    c.send("register", {"token": cluster.token("join"),
                        "device_info": {"hostname": "x"},
                        "hardware_specs": {}, "capabilities": []},
           protocol_version=99)
    r = c.recv()
    assert r["data"]["code"] == "bad_version"
    assert "upgrade" in r["data"]["message"]


@pytest.mark.parametrize("line,code", [
    (b"{not json\n", "bad_json"),
    (b"[1, 2, 3]\n", "bad_json"),
    (b'{"message_type": 7}\n', "bad_field"),
    (b'{"message_type": "frobnicate"}\n', "unknown_type"),
    (b'{"data": {}}\n', "bad_field"),
    (b'{"message_type": "heartbeat", "data": {"system_metrics": {"cpu_usage": "high"}, "active_tasks": []}}\n', "bad_field"),
    (b'{"message_type": "register", "data": {"token": 5}}\n', "bad_field"),
    (b"{" + b'"a":[' * 200 + b"]" * 200 + b"}\n", "bad_json"),
])
def test_bad_lines_get_clear_errors(cluster, line, code):
    cluster.start_main()
    c = cluster.conn()
    if line.startswith(b"{"):
        c.send_raw(line)    # as the first line of a session
        r = c.recv()
        assert r["message_type"] == "error", r
        assert r["data"]["code"] == code, r
    # ... and inside an operator session.
    c.send("auth", {"token": cluster.operator_token})
    assert c.recv()["data"]["ok"] is True
    c.send_raw(line)
    r = c.recv()
    assert r["message_type"] == "error", r
    assert r["data"]["code"] == code, r
    assert len(r["data"]["message"]) > 10
    # The connection survives a bad line, and the node serves others.
    assert c.request("status")["data"]["ok"] is True
    assert "id,hostname" in cluster.text("devices csv")


def test_five_bad_lines_disconnect(cluster):
    cluster.start_main()
    c = cluster.conn()
    for _ in range(5):
        c.send_raw(b"{oops\n")
    assert c.is_closed()
    assert cluster.main.alive()


def test_oversized_line(cluster):
    cluster.start_main("--max-line", "4096")
    c = cluster.conn()
    c.send_raw(b'{"message_type": "auth", "data": {"token": "' + b"x" * 10000)
    r = c.recv()
    assert r["data"]["code"] == "line_too_long"
    assert c.is_closed()
    # A huge line is never buffered: the main node stays small.
    c = cluster.conn()
    try:
        c.sock.sendall(b"{" + b" " * (8 << 20))
    except OSError:
        pass
    assert c.is_closed()
    assert cluster.main.alive()
    assert "id,hostname" in cluster.text("devices csv")


def test_idle_unregistered_connection_times_out(cluster):
    cluster.start_main()
    c = cluster.conn()
    c.send_raw(b'{"message_type": "stat')   # half a line, then nothing
    start = time.monotonic()
    assert c.is_closed(timeout=40)
    assert time.monotonic() - start < 25     # the 10 s auth timeout
    idle = socket.create_connection(("127.0.0.1", cluster.port))
    idle.settimeout(40)
    assert idle.recv(100) == b""   # closed without a word after the timeout


def test_text_export_with_nc(cluster):
    cluster.start_main()
    a1, _ = register(cluster, "a1")
    a1.send("heartbeat", HB)
    cluster.wait_state("a1", "online")

    def nc(cmd):
        # Exactly `echo CMD | nc MAIN PORT`: the main node closes.
        return subprocess.run(["nc", "127.0.0.1", str(cluster.port)],
                              input=cmd + "\n", capture_output=True, text=True,
                              timeout=20).stdout
    out = nc("devices")
    assert "a1" in out and "online" in out
    rows = list(csv.reader(io.StringIO(nc("devices csv"))))
    assert rows[0][0] == "id" and rows[1][0] == "a1"
    tasks = nc("tasks csv").splitlines()
    assert tasks[0] == ("id,name,state,priority,device,attempt,exit_code,"
                        "submitted_at,started_at,finished_at")
    assert nc("queue").splitlines()[0].split()[0] == "ID"
    status = dict(l.split(": ", 1) for l in nc("status").splitlines())
    for key in ("devices_total", "devices_online", "tasks_queued", "tasks_running",
                "tasks_completed", "tasks_failed", "uptime_s", "version"):
        assert key in status, key
    assert status["devices_total"] == "1" and status["devices_online"] == "1"
    metrics = nc("metrics")
    assert 'encore_devices{state="online"} 1' in metrics
    assert "# TYPE encore_tasks gauge" in metrics
    for line in metrics.splitlines():
        assert line.startswith("#") or len(line.split()) == 2, line
    assert "devices" in nc("help")
    assert nc("frobnicate").startswith("error: unknown command")
    # Without a trailing newline, as `printf devices | nc` sends it.
    p = subprocess.run(["nc", "-N", "127.0.0.1", str(cluster.port)],
                       input="status", capture_output=True, text=True, timeout=20)
    assert "devices_total: 1" in p.stdout


def test_text_export_off(cluster):
    cluster.start_main("--text-export", "off")
    assert "disabled" in cluster.text("devices")


def test_config_file_and_flags(cluster, tmp_path):
    conf = tmp_path / "main.conf"
    conf.write_text("# test\nheartbeat_interval = 7\napprove = manual\n"
                    "text_export = on\n")
    cluster.start_main("--config", str(conf))
    c, ack = register(cluster, "cfg")
    # approve from the file, but --approve auto on the command line wins.
    assert ack["data"]["state"] == "approved"
    assert ack["data"]["heartbeat_interval"] == 1
    bad = tmp_path / "bad.conf"
    bad.write_text("heartbeat_intervall = 7\n")
    p = subprocess.run([os.path.join(os.environ.get("ENCORE_BIN", "bin"), "encore-main"),
                        "--config", str(bad), "--state-dir", str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "heartbeat_intervall" in p.stderr


def test_help_and_version():
    binp = os.path.join(os.environ.get("ENCORE_BIN", "bin"), "encore-main")
    p = subprocess.run([binp, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for flag in ("--listen", "--state-dir", "--config", "--join-token",
                 "--operator-token", "--approve", "--heartbeat-interval",
                 "--offline-after", "--text-export", "--log-level"):
        assert flag in p.stdout, flag
    p = subprocess.run([binp, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and "encore-main" in p.stdout
    p = subprocess.run([binp, "--bogus"], capture_output=True, text=True)
    assert p.returncode == 2 and "--help" in p.stderr


def test_foreign_database_refused(cluster):
    os.makedirs(cluster.state, mode=0o700)
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    db.execute("CREATE TABLE recipes (name TEXT)")
    db.commit()
    db.close()
    cluster.start_main(wait=False)
    cluster.main.p.wait(timeout=30)
    assert cluster.main.p.returncode != 0
    assert "not an encore database" in cluster.main.output()
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("recipes",)]


def test_graceful_shutdown_says_bye(cluster):
    cluster.start_main()
    c, _ = register(cluster, "w")
    c.send("heartbeat", HB)
    cluster.wait_state("w", "online")
    cluster.main.signal(15)
    bye = c.recv_until(lambda m: m["message_type"] == "bye")
    assert bye["data"]["reason"]
    assert cluster.main.p.wait(timeout=30) == 0
