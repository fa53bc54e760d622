# SPDX-License-Identifier: ISC
"""Security review, as tests: secrets, the text export, task fields, files.

Focus of this file: what someone on the LAN without the right token can
learn or do, and whether hostile task fields are ever interpreted by a
shell.  Real encore-main, encore-worker and encore processes; non-loopback
peers come from addresses on a veth pair the test creates and deletes.
(A worker session using operator messages and a device key admitting
another id are tested in test_main_node.py.)
"""

import json
import os
import socket
import stat
import subprocess

import pytest

from conftest import free_port, wait_for
from encore_client import Conn, submit

FINAL = ("completed", "failed", "timed_out", "cancelled")


def wait_final(op, tid, timeout=60):
    def done():
        t = op.request("get_task", {"task_id": tid})["data"]["task"]
        return t if t["state"] in FINAL else None
    return wait_for(done, timeout, what="task %s to end" % tid)


def output(op, tid):
    return op.request("logs", {"task_id": tid})["data"]["output"]


def error_code(msg):
    """The error code of an `error` message or a failed `reply`."""
    d = msg.get("data", {})
    if msg.get("message_type") == "error":
        return d.get("code")
    return (d.get("error") or {}).get("code")


def register_msg(dev_id, token):
    return {"device_info": {"hostname": dev_id, "platform": "linux",
                            "architecture": "x86_64", "os": "t",
                            "kernel": "6"},
            "hardware_specs": {"cpu_cores": 1, "cpu_model": "c",
                               "memory_total": 1 << 30, "disk_space": 1 << 30,
                               "disk_free": 1 << 29},
            "capabilities": ["command"], "token": token}


