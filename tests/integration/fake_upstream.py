# SPDX-License-Identifier: ISC
"""fake_upstream.py -- a scripted stand-in for encore-main as a worker
sees it (its upstream), to drive one real encore-worker through what a
real main node never does on purpose: no register_ack, a
line that never ends, an oversized line, assignments it cannot start,
disconnects at chosen moments.  It records every line the worker sends.

    fm = FakeMain()                # listens on 127.0.0.1:fm.port
    c = fm.wait_conn()             # the worker connected
    reg = c.wait_msg("register")   # its register
    c.ack()                        # register_ack, approved
    c.send({"message_type": "task_assign", "data": {"task": {...}}})
    r = c.wait_msg("task_result", lambda d: d["task_id"] == "t1")
"""

import json
import os
import socket
import threading
import time

import pytest

from conftest import Proc, binpath


class FakeConn:
    """One connection from the worker: its lines, decoded, in order."""

    def __init__(self, sock, t0):
        self.sock = sock
        self.t0 = t0
        self.opened = time.monotonic()
        self.msgs = []          # decoded JSON objects, in arrival order
        self.closed_at = None
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        m = json.loads(line)
                    except ValueError:
                        m = {"message_type": "(bad json)", "raw": line}
                    with self.cond:
                        self.msgs.append(m)
                        self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.closed_at = time.monotonic()
            self.cond.notify_all()

    @property
    def closed(self):
        return self.closed_at is not None

    def send(self, msg):
        self.send_raw((json.dumps(msg) + "\n").encode())

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def ack(self, device_id="w1", state="approved", heartbeat=1, key=None):
        data = {"device_id": device_id, "state": state,
                "heartbeat_interval": heartbeat}
        if key:
            data["device_key"] = key
        self.send({"message_type": "register_ack", "sender_id": "main",
                   "data": data})

    def assign(self, task_id, attempt, command, **kw):
        task = {"task_id": task_id, "attempt": attempt, "command": command}
        task.update(kw)
        self.send({"message_type": "task_assign", "sender_id": "main",
                   "data": {"task": task}})

    def cancel(self, task_id, attempt):
        self.send({"message_type": "task_cancel", "sender_id": "main",
                   "data": {"task_id": task_id, "attempt": attempt}})

    def result_ack(self, task_id, attempt):
        self.send({"message_type": "result_ack", "sender_id": "main",
                   "data": {"task_id": task_id, "attempt": attempt}})

    def of_type(self, mtype, pred=None):
        with self.cond:
            return [m for m in self.msgs if m.get("message_type") == mtype
                    and (pred is None or pred(m.get("data") or {}))]

    def wait_msg(self, mtype, pred=None, timeout=15):
        """The first message of mtype whose data satisfies pred."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.msgs:
                    if m.get("message_type") == mtype and (
                            pred is None or pred(m.get("data") or {})):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no %s within %.0fs; got %s" % (
                            mtype, timeout,
                            [x.get("message_type") for x in self.msgs]))
                self.cond.wait(left)

    def wait_closed(self, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.closed_at is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("the worker did not close the "
                                         "connection within %.0fs" % timeout)
                self.cond.wait(left)


class FakeMain:
    """A listening socket on a free loopback port; each connection the
    worker makes becomes a FakeConn in self.conns."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.t0 = time.monotonic()
        self.conns = []
        self.cond = threading.Condition()
        self.accepting = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.accepting:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = FakeConn(s, self.t0)
            with self.cond:
                self.conns.append(c)
                self.cond.notify_all()

    def wait_conn(self, n=1, timeout=15):
        """The n-th connection (counting from 1)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.conns) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no connection #%d within %.0fs "
                                         "(have %d)" % (n, timeout,
                                                        len(self.conns)))
                self.cond.wait(left)
            return self.conns[n - 1]

    def close(self):
        self.accepting = False
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in self.conns:
            c.close()


@pytest.fixture
def fake(tmp_path):
    """A fake main node and a function starting one real worker on it
    (state dir tmp_path/w, a made-up join token)."""
    fm = FakeMain()
    procs = []
    tok = tmp_path / "join.token"
    tok.write_text("t" * 32 + "\n")

    def start(*args, dev_id="w1", env=None):
        argv = [binpath("encore-worker"), "--main", "127.0.0.1:%d" % fm.port,
                "--id", dev_id, "--state-dir", str(tmp_path / "w"),
                "--runtime", "none", "--log-level", "debug",
                "--token-file", str(tok)] + list(args)
        p = Proc(argv, str(tmp_path / "worker.log"), env=env)
        procs.append(p)
        return p
    yield fm, start
    for p in procs:
        p.stop()
    fm.close()
    if os.environ.get("ENCORE_ASAN"):
        for p in procs:
            with open(p.log_path, "rb") as f:
                out = f.read().decode(errors="replace")
            assert "Sanitizer" not in out and "runtime error:" not in out, \
                out[-5000:]
