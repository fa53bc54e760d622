# SPDX-License-Identifier: ISC
"""`encore` and `encore-top` against a main node that misbehaves.

Focus: README "Limits" for clients and issue 13 ("clients that trust the
server too much").  A small fake main node (fake_main.py) answers `auth`
and then, for one request, does one bad thing: a reply larger than the
64 MiB cap, a stream of events that never ends in the reply, a reply that
dribbles in a byte at a time, or a follow whose liveness check is never
answered.  Each time the client must give up within its deadline, say what
happened and what to do, exit 3, and stay within bounded memory (measured
with wait4's ru_maxrss for the CLI and /proc/PID/status for encore-top).
"""

import json
import os
import resource
import subprocess
import tempfile
import time

import pytest

from conftest import binpath, wait_for
from fake_main import FakeMain

MIB = 1024 * 1024


ASAN = bool(os.environ.get("ENCORE_ASAN"))
AS_LIMIT = 1024 * MIB       # address space a client may use here


def limit_memory():
    """In the child: cap the address space, so a client that grows without
    bound fails (malloc) instead of taking the machine.  Not under ASan,
    whose shadow memory is a huge reservation."""
    if not ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def peak_rss_mib(pid):
    """VmHWM of a running process in MiB, 0 if it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def run_cli(fake, *args, timeout=60, env=None):
    """Run encore against fake; returns (returncode, stdout, stderr,
    seconds, peak RSS in MiB as sampled)."""
    e = dict(os.environ, ENCORE_MAIN=fake.addr, ENCORE_TOKEN=fake.token)
    e.pop("ENCORE_REQUEST_TIMEOUT", None)
    e.update(env or {})
    t0 = time.monotonic()
    rss = 0.0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([binpath("encore")] + list(args), env=e,
                             stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL,
                             preexec_fn=limit_memory)
        deadline = time.monotonic() + timeout
        while p.poll() is None:
            rss = max(rss, peak_rss_mib(p.pid))
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                break
            time.sleep(0.005)
        secs = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        stderr = err.read().decode(errors="replace")
    return p.returncode, stdout, stderr, secs, rss


def task(i):
    return {"id": str(i), "name": "task-%d" % i, "state": "queued",
            "priority": "normal", "device": None, "attempt": 0,
            "exit_code": None, "submitted_at": "2026-11-22T10:31:00Z",
            "started_at": None, "finished_at": None,
            "task_type": "command", "image": None}


def test_reply_over_the_cap_is_refused_fast():
    """A line of 70 MB: stop reading at 64 MiB, say so, exit 3."""
    pad = b"x" * (70 * MIB)

    def handler(conn, msg):
        if msg["message_type"] == "list_tasks":
            conn.send_raw(b'{"message_type":"reply","reply_to":"%s",'
                          b'"data":{"ok":true,"tasks":[],"pad":"'
                          % msg["message_id"].encode())
            try:
                conn.send_raw(pad + b'"}}\n')
            except OSError:
                pass
    with FakeMain(handler) as fake:
        rc, out, err, secs, rss = run_cli(fake, "ps")
    print("over-cap reply: %.1fs, max RSS %.0f MiB" % (secs, rss))
    assert rc == 3, err
    assert "longer than 64 MiB" in err, err
    assert "--main" in err
    assert secs < 10, secs
    assert ASAN or rss < 256, rss


def test_large_reply_under_the_cap_is_quick():
    """A 40 MB listing (an old main node with 120,000 tasks) is read and
    printed in seconds, not minutes."""
    tasks = [task(i) for i in range(1, 120001)]

    def handler(conn, msg):
        if msg["message_type"] == "list_tasks":
            line = json.dumps({"message_type": "reply",
                               "reply_to": msg["message_id"],
                               "data": {"ok": True, "tasks": tasks}})
            line = line.encode() + b"\n"
            # In small writes, as a busy main node sends it.
            for i in range(0, len(line), 4096):
                conn.send_raw(line[i:i + 4096])
    with FakeMain(handler) as fake:
        rc, out, err, secs, rss = run_cli(fake, "ps", "--csv")
    print("40 MB reply: %.1fs, max RSS %.0f MiB" % (secs, rss))
    assert rc == 0, err
    assert out.count(b"\r\n") == 120001
    assert secs < 30, secs


def test_endless_events_before_the_reply():
    """Events that never end in a reply: stop at the cap, exit 3."""
    ev = (json.dumps({"message_type": "event", "data": {
        "topic": "tasks", "task": task(1)}}) + "\n").encode() * 100

    def handler(conn, msg):
        if msg["message_type"] == "list_tasks":
            try:
                while not conn.closed.is_set():
                    conn.send_raw(ev)
            except OSError:
                pass
    with FakeMain(handler) as fake:
        rc, out, err, secs, rss = run_cli(fake, "ps")
    print("endless events: %.1fs, max RSS %.0f MiB" % (secs, rss))
    assert rc == 3, err
    assert "events" in err and "without answering" in err, err
    assert secs < 20, secs
    assert ASAN or rss < 128, rss     # ASan keeps freed memory a while


def dribbler(what):
    """A handler that answers `what` one byte every 0.1 s, forever."""
    def handler(conn, msg):
        if msg["message_type"] != what:
            return
        line = json.dumps({"message_type": "reply",
                           "reply_to": msg["message_id"],
                           "data": {"ok": True, "tasks": []}}).encode()
        try:
            for i in range(len(line) * 1000):
                if conn.closed.is_set():
                    return
                conn.send_raw(line[i % (len(line) - 1):][:1])
                time.sleep(0.1)
        except OSError:
            pass
    return handler


def test_dribbling_reply_hits_the_deadline():
    with FakeMain(dribbler("list_tasks")) as fake:
        rc, out, err, secs, rss = run_cli(fake, "--request-timeout", "2",
                                          "ps", timeout=30)
    assert rc == 3, err
    assert "no complete answer" in err and "within 2 s" in err, err
    assert "--request-timeout" in err
    assert secs < 10, secs


def test_dribbling_auth_hits_the_deadline():
    # The deadline applies to auth too (here set by the environment).
    with FakeMain(dribbler("auth"), answer_auth=False) as fake:
        rc, out, err, secs, rss = run_cli(
            fake, "status", env={"ENCORE_REQUEST_TIMEOUT": "2"},
            timeout=30)
    assert rc == 3, err
    assert "within 2 s" in err, err
    assert secs < 10, secs


def follower(answer_probes, events=None):
    """A handler for `logs -f`: the task runs; get_task (the client's
    liveness check) is answered or not."""
    state = {"logs": None, "probes": 0}

    def handler(conn, msg):
        t = msg["message_type"]
        if t == "logs":
            state["logs"] = conn
            conn.reply(msg, {"ok": True, "task_id": "7", "state": "running",
                             "output": "hello\n", "chunks": [
                                 {"stream": "stdout", "data": "hello\n"}]})
        elif t == "get_task":
            state["probes"] += 1
            if answer_probes:
                t7 = task(7)
                t7["state"] = "running"
                conn.reply(msg, {"ok": True, "task": t7})
    return handler, state


def test_follow_detects_a_silent_main_node():
    """logs -f waits for the task as long as it runs, but a main node that
    stops answering is found out within the request timeout."""
    handler, state = follower(answer_probes=False)
    with FakeMain(handler) as fake:
        rc, out, err, secs, rss = run_cli(fake, "--request-timeout", "2",
                                          "logs", "-f", "7", timeout=30)
    assert rc == 3, err
    assert out == b"hello\n"
    assert "stopped answering" in err, err
    assert "encore logs -f 7" in err, err
    assert state["probes"] >= 1
    assert secs < 10, secs


def test_follow_keeps_waiting_while_the_main_node_answers():
    handler, state = follower(answer_probes=True)
    with FakeMain(handler) as fake:
        e = dict(os.environ, ENCORE_MAIN=fake.addr, ENCORE_TOKEN=fake.token)
        p = subprocess.Popen([binpath("encore"), "--request-timeout", "1",
                              "logs", "-f", "7"], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Several liveness checks answered: still following.
            wait_for(lambda: state["probes"] >= 4, 15, what="4 probes")
            assert p.poll() is None
            t7 = task(7)
            t7["state"] = "completed"
            t7["exit_code"] = 0
            state["logs"].send({"message_type": "event", "data": {
                "topic": "output", "task_id": "7", "stream": "stdout",
                "data": "bye\n"}})
            state["logs"].send({"message_type": "event", "data": {
                "topic": "task", "task": t7}})
            out, err = p.communicate(timeout=15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert p.returncode == 0, err
    assert out == b"hello\nbye\n"


# ---- backup: a copy that does not check out is never kept ----

def backup_stream(data, chunk=48 * 1024, sha=None, size=None, offsets=None,
                  cut_after=None, bad_b64=False, error=None):
    """A handler streaming `data` as the answer to `backup` (PROTOCOL.md
    section 7), with one thing wrong as asked."""
    import base64
    import hashlib

    def handler(conn, msg):
        if msg["message_type"] != "backup":
            return
        mid = msg["message_id"]
        if error is not None:
            conn.reply(msg, {"ok": False, "error": error})
            return
        pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
        off = 0
        for n, piece in enumerate(pieces):
            if cut_after is not None and n == cut_after:
                conn.close()
                return
            b64 = base64.b64encode(piece).decode()
            if bad_b64 and n == 1:
                b64 = "!!!!" + b64[4:]
            at = offsets[n] if offsets is not None else off
            conn.send({"message_type": "event", "reply_to": mid,
                       "data": {"topic": "backup", "offset": at,
                                "size": len(data), "data": b64}})
            off += len(piece)
        conn.reply(msg, {"ok": True, "size": size if size is not None
                         else len(data),
                         "sha256": sha or hashlib.sha256(data).hexdigest(),
                         "schema_version": 3})
    return handler


BACKUP_DATA = bytes(range(256)) * 1000 + b"tail"      # 256004 bytes


@pytest.mark.parametrize("how,kw,code,says", [
    ("sha256 mismatch", {"sha": "0" * 64}, 1, "SHA-256"),
    ("size mismatch", {"size": len(BACKUP_DATA) + 1}, 1, "bytes"),
    ("chunk out of order", {"offsets": [0, 100, 200, 300, 400, 500]}, 1,
     "stream broke"),
    ("not base64", {"bad_b64": True}, 1, "not base64"),
    ("connection lost midway", {"cut_after": 2}, 3, "lost the connection"),
    ("main node refuses", {"error": {"code": "internal",
                                     "message": "disk on fire"}}, 1,
     "disk on fire"),
])
def test_backup_that_does_not_check_out_leaves_no_file(tmp_path, how, kw,
                                                       code, says):
    f = tmp_path / "copy.db"
    with FakeMain(backup_stream(BACKUP_DATA, **kw)) as fake:
        rc, out, err, secs, rss = run_cli(fake, "backup", str(f))
    assert rc == code, (how, rc, err)
    assert says in err, (how, err)
    assert "no backup was written" in err and "encore backup" in err, err
    assert not f.exists(), how
    assert not os.path.exists(str(f) + ".tmp"), how
    assert out == b"", out


def test_backup_that_checks_out_is_kept(tmp_path):
    f = tmp_path / "copy.db"
    with FakeMain(backup_stream(BACKUP_DATA)) as fake:
        rc, out, err, secs, rss = run_cli(fake, "backup", str(f))
    assert rc == 0, err
    assert f.read_bytes() == BACKUP_DATA
    assert out.startswith(b"%s: 256004 bytes, sha256 " % str(f).encode())


def test_backup_waits_for_a_silent_main_node_no_longer_than_the_timeout(
        tmp_path):
    """A main node that takes the request and sends nothing: given up
    after the request timeout, nothing left behind."""
    f = tmp_path / "copy.db"
    with FakeMain(lambda conn, msg: None) as fake:
        rc, out, err, secs, rss = run_cli(fake, "--request-timeout", "2",
                                          "backup", str(f))
    assert rc == 3, err
    assert "sent nothing for 2 s" in err, err
    assert not f.exists() and not os.path.exists(str(f) + ".tmp")
    assert secs < 10, secs
