# SPDX-License-Identifier: ISC
"""TLS from the operator clients: `encore` and `encore-top` with the pinned
operator token (ENC1:<CA hash>:<secret>).

Focus of this file: README "Security" (TLS), from the clients' side.  The
main node runs with --plaintext off, so whatever works is TLS.  A token
pinned to another cluster's CA must stop the client before its secret
crosses: a recording proxy that terminates TLS with the real main node's
own certificate and key (so it sees every byte in clear) shows that the
secret crosses with the right token and that nothing at all does with the
wrong one.  encore-top is driven in tmux as in test_tui.py, through a
reconnect and a main node replaced by another cluster's.
"""

import os
import socket
import ssl
import subprocess
import threading

from conftest import Proc, binpath, free_port, wait_for
from fake_worker import FakeWorker
from test_tls import pin_of

ASAN = bool(os.environ.get("ENCORE_ASAN"))


def other_cluster_token(tmp_path):
    """The operator token of another main node's state dir (another CA)."""
    st = str(tmp_path / "other")
    port = free_port()
    p = Proc([binpath("encore-main"), "--listen", "127.0.0.1:%d" % port,
              "--state-dir", st], str(tmp_path / "other.log"))
    try:
        wait_for(lambda: os.path.exists(os.path.join(st, "operator.token")),
                 15, what="the other main node's tokens")
        wait_for(lambda: open(os.path.join(st, "operator.token")).read()
                 .startswith("ENC1:"), 15, what="a pinned token")
    finally:
        p.stop()
    with open(os.path.join(st, "operator.token")) as f:
        return f.read().strip(), st


class RecordingProxy:
    """Terminates TLS with the main node's own certificate, chain and key
    (what a client sees is the real main node), records the bytes it gets
    in clear, and passes them to the main node in plaintext on loopback."""

    def __init__(self, cluster, tmp):
        chain = os.path.join(str(tmp), "chain.pem")
        with open(chain, "w") as f:
            for name in ("server.crt", "ca.crt"):
                f.write(open(os.path.join(cluster.state, name)).read())
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(chain, os.path.join(cluster.state,
                                                     "server.key"))
        self.port = cluster.port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.clear = []           # bytes received in clear, per connection
        self.handshakes = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, raw):
        rec = bytearray()
        with self.lock:
            self.clear.append(rec)
        try:
            c = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        with self.lock:
            self.handshakes += 1
        up = socket.create_connection(("127.0.0.1", self.port))

        def back():
            try:
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        threading.Thread(target=back, daemon=True).start()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                with self.lock:
                    rec.extend(d)
                up.sendall(d)
        except (OSError, ssl.SSLError):
            pass
        for s in (c, up):
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        self.sock.close()


