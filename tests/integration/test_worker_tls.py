# SPDX-License-Identifier: ISC
"""The worker's side of TLS: pinned join tokens, the pin kept in the state
dir, the join secret, and old bare tokens.

Focus of this file: real encore-main and encore-worker processes, and
between them, where a test must see the wire, a recording TCP proxy of
its own (RecordingProxy): it passes the bytes on unchanged and keeps them,
so a test can show what crossed in clear.  The main node's own TLS
(certificates, --plaintext, rotation from its side) is in test_tls.py.
"""

import hashlib
import json
import os
import socket
import ssl
import stat
import subprocess
import threading

import encore_client
from conftest import Proc, binpath, wait_for

FINAL = ("completed", "failed", "timed_out", "cancelled")


class RecordingProxy:
    """A TCP proxy on a free loopback port to 127.0.0.1:target that keeps
    every byte of each connection, both ways."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.streams = []       # [client->main bytearray, main->client]
        self.socks = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target), 5)
            except OSError:
                c.close()
                continue
            up, down = bytearray(), bytearray()
            with self.lock:
                self.streams.append((up, down))
                self.socks += [c, s]
            threading.Thread(target=self._pump, args=(c, s, up),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, down),
                             daemon=True).start()

    def _pump(self, src, dst, buf):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    buf += data
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def sent(self):
        """Everything the worker side sent, per connection."""
        with self.lock:
            return [bytes(u) for u, _ in self.streams]

    def everything(self):
        with self.lock:
            return b"".join(bytes(u) + bytes(d) for u, d in self.streams)

    def close(self):
        self.closed = True
        self.lsock.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


class TLSConn(encore_client.Conn):
    """An operator session over TLS, checked against the cluster's CA."""

    def __init__(self, cluster, timeout=10.0):
        ctx = ssl.create_default_context(
            cafile=os.path.join(cluster.state, "ca.crt"))
        raw = socket.create_connection(("127.0.0.1", cluster.port), timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.sender = "pytest"
        self.timeout = timeout


def tls_operator(cluster):
    op = TLSConn(cluster)
    r = op.request("auth", {"token": cluster.operator_token})
    assert r["data"]["ok"] is True, r
    return op


def pin_of(path):
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def other_cluster_pin(cluster):
    """The pin of another cluster's CA: a second main node's state dir,
    made by encore-main itself."""
    other = os.path.join(cluster.tmp, "other-main")
    r = subprocess.run([binpath("encore-main"), "--state-dir", other,
                        "--rotate-server-cert"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return pin_of(os.path.join(other, "ca.crt"))


def write_token(cluster, name, text):
    path = os.path.join(cluster.tmp, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


def secret_of(token):
    return token.split(":")[2] if token.startswith("ENC1:") else token


def read(path):
    with open(path) as f:
        return f.read().strip()


def submit_and_wait(op, argv, timeout=30):
    r = op.request("submit", {"task": {"command": argv}})
    assert r["data"]["ok"] is True, r
    tid = r["data"]["task_id"]

    def final():
        t = op.request("get_task", {"task_id": tid})["data"]["task"]
        return t if t["state"] in FINAL else None
    return tid, wait_for(final, timeout, what="task %s to end" % tid)


def start_worker_in(cluster, label, dev_id, state_dir, *args,
                    token_file=None):
    """A worker with its own log label and state dir (cluster.start_worker
    keys both on the device id)."""
    os.makedirs(state_dir, exist_ok=True)
    argv = [binpath("encore-worker"), "--main", "127.0.0.1:%d" % cluster.port,
            "--id", dev_id, "--state-dir", state_dir, "--runtime", "none",
            "--log-level", "debug"]
    if token_file is not None:
        argv += ["--token-file", token_file]
    argv += list(args)
    p = Proc(argv, os.path.join(cluster.tmp, "worker-%s.log" % label))
    cluster.procs.append(p)
    return p


def wdir(cluster, dev_id):
    return os.path.join(cluster.tmp, "w-" + dev_id)


# ---- a pinned token ----

def test_pinned_token_joins_runs_a_task_and_comes_back_with_its_key(cluster):
    """With --plaintext off only TLS gets in: the worker joins with the
    pinned join token, runs a task, and after a restart with no token at
    all comes back with its device key, still over TLS, because it kept
    the pin next to its key."""
    cluster.start_main("--plaintext", "off")
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    out = w.output()
    assert "event=tls " in out and "protocol=TLSv1." in out, out
    pin = pin_of(os.path.join(cluster.state, "ca.crt"))
    assert "ca=%s" % pin in out
    st = wdir(cluster, "w1")
    # Online on the main node once it sent the key; the worker writes it
    # when the acknowledgement reaches it.
    wait_for(lambda: os.path.exists(os.path.join(st, "device.key")), 30,
             what="device.key on the device")
    for name in ("device.key", "ca.pin", "join.secret"):
        assert stat.S_IMODE(os.stat(os.path.join(st, name)).st_mode) == 0o600
    assert read(os.path.join(st, "ca.pin")) == pin
    # Nothing secret in the worker's log.
    for secret in (secret_of(cluster.token("join")),
                   read(os.path.join(st, "device.key")),
                   read(os.path.join(st, "join.secret"))):
        assert secret not in out

    op = tls_operator(cluster)
    tid, t = submit_and_wait(op, ["echo", "over-tls"])
    assert t["state"] == "completed" and t["device"] == "w1", t
    assert "over-tls" in op.request("logs", {"task_id": tid})["data"]["output"]
    assert cluster.device_state("w1") == "online"

    # Only the device key now (no --token-file): TLS from STATE/ca.pin.
    assert w.stop() == 0
    cluster.wait_state("w1", "offline")
    w2 = cluster.start_worker("w1", token_file=False)
    cluster.wait_state("w1", "online")
    assert "tls=pinned-state" in w2.output()
    assert "credential=device_key tls=yes" in w2.output()
    tid, t = submit_and_wait(op, ["true"])
    assert t["state"] == "completed" and t["device"] == "w1", t
    op.close()


def test_token_pinned_to_another_cluster_sends_nothing(cluster):
    """A token whose pin is another cluster's CA (with this cluster's
    secret, so a leak would be accepted): the worker finishes no
    handshake, sends no secret, says both hashes and what to do, and the
    main node sees no register."""
    cluster.start_main()
    ours = pin_of(os.path.join(cluster.state, "ca.crt"))
    theirs = other_cluster_pin(cluster)
    assert theirs != ours
    secret = secret_of(cluster.token("join"))
    tok = write_token(cluster, "wrong.token",
                      "ENC1:%s:%s" % (theirs, secret))
    proxy = RecordingProxy(cluster.port)
    try:
        w = cluster.start_worker("w1", "--main", "127.0.0.1:%d" % proxy.port,
                                 token_file=tok)
        wait_for(lambda: "event=tls_pin_mismatch" in w.output(), 20,
                 what="the worker to refuse the main node's CA")
        line = [l for l in w.output().splitlines()
                if "event=tls_pin_mismatch" in l][0]
        assert "expected=%s" % theirs in line and "got=%s" % ours in line
        assert "copy join.token again" in line and "nothing was sent" in line
        assert " error: " in line
        # It does not give up (a device on the wrong network comes back
        # by itself) and it does not fall back to plaintext.
        assert w.alive()
        joined = os.path.join(wdir(cluster, "w1"), "join.secret")
        wait_for(lambda: os.path.exists(joined), 10, what="join.secret")
        sent = proxy.sent()
        assert sent and all(s.startswith(b"\x16\x03") for s in sent), sent
        everything = proxy.everything()
        assert secret.encode() not in everything
        assert read(joined).encode() not in everything
        assert b"register" not in everything
    finally:
        proxy.close()
    main_log = cluster.main.output()
    assert "device_registered" not in main_log
    assert "register_refused" not in main_log
    assert cluster.device_state("w1") is None
    assert not os.path.exists(os.path.join(wdir(cluster, "w1"), "ca.pin"))
    assert not os.path.exists(os.path.join(wdir(cluster, "w1"), "device.key"))


def test_a_recorded_session_shows_no_secret_no_key_no_argv(cluster):
    """Everything a worker does, through a proxy that records it: join with
    the token, receive the key, run a task, come back with the key.  None
    of the join token's secret, the join secret, the device key, the
    task's argv or its output crosses in clear."""
    cluster.start_main("--plaintext", "off")
    proxy = RecordingProxy(cluster.port)
    try:
        via = ("--main", "127.0.0.1:%d" % proxy.port)
        w = cluster.start_worker("w1", *via)
        cluster.wait_state("w1", "online")
        op = tls_operator(cluster)
        argv_marker = "argv-marker-7f3a9c"
        out_marker = "out-marker-0c41d2"
        tid, t = submit_and_wait(op, ["sh", "-c", "echo %s; : %s" % (
            out_marker, argv_marker)])
        assert t["state"] == "completed" and t["device"] == "w1", t
        assert out_marker in op.request(
            "logs", {"task_id": tid})["data"]["output"]
        assert w.stop() == 0
        cluster.wait_state("w1", "offline")
        w2 = cluster.start_worker("w1", *via, token_file=False)
        cluster.wait_state("w1", "online")
        assert "credential=device_key tls=yes" in w2.output()
        tid, t = submit_and_wait(op, ["echo", argv_marker + "-2"])
        assert t["state"] == "completed" and t["device"] == "w1", t
        op.close()
        assert w2.stop() == 0
    finally:
        proxy.close()
    st = wdir(cluster, "w1")
    everything = proxy.everything()
    sent = proxy.sent()
    assert len(sent) >= 2
    assert all(s.startswith(b"\x16\x03") for s in sent), [s[:8] for s in sent]
    for secret in (secret_of(cluster.token("join")),
                   read(os.path.join(st, "join.secret")),
                   read(os.path.join(st, "device.key")),
                   argv_marker, out_marker):
        assert secret.encode() not in everything, secret
    assert b"message_type" not in everything
    assert b"heartbeat" not in everything


# ---- the pin kept in the state dir ----

def test_kept_pin_is_checked_and_never_dropped(cluster):
    """A device that has only its key still checks the main node against
    the pin it kept: a different pin there is refused like a wrong token,
    and a damaged ca.pin stops the worker (exit 2) instead of falling back
    to plaintext."""
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    assert w.stop() == 0
    st = wdir(cluster, "w1")
    pinfile = os.path.join(st, "ca.pin")
    theirs = other_cluster_pin(cluster)
    with open(pinfile, "w") as f:
        f.write(theirs + "\n")
    w2 = cluster.start_worker("w1", token_file=False)
    wait_for(lambda: "event=tls_pin_mismatch" in w2.output(), 20,
             what="the worker to refuse the main node")
    line = [l for l in w2.output().splitlines()
            if "event=tls_pin_mismatch" in l][0]
    assert "expected=%s" % theirs in line and "ca.pin" in line
    assert w2.stop() == 0
    with open(pinfile, "w") as f:
        f.write("not a pin\n")
    w3 = cluster.start_worker("w1", token_file=False)
    assert w3.p.wait(timeout=20) == 2
    assert "ca.pin is damaged" in w3.output()
    # A fresh pinned token puts it right.
    w4 = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    assert read(pinfile) == pin_of(os.path.join(cluster.state, "ca.crt"))
    assert "event=pin_stored" in w4.output()


def test_rotated_server_certificate_keeps_the_pin(cluster):
    """encore-main --rotate-server-cert while the worker is away: it comes
    back with the same pin (the CA did not change) and its device key."""
    cluster.start_main("--plaintext", "off")
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    assert w.stop() == 0
    cluster.main.stop()
    srv = read(os.path.join(cluster.state, "server.crt"))
    r = subprocess.run([binpath("encore-main"), "--state-dir", cluster.state,
                        "--rotate-server-cert"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert read(os.path.join(cluster.state, "server.crt")) != srv
    cluster.start_main("--plaintext", "off")
    w2 = cluster.start_worker("w1", token_file=False)
    cluster.wait_state("w1", "online")
    assert "event=tls " in w2.output()
    assert "tls_pin_mismatch" not in w2.output()
    # And a worker that stays up across the rotation reconnects by itself.
    cluster.main.stop()
    r = subprocess.run([binpath("encore-main"), "--state-dir", cluster.state,
                        "--rotate-server-cert"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    n = w2.output().count("event=tls ")
    cluster.start_main("--plaintext", "off")
    wait_for(lambda: w2.output().count("event=tls ") > n, 30,
             what="the worker to reconnect over TLS")
    cluster.wait_state("w1", "online")


# ---- bare tokens: an upgraded main node ----

def test_upgraded_main_node_keeps_its_bare_token_devices(cluster):
    """A state dir from before TLS (bare tokens): the main node rewrites
    its token files in the pinned form around the same secrets, and a
    device that holds the bare secret joins and comes back in plaintext,
    as it did (from loopback, which --plaintext local allows)."""
    os.makedirs(cluster.state, mode=0o700)
    bare = "j0in" * 10
    for name, secret in (("join", bare), ("operator", "o" * 40)):
        with open(os.path.join(cluster.state, name + ".token"), "w") as f:
            f.write(secret + "\n")
    cluster.start_main()
    assert cluster.token("join").endswith(":" + bare)
    tok = write_token(cluster, "bare.token", bare)
    proxy = RecordingProxy(cluster.port)
    try:
        via = ("--main", "127.0.0.1:%d" % proxy.port)
        w = cluster.start_worker("old", *via, token_file=tok)
        cluster.wait_state("old", "online")
        assert "tls=off" in w.output()
        assert "event=plaintext" in w.output()
        st = wdir(cluster, "old")
        assert not os.path.exists(os.path.join(st, "ca.pin"))
        op = cluster.operator()
        tid, t = submit_and_wait(op, ["true"])
        assert t["state"] == "completed" and t["device"] == "old", t
        assert w.stop() == 0
        cluster.wait_state("old", "offline")
        # Its key alone, later: still plaintext.
        w2 = cluster.start_worker("old", *via, token_file=False)
        cluster.wait_state("old", "online")
        assert "credential=device_key tls=no" in w2.output()
        op.close()
    finally:
        proxy.close()
    sent = proxy.sent()
    assert sent and all(s.startswith(b"{") for s in sent), [s[:8] for s in sent]
    first = json.loads(sent[0].split(b"\n")[0])
    assert first["message_type"] == "register"
    assert first["data"]["token"] == bare
    assert len(first["data"]["join_secret"]) == 64


def test_malformed_pinned_token_is_a_usage_error(cluster, tmp_path):
    tok = tmp_path / "t"
    tok.write_text("ENC1:1234:secret\n")
    r = subprocess.run([binpath("encore-worker"), "--main", "127.0.0.1:1",
                        "--state-dir", str(tmp_path / "w"), "--token-file",
                        str(tok)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r.stderr
    assert "ENC1:<64 hex digits>:<secret>" in r.stderr
    assert "join.token" in r.stderr


# ---- the join secret ----

def test_join_secret_tells_the_device_from_a_token_holder(cluster):
    """--approve manual: a device joins (pending) and goes away; while it
    is away an operator approves it.  Another worker with the same id and
    the same join token but its own state dir (so another join secret) is
    refused; the real device, back with its secret, gets its key."""
    cluster.start_main(approve="manual")
    real_dir = wdir(cluster, "pi")
    real = start_worker_in(cluster, "pi-real", "pi", real_dir,
                           token_file=os.path.join(cluster.state,
                                                   "join.token"))
    wait_for(lambda: cluster.device_state("pi") is not None, 20,
             what="pi to register")
    wait_for(lambda: "event=pending" in real.output(), 20, what="pending")
    secret = read(os.path.join(real_dir, "join.secret"))
    assert len(secret) == 64 and secret not in real.output()
    assert real.stop() == 0
    op = cluster.operator()
    assert op.request("approve", {"device_id": "pi"})["data"]["ok"]

    other_dir = os.path.join(cluster.tmp, "impostor")
    imp = start_worker_in(cluster, "pi-impostor", "pi", other_dir,
                          token_file=os.path.join(cluster.state,
                                                  "join.token"))
    wait_for(lambda: "code=conflict" in imp.output(), 20,
             what="the impostor to be refused")
    assert read(os.path.join(other_dir, "join.secret")) != secret
    assert not os.path.exists(os.path.join(other_dir, "device.key"))
    assert "id_taken" in cluster.main.output()
    assert imp.stop() == 0

    # The same state dir keeps the same secret: the device gets its key.
    back = start_worker_in(cluster, "pi-back", "pi", real_dir,
                           token_file=os.path.join(cluster.state,
                                                   "join.token"))
    cluster.wait_state("pi", "online")
    assert read(os.path.join(real_dir, "join.secret")) == secret
    assert os.path.exists(os.path.join(real_dir, "device.key"))
    assert "event=key_stored" in back.output()
    op.close()


# ---- broken and hostile peers ----

class OnePeer:
    """A TCP server on a free loopback port that, for each connection,
    reads what comes for a moment, keeps it, then answers reply (may be
    b"") and closes."""

    def __init__(self, reply):
        self.reply = reply
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.got = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            c.settimeout(1.0)
            data = b""
            try:
                data = c.recv(65536)
                if self.reply:
                    c.sendall(self.reply)
            except OSError:
                pass
            self.got.append(data)
            c.close()

    def close(self):
        self.lsock.close()


class FlippingProxy(RecordingProxy):
    """A RecordingProxy that, on the first connection only, flips one bit
    of the first TLS application-data record the main node sends (what a
    network that corrupts, or an attacker who tampers, does)."""

    def __init__(self, target):
        self.flipped = False
        super().__init__(target)

    def _pump(self, src, dst, buf):
        with self.lock:
            first_down = len(self.streams) == 1 and buf is self.streams[0][1]
        if not first_down:
            return super()._pump(src, dst, buf)
        pos, flip_at, seen = 0, None, 0
        try:
            while True:
                data = bytearray(src.recv(65536))
                if not data:
                    break
                with self.lock:
                    buf += data
                    # Walk the record headers: type, version, length.
                    while flip_at is None and pos + 5 <= len(buf):
                        length = int.from_bytes(buf[pos + 3:pos + 5], "big")
                        if buf[pos] == 0x17:
                            flip_at = pos + 5 + length - 1
                        pos += 5 + length
                if flip_at is not None and not self.flipped and \
                        seen <= flip_at < seen + len(data):
                    data[flip_at - seen] ^= 1
                    self.flipped = True
                seen += len(data)
                dst.sendall(bytes(data))
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_broken_peers_are_named_and_survived(cluster):
    """A pinned worker whose --main leads to a peer that does not speak
    TLS, or that hangs up in the handshake, says so, sends nothing but its
    client hello and keeps trying; a record tampered with on the way is
    caught by its integrity check, the link dropped and made again."""
    cluster.start_main()
    secret = secret_of(cluster.token("join"))
    for reply, words in (
            (b"HTTP/1.0 400 Bad Request\r\n\r\n",
             "TLS handshake failed: invalid record (the peer does not "
             "speak TLS)"),
            (b"", "connection closed by the main node")):
        peer = OnePeer(reply)
        try:
            st = os.path.join(cluster.tmp, "w-peer-%d" % len(reply))
            os.makedirs(st)
            p = Proc([binpath("encore-worker"), "--main",
                      "127.0.0.1:%d" % peer.port, "--id", "peer",
                      "--state-dir", st, "--runtime", "none",
                      "--log-level", "debug", "--token-file",
                      os.path.join(cluster.state, "join.token")],
                     os.path.join(cluster.tmp, "worker-peer-%d.log" %
                                  len(reply)))
            cluster.procs.append(p)
            wait_for(lambda: p.output().count("event=disconnected") >= 2,
                     30, what="two attempts against the broken peer")
            assert words in p.output(), p.output()
            assert p.alive(), p.output()
            assert peer.got, "the peer saw no connection"
            for data in peer.got:
                # A TLS handshake record (the client hello), nothing else.
                assert data[:2] == b"\x16\x03", data[:16]
                assert secret.encode() not in data
            assert p.stop() == 0, p.output()
        finally:
            peer.close()

    proxy = FlippingProxy(cluster.port)
    try:
        w = start_worker_in(cluster, "flip", "flip", wdir(cluster, "flip"),
                            "--main", "127.0.0.1:%d" % proxy.port,
                            token_file=os.path.join(cluster.state,
                                                    "join.token"))
        # The first record back (register_ack) is the tampered one; the
        # second connection is left alone.
        wait_for(lambda: w.output().count("event=tls ") >= 2, 60,
                 what="a second TLS session after the tampered record")
        assert proxy.flipped
        out = w.output()
        assert "TLS error: a record failed its integrity check" in out, out
        cluster.wait_state("flip", "online", timeout=60)
        op = tls_operator(cluster)
        tid, t = submit_and_wait(op, ["echo", "after-a-bad-record"])
        assert t["state"] == "completed" and t["device"] == "flip", t
        op.close()
        assert w.stop() == 0, w.output()
    finally:
        proxy.close()