def text_from(src, host, port, command):
    with socket.socket() as s:
        s.bind((src, 0))
        s.settimeout(10)
        s.connect((host, port))
        s.sendall(command.encode() + b"\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk


# ---- secrets ----

def test_tokens_never_logged_or_echoed(cluster):
    cluster.start_main()                       # --log-level debug
    join, optok = cluster.token("join"), cluster.operator_token
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    keyfile = os.path.join(cluster.tmp, "w-w1", "device.key")
    wait_for(lambda: os.path.exists(keyfile), 10, what="device.key")
    with open(keyfile) as f:
        key = f.read().strip()
    assert len(key) >= 32
    # Rejoin with the device key, then a full submit/run cycle via the CLI
    # (token from the environment) and the protocol.
    w.stop()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    r = cluster.cli("submit", "--wait", "--", "echo", "cli-ran", check=True)
    assert "cli-ran" in r.stdout
    op = cluster.operator()
    tid = submit(op, ["echo", "proto-ran"])
    assert wait_final(op, tid)["state"] == "completed"

    # Wrong tokens are refused without being echoed back.
    wrong_op, wrong_join = "WRONG-operator-7f3a9c", "WRONG-join-51be02"
    seen = []
    with Conn(cluster.port) as c:
        seen.append(json.dumps(c.request("auth", {"token": wrong_op})))
    with Conn(cluster.port, sender="intruder") as c:
        c.send("register", register_msg("intruder", wrong_join))
        seen.append(json.dumps(c.recv()))
    # Nothing an operator or `nc` can read carries a secret.
    seen.append(json.dumps(op.request("list_devices")))
    seen.append(json.dumps(op.request("get_task", {"task_id": tid})))
    seen.append(r.stdout + r.stderr)
    for cmd in ("devices", "devices csv", "tasks csv", "status", "metrics"):
        seen.append(cluster.text(cmd))
    seen.append(cluster.cli("devices").stdout)
    seen.append(cluster.cli("status").stdout)

    cluster.stop_all()
    logs = cluster.logs()
    assert "event=" in logs and "w1" in logs      # the logs are there
    for name, secret in (("join token", join), ("operator token", optok),
                         ("device key", key), ("wrong operator token",
                                               wrong_op),
                         ("wrong join token", wrong_join)):
        assert secret not in logs, "%s in a process log" % name
        for text in seen:
            assert secret not in text, "%s echoed: %s" % (name, text[:300])


# ---- the text export ----

def test_text_export_local_refuses_other_hosts(cluster, lan):
    a, b = lan
    cluster.port = free_port()
    # --plaintext on: this test is about the text export only (plaintext
    # JSON from the LAN is refused by default; test_tls.py covers that).
    cluster.start_main("--listen", "%s:%d" % (a, cluster.port),
                       "--text-export", "local", "--plaintext", "on",
                       wait=False)
    def up():
        assert cluster.main.alive(), cluster.main.output()
        try:
            return text_from(a, a, cluster.port, "help")
        except OSError:
            return None
    wait_for(up, 15, interval=0.2, what="encore-main on %s" % a)
    for src in (a, b):
        for cmd in ("devices", "devices csv", "status", "metrics", "help"):
            out = text_from(src, a, cluster.port, cmd)
            assert out.startswith("error: the text export is disabled"), out
            assert "devices_total" not in out and "encore_" not in out
    # The JSON protocol is not affected: an operator elsewhere on the LAN
    # still works with the token.
    with socket.socket() as s:
        s.bind((b, 0))
        s.settimeout(10)
        s.connect((a, cluster.port))
        s.sendall((json.dumps({"message_type": "auth", "sender_id": "op",
                               "message_id": "1",
                               "data": {"token": cluster.operator_token}})
                   + "\n").encode())
        reply = json.loads(s.makefile().readline())
        assert reply["data"]["ok"] is True, reply
    assert cluster.main.alive()


def test_text_export_local_allows_loopback(cluster):
    cluster.start_main("--text-export", "local")
    assert "devices_total:" in cluster.text("status")
    assert cluster.text("devices csv").startswith("id,hostname,state")


def test_text_export_is_read_only(cluster):
    cluster.start_main(approve="manual")
    with Conn(cluster.port, sender="pend") as c:
        c.send("register", register_msg("pend", cluster.token("join")))
        assert c.recv()["data"]["state"] == "pending"
        # Admin words and JSON-looking text do nothing through the export.
        for cmd in ("approve pend", "remove pend", "submit -- touch /x",
                    "cancel 1", "devices; approve pend", "devices csv approve"):
            out = cluster.text(cmd)
            assert out.startswith("error: unknown command"), (cmd, out)
        assert cluster.devices_csv()["pend"]["state"] == "pending"
        assert "tasks_queued: 0" in cluster.text("status")


# ---- task fields reach execve/podman only as argv entries ----

def test_hostile_argv_and_env_are_literal(cluster, tmp_path):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("x")
    pwned = [str(tmp_path / ("pwned%d" % i)) for i in range(4)]
    cases = [
        (["sh", "-c", "echo $0", "--privileged"], {}, "--privileged\n"),
        (["echo", ";rm -rf %s" % victim, "$(touch %s)" % pwned[0],
          "`touch %s`" % pwned[1], "`id`", "a && touch %s" % pwned[2],
          "|", "*", "~"],
         {}, ";rm -rf %s $(touch %s) `touch %s` `id` a && touch %s | * ~\n"
         % (victim, pwned[0], pwned[1], pwned[2])),
        (["printf", "[%s]", "a b", "'q'", '"dq"', "x\ny", "$HOME", "\\n"], {},
         "[a b]['q'][\"dq\"][x\ny][$HOME][\\n]"),
        (["sh", "-c", 'printf "%s|%s" "$E1" "$E2"'],
         {"E1": "$(touch %s)" % pwned[3], "E2": "; rm -rf %s" % victim},
         "$(touch %s)|; rm -rf %s" % (pwned[3], victim)),
    ]
    for argv, env, want in cases:
        tid = submit(op, argv, env=env)
        t = wait_final(op, tid)
        assert t["state"] == "completed", (argv, t)
        assert output(op, tid) == want, argv
    # An argv[0] that looks like an option is a program name, not a flag.
    tid = submit(op, ["--privileged", "x"])
    t = wait_final(op, tid)
    assert t["state"] == "failed", t
    for p in pwned:
        assert not os.path.exists(p), "%s was created: a shell ran" % p
    assert (victim / "keep").exists()
    assert cluster.main.alive() and cluster.workers["w1"].alive()


@pytest.mark.parametrize("key", ["BAD KEY", "1X", "A=B", "X;rm", "", "$(id)",
                                 "A-B", "LD_PRELOAD\n"])
def test_bad_env_keys_rejected(cluster, key):
    cluster.start_main()
    op = cluster.operator()
    r = op.request("submit", {"task": {"command": ["true"],
                                       "env": {key: "1"}}})
    assert error_code(r) == "bad_field", r
    assert "tasks_queued: 0" in cluster.text("status")
    ok = op.request("submit", {"task": {"command": ["true"],
                                        "env": {"_Good_1": "$(x)"}}})
    assert ok["data"]["ok"] is True, ok


def test_hostile_container_fields(podman_cluster, test_image, tmp_path):
    cluster = podman_cluster
    op = cluster.operator()
    pwned = str(tmp_path / "pwned")
    before = subprocess.run(["podman", "ps", "-aq"], capture_output=True,
                            text=True).stdout.split()
    # Image names that are options or shell syntax fail cleanly.
    for image in ("--privileged", "-v/:/host", "x;touch %s" % pwned,
                  "$(touch %s)" % pwned, "x y"):
        r = op.request("submit", {"task": {"image": image,
                                           "command": ["true"]}})
        if r["data"].get("ok") is not True:
            assert error_code(r) == "bad_field", (image, r)
            continue
        t = wait_final(op, r["data"]["task_id"])
        assert t["state"] == "failed", (image, t)
        assert t.get("error"), (image, t)
    # Argv after the image is the container's argv, never podman's flags.
    tid = submit(op, ["echo", "--privileged", "$(touch %s)" % pwned, ";id"],
                 image=test_image)
    t = wait_final(op, tid)
    assert t["state"] == "completed", t
    assert output(op, tid) == "--privileged $(touch %s) ;id\n" % pwned
    tid = submit(op, ["sh", "-c", "cat /proc/self/status | grep CapEff"],
                 image=test_image)
    assert wait_final(op, tid)["state"] == "completed"
    assert "0000000000000000" in output(op, tid)      # not --privileged
    assert not os.path.exists(pwned)
    after = subprocess.run(["podman", "ps", "-aq"], capture_output=True,
                           text=True).stdout.split()
    assert set(after) <= set(before), "containers left behind"
    assert cluster.workers["c1"].alive()


# ---- files ----

def walk_modes(top):
    for root, dirs, files in os.walk(top):
        yield root, os.lstat(root).st_mode
        for f in files:
            p = os.path.join(root, f)
            yield p, os.lstat(p).st_mode


def test_worker_state_files_private(cluster):
    cluster.start_main(heartbeat=1, offline_after=30)
    wdir = os.path.join(cluster.tmp, "fresh", "worker-state")
    w = cluster.start_worker("w1", "--state-dir", wdir)
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    flag = os.path.join(cluster.tmp, "go")
    tid = submit(op, ["sh", "-c", "while [ ! -e %s ]; do sleep 0.1; done; "
                      "echo spooled" % flag])
    wait_for(lambda: op.request("get_task", {"task_id": tid})
             ["data"]["task"]["state"] == "running", 30)
    # Hold the main node so the result stays in the worker's spool.
    cluster.main.signal(19)     # SIGSTOP
    try:
        open(flag, "w").close()
        spool = os.path.join(wdir, "spool")
        wait_for(lambda: [f for f in os.listdir(spool)
                          if f.endswith(".json")], 30,
                 what="the result in the worker's spool")
        entries = list(walk_modes(wdir))
    finally:
        cluster.main.signal(18)  # SIGCONT
    names = [p for p, _ in entries]
    assert os.path.join(wdir, "device.key") in names, names
    assert len(entries) >= 3, names      # the key and a spool, at least
    for p, mode in entries:
        if stat.S_ISDIR(mode):
            assert stat.S_IMODE(mode) == 0o700, "%s is %o" % (p, mode)
        else:
            assert stat.S_IMODE(mode) & 0o077 == 0, "%s is %o" % (p, mode)
    assert wait_final(op, tid)["state"] == "completed"
    assert output(op, tid) == "spooled\n"
    assert w.alive()
