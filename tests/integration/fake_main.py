# SPDX-License-Identifier: ISC
"""A tiny stand-in for encore-main, for client tests the real one cannot do.

It listens on a free loopback port and speaks just enough of the operator
protocol (protocol/PROTOCOL.md section 7) to let `encore` and `encore-top`
authenticate; every other request goes to a handler the test supplies,
which may answer properly (a main node that pages `list_tasks` before the
real one does) or misbehave (a huge reply, endless events, a reply that
dribbles in a byte at a time).  Each connection runs in its own thread;
stop() closes everything.
"""

import json
import socket
import threading


class FakeMain:
    """A fake main node.  handler(conn, msg) answers every request but
    `auth` (unless answer_auth is false); conn has send(obj),
    send_raw(bytes), reply(msg, data) and closed (set when the test is
    over)."""

    def __init__(self, handler, token="fake-token", answer_auth=True):
        self.handler = handler
        self.token = token
        self.answer_auth = answer_auth
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.stopping = threading.Event()
        self.conns = []
        self.requests = []          # every decoded request, in order
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            c = _Conn(self, s)
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=c.run, daemon=True).start()

    def stop(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def seen(self, message_type):
        """Requests of that type received so far."""
        with self.lock:
            return [m for m in self.requests
                    if m.get("message_type") == message_type]


class _Conn:
    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.closed = server.stopping

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def reply(self, msg, data):
        self.send({"message_type": "reply", "sender_id": "main",
                   "reply_to": msg.get("message_id"), "data": data})

    def run(self):
        buf = b""
        try:
            while not self.closed.is_set():
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = json.loads(line)
                    with self.server.lock:
                        self.server.requests.append(msg)
                    if msg.get("message_type") == "auth" and \
                            self.server.answer_auth:
                        ok = msg.get("data", {}).get("token") == \
                            self.server.token
                        self.reply(msg, {"ok": True, "role": "operator"}
                                   if ok else {"ok": False, "error": {
                                       "code": "unauthorized",
                                       "message": "wrong token"}})
                        continue
                    self.server.handler(self, msg)
        except (OSError, ValueError):
            return
        finally:
            self.close()


def fake_task(i, state="queued"):
    """A TASK (PROTOCOL.md section 8) with id i."""
    return {"id": str(i), "name": "t%d" % i, "state": state,
            "priority": "normal", "device": None, "attempt": 0,
            "exit_code": None, "submitted_at": "2026-11-22T10:31:00Z",
            "started_at": None, "finished_at": None}


class Pager:
    """A fake main node's list_tasks that pages like the real one will:
    tasks in id order after `after`, `limit` of them (0: 1000), with
    `total` and `next`.  gate, when set, holds back every page but the
    first until it is released."""

    def __init__(self, active, finished=0):
        self.tasks = [fake_task(i) for i in range(1, active + 1)] + \
            [fake_task(i, "completed") for i in
             range(active + 1, active + finished + 1)]
        self.gate = None

    def __call__(self, conn, msg):
        if msg["message_type"] != "list_tasks":
            return
        d = msg.get("data", {})
        rows = [t for t in self.tasks if d.get("all") or
                t["state"] == "queued"]
        after = d.get("after")
        if after is not None:
            if self.gate is not None:
                self.gate.wait(15)
            rows_after = [t for t in rows if int(t["id"]) > int(after)]
        else:
            rows_after = rows
        limit = d.get("limit") or 1000
        page = rows_after[:limit]
        more = len(rows_after) > limit
        conn.reply(msg, {"ok": True, "tasks": page, "total": len(rows),
                         "next": page[-1]["id"] if more else None})
