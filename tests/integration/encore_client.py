# SPDX-License-Identifier: ISC
"""A tiny NDJSON client for encore's cluster port, used by the tests.

It speaks the wire protocol (protocol/PROTOCOL.md) over a plain socket: no
code of encore's own is imported, so the tests see exactly what any other
program would.
"""

import hashlib
import itertools
import json
import socket
import time

_ids = itertools.count(1)


class Closed(Exception):
    """The peer closed the connection."""


class Conn:
    """One JSON-lines session with the main node."""

    # Generous default timeouts: a busy 2-core machine (make test next to
    # builds) can take seconds to answer; a test only waits this long when
    # something is really wrong.
    def __init__(self, port, host="127.0.0.1", timeout=30.0, sender="pytest"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.sender = sender
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, message_type, data=None, **envelope):
        """Send one message; returns its message_id."""
        mid = str(next(_ids))
        msg = {"message_type": message_type, "sender_id": self.sender,
               "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "message_id": mid}
        msg.update(envelope)
        if data is not None:
            msg["data"] = data
        self.send_raw(json.dumps(msg) + "\n")
        return mid

    def recv(self, timeout=None):
        """Next message as a dict; raises Closed on EOF, socket.timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no message within timeout")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed by peer")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def recv_until(self, pred, timeout=None):
        """Skip messages until pred(msg) is true; return that message."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no matching message within timeout")
            msg = self.recv(timeout=left)
            if pred(msg):
                return msg

    def request(self, message_type, data=None, timeout=None):
        """Send and wait for the reply (or error) answering it."""
        mid = self.send(message_type, data)
        return self.recv_until(
            lambda m: m.get("reply_to") == mid or
            (m.get("message_type") == "error" and m.get("reply_to") in (None, mid)),
            timeout)

    def recv_bytes(self, n, timeout=None):
        """Exactly n raw bytes (a file frame's, after its file_data line)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no frame bytes within timeout")
            self.sock.settimeout(left)
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise Closed("connection closed by peer")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send_frame(self, sha, size, offset, data, **envelope):
        """One file_data line and its raw bytes; returns its message_id."""
        mid = str(next(_ids))
        msg = {"message_type": "file_data", "message_id": mid,
               "data": {"sha256": sha, "size": size, "offset": offset,
                        "len": len(data)}}
        msg.update(envelope)
        self.send_raw(json.dumps(msg).encode() + b"\n" + data)
        return mid

    def upload(self, data, frame=1 << 20, start=None):
        """Upload bytes as a file (from where the main node has it);
        returns the final reply or error."""
        sha = hashlib.sha256(data).hexdigest()
        if start is None:
            st = self.request("file_stat", {"sha256": sha})
            if st.get("data", {}).get("complete"):
                return st
            start = st["data"]["have"]
        off = start
        mids = set()
        if off == len(data):
            mids.add(self.send_frame(sha, len(data), off, b""))
        while off < len(data):
            chunk = data[off:off + frame]
            mids.add(self.send_frame(sha, len(data), off, chunk))
            off += len(chunk)
        # The answer: to the last frame, or an error about any of them.
        return self.recv_until(lambda m: m.get("reply_to") in mids or
                               m.get("message_type") == "error")

    def download(self, sha, offset=0, timeout=None):
        """Fetch a file; returns (bytes, final message)."""
        mid = self.send("file_get", {"sha256": sha, "offset": offset})
        out = []
        while True:
            m = self.recv(timeout)
            if m.get("message_type") == "file_data":
                out.append(self.recv_bytes(m["data"]["len"], timeout))
                continue
            if m.get("reply_to") == mid or m.get("message_type") == "error":
                return b"".join(out), m

    def is_closed(self, timeout=15.0):
        """True if the peer closes within timeout (skipping any messages)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.recv(timeout=deadline - time.monotonic())
        except (Closed, ConnectionResetError):
            return True
        except socket.timeout:
            return False
        return False


def operator(port, token, **kw):
    """An authenticated operator session."""
    c = Conn(port, **kw)
    r = c.request("auth", {"token": token})
    assert r.get("data", {}).get("ok") is True, r
    return c


def submit(op, argv, **task):
    """Submit a command task over an operator session; its id."""
    task["command"] = argv
    r = op.request("submit", {"task": task})
    assert r["data"]["ok"] is True, r
    return r["data"]["task_id"]


def get_task(op, tid):
    """A task as get_task answers it."""
    r = op.request("get_task", {"task_id": tid})
    assert r["data"]["ok"] is True, r
    return r["data"]["task"]


def text_command(port, command, host="127.0.0.1", timeout=30.0):
    """Send a one-shot text command; return the whole reply as str."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(command.encode() + b"\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    return out.decode()