def test_cli_submit_wait_ps_fetch_over_tls(cluster, tmp_path):
    """With --plaintext off, submit --wait --fetch, ps and fetch work
    with the pinned token; the same secret bare (plaintext) is refused."""
    cluster.start_main("--plaintext", "off", heartbeat=5)
    w = FakeWorker(cluster, tls=True)
    try:
        env = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
                   ENCORE_TOKEN=cluster.operator_token)
        p = subprocess.Popen([binpath("encore"), "submit", "--output",
                              "o.txt", "--wait", "--fetch",
                              str(tmp_path / "got"), "--", "job"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        t = w.next_task()
        w.finish(t, {"o.txt": b"made over tls\n"}, output="hello over tls\n")
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert out == "hello over tls\n"
        assert (tmp_path / "got" / "o.txt").read_bytes() == \
            b"made over tls\n"
    finally:
        w.close()
    r = cluster.cli("ps", "--all", check=True)
    assert "completed" in r.stdout
    r = cluster.cli("fetch", t["task_id"], str(tmp_path / "again"),
                    check=True)
    assert (tmp_path / "again" / "o.txt").read_bytes() == b"made over tls\n"
    secret = cluster.operator_token.split(":")[2]
    r = cluster.cli("status", env={"ENCORE_TOKEN": secret})
    assert r.returncode == 1, r.stderr
    assert "ENC1" in r.stderr and "forbidden" in r.stderr


def test_bare_token_still_works_in_plaintext(cluster):
    """An old setup's bare secret keeps working (plaintext from
    loopback)."""
    cluster.start_main()
    secret = cluster.operator_token.split(":")[2]
    r = cluster.cli("status", env={"ENCORE_TOKEN": secret})
    assert r.returncode == 0, r.stderr
    assert "devices_total: 0" in r.stdout


def test_token_pinned_to_another_ca_never_sends_its_secret(cluster,
                                                           tmp_path):
    """Through a proxy that sees every byte in clear: the right token's
    secret crosses (the proxy would see it), another cluster's token sends
    nothing at all and the CLI names both hashes; exit 3."""
    cluster.start_main()
    other, other_state = other_cluster_token(tmp_path)
    mine_pin = pin_of(os.path.join(cluster.state, "ca.crt"))
    other_pin = pin_of(os.path.join(other_state, "ca.crt"))
    assert other.split(":")[1] == other_pin != mine_pin
    proxy = RecordingProxy(cluster, tmp_path)
    try:
        r = cluster.cli("status", env={"ENCORE_MAIN": proxy.addr})
        assert r.returncode == 0, r.stderr
        mine_secret = cluster.operator_token.split(":")[2].encode()
        with proxy.lock:
            assert any(mine_secret in rec for rec in proxy.clear)
            n = len(proxy.clear)
        r = cluster.cli("status", env={"ENCORE_MAIN": proxy.addr,
                                       "ENCORE_TOKEN": other})
        assert r.returncode == 3, r.stderr
        err = " ".join(r.stderr.split())
        assert other_pin in err and mine_pin in err, err
        assert "nothing secret was sent" in err
        assert "operator.token" in err
        other_secret = other.split(":")[2].encode()
        # The CLI may be gone before the proxy's thread has finished its
        # side of the handshake (a busy machine): wait for it, bounded.
        wait_for(lambda: proxy.handshakes == n + 1, 30,
                 what="the proxy to count the second handshake")
        with proxy.lock:
            assert proxy.handshakes == n + 1
            assert len(proxy.clear) == n + 1
            assert bytes(proxy.clear[n]) == b""
            assert not any(other_secret in rec for rec in proxy.clear)
    finally:
        proxy.close()
    # Straight to the main node: the same refusal.
    r = cluster.cli("ps", env={"ENCORE_TOKEN": other})
    assert r.returncode == 3 and other_pin in " ".join(r.stderr.split())
    assert cluster.main.alive()


def test_tls_to_a_main_node_without_it_says_so(tmp_path):
    """A pinned token against a peer that answers plaintext: a clear
    error, exit 3, the secret never written."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = bytearray()

    def serve():
        c, _ = srv.accept()
        c.settimeout(10)
        try:
            got.extend(c.recv(65536))
            c.sendall(b"error: unknown command\n")
        except OSError:
            pass
        c.close()
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    tok = "ENC1:" + "ab" * 32 + ":the-secret-1234"
    r = subprocess.run([binpath("encore"), "status"],
                       env=dict(os.environ, ENCORE_TOKEN=tok,
                                ENCORE_MAIN="127.0.0.1:%d" %
                                srv.getsockname()[1]),
                       capture_output=True, text=True, timeout=30)
    th.join(10)
    srv.close()
    assert r.returncode == 3, r.stderr
    assert "no TLS with the main node" in r.stderr
    assert got[:1] == b"\x16" and b"the-secret-1234" not in got


# ---- encore-top ----


def test_top_over_tls_reconnects_and_refuses_another_cluster(cluster, top,
                                                             tmp_path):
    """encore-top with the pinned token against --plaintext off: it shows
    the cluster, reconnects over TLS after the main node restarts, and
    exits 3 naming both hashes when another cluster's main node takes the
    port."""
    from test_tui import EXIT_MARK
    cluster.start_main("--plaintext", "off", heartbeat=5)
    w = FakeWorker(cluster, "tls-dev", tls=True)
    top.start(cluster, cols=160, lines=30)
    top.wait_text("tls-dev", "devices 1/1 online")
    w.close()
    cluster.main.kill9()
    cluster.start_main("--plaintext", "off", heartbeat=5)
    cluster.cli("submit", "--name", "after-restart", "--", "true",
                check=True)
    # Only a new session, over TLS, learns of the new task.
    top.wait_text("1 queued", timeout=30)
    mine_pin = pin_of(os.path.join(cluster.state, "ca.crt"))
    cluster.main.stop()
    other = str(tmp_path / "other-cluster")
    p = Proc([binpath("encore-main"), "--listen",
              "127.0.0.1:%d" % cluster.port, "--state-dir", other],
             str(tmp_path / "other-main.log"))
    cluster.procs.append(p)
    s = top.wait_text(EXIT_MARK, timeout=40)
    flat = "".join(s.split())
    other_pin = pin_of(os.path.join(other, "ca.crt"))
    assert EXIT_MARK + "3" in flat, s
    assert mine_pin in flat and other_pin in flat, s
    assert "nothingsecretwassent" in flat, s


def test_top_with_another_clusters_token_exits_3(cluster, top, tmp_path):
    """The first connection checks the pin too: exit 3 before the screen
    is taken, both hashes named."""
    from test_tui import EXIT_MARK
    cluster.start_main("--plaintext", "off")
    other, other_state = other_cluster_token(tmp_path)
    top.start_at("127.0.0.1:%d" % cluster.port, other, cols=200)
    s = top.wait_text(EXIT_MARK, timeout=20)
    flat = "".join(s.split())
    assert EXIT_MARK + "3" in flat, s
    assert pin_of(os.path.join(other_state, "ca.crt")) in flat
    assert pin_of(os.path.join(cluster.state, "ca.crt")) in flat
