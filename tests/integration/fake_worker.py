# SPDX-License-Identifier: ISC
"""A worker played by the test: it speaks the real wire protocol to the real
main node (protocol/PROTOCOL.md sections 5, 6 and "Files"), over plaintext
or over TLS, and does what a test needs a task to have done: uploads
output files in raw frames after file_data lines, sends output and a
result naming its outputs.

It is a test peer, not a stand-in for encore-worker: the CLI's file
fetching is tested against outputs a real main node holds, made here
before the real worker learns to send them.
"""

import hashlib
import os
import ssl

from encore_client import Conn

HB = {"system_metrics": {"cpu_usage": 1.0, "memory_usage": 10.0,
                         "disk_usage": 10.0, "load_average": [0.1, 0.1, 0.1],
                         "uptime": 1000, "temperature": None,
                         "battery": None, "net_rx": 0, "net_tx": 0},
      "active_tasks": []}


def tls_context(state_dir):
    """A client context that trusts the main node's own CA."""
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir, "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    return ctx


class FakeWorker:
    """One registered, approved device (the main node runs --approve auto)."""

    def __init__(self, cluster, dev_id="fw1", tls=False, timeout=15.0):
        self.c = Conn(cluster.port, sender=dev_id, timeout=timeout)
        if tls:
            self.c.sock = tls_context(cluster.state).wrap_socket(
                self.c.sock, server_hostname="localhost")
            self.c.sock.settimeout(timeout)
        self.id = dev_id
        self.active = []
        self.assigns = []       # task_assigns that came while waiting
        token = cluster.token("join")
        self.c.send("register", {
            "token": token,
            "device_info": {"hostname": dev_id, "platform": "linux",
                            "architecture": os.uname().machine,
                            "os": "Test OS", "kernel": "6.1"},
            "hardware_specs": {"cpu_cores": 4, "memory_total": 4 << 30,
                               "disk_space": 32 << 30,
                               "disk_free": 16 << 30},
            "capabilities": ["command"], "slots": 4})
        ack = self.c.recv()
        assert ack["message_type"] == "register_ack", ack
        assert ack["data"]["state"] == "approved", ack
        self.heartbeat()

    def close(self):
        self.c.close()

    def heartbeat(self):
        hb = dict(HB)
        hb["active_tasks"] = list(self.active)
        self.c.send("heartbeat", hb)

    def until(self, pred, timeout=None):
        """The next message pred accepts; task_assigns that come meanwhile
        are kept for next_task (the main node may assign several at once)."""
        def keep(m):
            if pred(m):
                return True
            if m["message_type"] == "task_assign":
                self.assigns.append(m)
            return False
        return self.c.recv_until(keep, timeout)

    def next_task(self, timeout=20):
        """The next task_assign's task."""
        if self.assigns:
            m = self.assigns.pop(0)
        else:
            m = self.c.recv_until(
                lambda m: m["message_type"] == "task_assign", timeout)
        t = m["data"]["task"]
        self.active.append({"task_id": t["task_id"],
                            "attempt": t["attempt"]})
        self.c.send("task_started", {"task_id": t["task_id"],
                                     "attempt": t["attempt"]})
        self.heartbeat()
        return t

    def upload(self, data, frame=1 << 20):
        """Upload bytes in frames; returns their SHA-256 once the main node
        acknowledged them whole."""
        sha = hashlib.sha256(data).hexdigest()
        off = 0
        while True:
            chunk = data[off:off + frame]
            self.c.send_frame(sha, len(data), off, chunk)
            off += len(chunk)
            if off >= len(data):
                break
        ack = self.until(lambda m: m["message_type"] == "file_ack" and
                         m["data"]["sha256"] == sha)
        assert ack["data"].get("complete") is True, ack
        return sha

    def finish(self, task, files=None, status="completed", exit_code=0,
               output=None):
        """Upload files {name: bytes or (bytes, mode)}, send output text,
        then the result naming the files; wait for its result_ack."""
        outs = []
        for name, v in (files or {}).items():
            data, mode = v if isinstance(v, tuple) else (v, 0o644)
            outs.append({"name": name, "sha256": self.upload(data),
                         "size": len(data), "mode": mode})
        if output is not None:
            self.c.send("task_output", {"task_id": task["task_id"],
                                        "attempt": task["attempt"],
                                        "stream": "stdout", "seq": 0,
                                        "data": output})
        self.active = [a for a in self.active
                       if a["task_id"] != task["task_id"]]
        self.c.send("task_result", {"task_id": task["task_id"],
                                    "attempt": task["attempt"],
                                    "status": status, "exit_code": exit_code,
                                    "execution_time": 0.1,
                                    "outputs": outs})
        self.until(lambda m: m["message_type"] == "result_ack" and
                   m["data"]["task_id"] == task["task_id"])
        self.heartbeat()
        return outs
