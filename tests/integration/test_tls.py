# SPDX-License-Identifier: ISC
"""TLS on the cluster port: the main node's own CA and server certificate,
pinned tokens, the first-byte rule inside TLS, --plaintext, rotation.

Focus of this file: the main node's side, seen by `openssl s_client` and
Python's ssl module (which check the chain against the state dir's
ca.crt); the worker's and the CLI's TLS are tested in test_tls_clients.py.
"""

import hashlib
import json
import os
import socket
import ssl
import stat
import subprocess

from conftest import free_port, wait_for
from test_main_node import register


def pin_of(path):
    """SHA-256 of a PEM certificate's DER, in hex."""
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def tls_context(cluster):
    ctx = ssl.create_default_context(cafile=os.path.join(cluster.state,
                                                         "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls_conn(cluster, server_name="localhost"):
    raw = socket.create_connection(("127.0.0.1", cluster.port), 10)
    return tls_context(cluster).wrap_socket(raw, server_hostname=server_name)


def json_request(sock, msg):
    sock.sendall((json.dumps(msg) + "\n").encode())
    buf = b""
    while b"\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise AssertionError("closed: %r" % buf)
        buf += b
    return json.loads(buf.split(b"\n", 1)[0])


def test_first_start_makes_ca_certificate_and_pinned_tokens(cluster):
    cluster.start_main()
    st = cluster.state
    for name, mode in (("ca.key", 0o600), ("server.key", 0o600),
                       ("join.token", 0o600), ("operator.token", 0o600)):
        assert stat.S_IMODE(os.stat(os.path.join(st, name)).st_mode) == mode
    assert stat.S_IMODE(os.stat(st).st_mode) == 0o700
    pin = pin_of(os.path.join(st, "ca.crt"))
    for tok in ("join", "operator"):
        t = cluster.token(tok)
        assert t.startswith("ENC1:%s:" % pin), t[:80]
        assert len(t.split(":")[2]) >= 32
    # No key material or secret in the log.
    out = cluster.main.output()
    assert "PRIVATE KEY" not in out
    assert cluster.token("join").split(":")[2] not in out


def test_openssl_s_client_verifies_the_chain_against_the_pin(cluster):
    cluster.start_main()
    ca = os.path.join(cluster.state, "ca.crt")
    r = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % cluster.port, "-CAfile", ca,
                        "-verify_return_error", "-showcerts", "-brief"],
                       input=b"status\n", capture_output=True, timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "Verification: OK" in err, err
    assert "Protocol version: TLSv1." in err
    assert err.split("Protocol version: TLSv1.")[1][0] in "23"
    # The chain the server sends ends in the CA the tokens pin.
    r = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % cluster.port, "-showcerts"],
                       input=b"", capture_output=True, timeout=20)
    pems = []
    for part in r.stdout.decode().split("-----BEGIN CERTIFICATE-----")[1:]:
        pems.append("-----BEGIN CERTIFICATE-----" +
                    part.split("-----END CERTIFICATE-----")[0] +
                    "-----END CERTIFICATE-----\n")
    pins = [hashlib.sha256(ssl.PEM_cert_to_DER_cert(p)).hexdigest()
            for p in pems]
    assert pin_of(ca) in pins, pins
    assert cluster.token("join").split(":")[1] in pins


def test_json_http_and_text_inside_tls(cluster):
    cluster.start_main()
    with tls_conn(cluster) as s:
        r = json_request(s, {"message_type": "auth", "message_id": "1",
                             "data": {"token": cluster.operator_token}})
        assert r["data"]["ok"], r
        r = json_request(s, {"message_type": "status", "message_id": "2"})
        assert r["data"]["status"]["devices_total"] == 0
    with tls_conn(cluster) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok\n")
    # The certificate names 127.0.0.1 too.
    with tls_conn(cluster, server_name="127.0.0.1") as s:
        r = json_request(s, {"message_type": "auth", "message_id": "1",
                             "data": {"token": cluster.operator_token}})
        assert r["data"]["ok"]


def test_plaintext_off_refuses_json_but_not_tls_or_the_text_export(cluster):
    cluster.start_main("--plaintext", "off")
    c, r = register(cluster, "w1")
    assert r["message_type"] == "error" and r["data"]["code"] == "forbidden"
    assert "ENC1" in r["data"]["message"]
    assert c.is_closed()
    assert "devices_total:" in cluster.text("status")
    with tls_conn(cluster) as s:
        r = json_request(s, {"message_type": "auth", "message_id": "1",
                             "data": {"token": cluster.operator_token}})
        assert r["data"]["ok"]


def test_plaintext_local_refuses_json_from_the_lan(cluster, lan):
    a, b = lan
    cluster.port = free_port()
    cluster.start_main("--listen", "%s:%d" % (a, cluster.port), wait=False)

    def up():
        try:
            socket.create_connection((a, cluster.port), 1).close()
            return True
        except OSError:
            return False
    wait_for(up, 15, what="encore-main on %s" % a)
    with socket.socket() as s:
        s.bind((b, 0))
        s.settimeout(10)
        s.connect((a, cluster.port))
        s.sendall(b'{"message_type":"auth","data":{"token":"x"}}\n')
        r = json.loads(s.makefile().readline())
        assert r["data"]["code"] == "forbidden", r
    # The same over TLS from the LAN works.
    raw = socket.socket()
    raw.bind((b, 0))
    raw.settimeout(10)
    raw.connect((a, cluster.port))
    ctx = tls_context(cluster)
    ctx.check_hostname = False
    with ctx.wrap_socket(raw) as s:
        r = json_request(s, {"message_type": "auth", "message_id": "1",
                             "data": {"token": cluster.operator_token}})
        assert r["data"]["ok"]


def test_rotate_server_cert_keeps_ca_and_tokens(cluster):
    cluster.start_main()
    st = cluster.state
    ca = open(os.path.join(st, "ca.crt")).read()
    srv = open(os.path.join(st, "server.crt")).read()
    tokens = (cluster.token("join"), cluster.token("operator"))
    cluster.main.stop()
    from conftest import binpath
    r = subprocess.run([binpath("encore-main"), "--state-dir", st,
                        "--rotate-server-cert"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(st, "ca.crt")).read() == ca
    assert open(os.path.join(st, "server.crt")).read() != srv
    cluster.start_main()
    assert (cluster.token("join"), cluster.token("operator")) == tokens
    with tls_conn(cluster) as s:
        r = json_request(s, {"message_type": "auth", "message_id": "1",
                             "data": {"token": cluster.operator_token}})
        assert r["data"]["ok"]


def test_state_dir_from_before_tls_keeps_its_secrets(cluster):
    """Bare tokens of an older state dir are rewritten in the pinned form
    around the same secret, and a device holding the bare secret still
    joins."""
    os.makedirs(cluster.state, mode=0o700)
    for name, secret in (("join", "j" * 40), ("operator", "o" * 40)):
        with open(os.path.join(cluster.state, name + ".token"), "w") as f:
            f.write(secret + "\n")
    cluster.start_main()
    pin = pin_of(os.path.join(cluster.state, "ca.crt"))
    assert cluster.token("join") == "ENC1:%s:%s" % (pin, "j" * 40)
    assert cluster.token("operator") == "ENC1:%s:%s" % (pin, "o" * 40)
    c, ack = register(cluster, "old-device", token="j" * 40)
    assert ack["message_type"] == "register_ack", ack
    op_bare = cluster.conn()
    r = op_bare.request("auth", {"token": "o" * 40})
    assert r["data"]["ok"]


def test_a_tls_client_that_sends_nothing_is_closed(cluster):
    cluster.start_main("--auth-timeout", "2")
    raw = socket.create_connection(("127.0.0.1", cluster.port), 10)
    s = tls_context(cluster).wrap_socket(raw, server_hostname="localhost")
    s.settimeout(10)
    assert s.recv(100) == b""
    s.close()
    assert cluster.main.alive()
