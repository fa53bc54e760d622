# SPDX-License-Identifier: ISC
"""HTTP/1.1 on the cluster port: the first-byte rule, the JSON API,
errors, Server-Sent Events, and peers that misbehave.

Focus of this file: the HTTP server of encore-main (protocol/HTTP.md) as
seen by a plain HTTP client (Python's http.client and raw sockets) next to
JSON sessions and the text export on the same port.
"""

import http.client
import json
import socket
import time

from conftest import free_port, wait_for


def req(cluster, method, path, body=None, token=None, headers=None):
    """One request on a fresh connection; returns (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, dict(r.getheaders()), out


def js(out):
    return json.loads(out.decode())


def test_same_port_speaks_http_json_and_text(cluster):
    cluster.start_main()
    st, h, out = req(cluster, "GET", "/healthz")
    assert st == 200 and out == b"ok\n"
    assert cluster.operator().request("status")["data"]["ok"]
    assert "devices_total:" in cluster.text("status")
    st, h, out = req(cluster, "GET", "/api/v1/status")
    assert st == 200 and js(out)["devices_total"] == 0
    assert h["Content-Type"] == "application/json"


def test_listings_have_the_csv_columns(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    tid = op.request("submit", {"task": {"command": ["true"], "name": "n",
                     "requirements": {"arch": "none"}}})["data"]["task_id"]
    st, _, out = req(cluster, "GET", "/api/v1/devices")
    rows = js(out)
    assert st == 200 and [r["id"] for r in rows] == ["w1"]
    for col in ("id", "hostname", "state", "arch", "platform", "cores",
                "mem_mb", "cpu_pct", "mem_pct", "load1", "temp_c",
                "battery_pct", "running", "slots", "last_seen_s"):
        assert col in rows[0], col
    assert isinstance(rows[0]["cores"], int)
    st, _, out = req(cluster, "GET", "/api/v1/tasks")
    t = js(out)[0]
    assert t["id"] == tid and t["state"] == "queued" and t["name"] == "n"
    st, _, out = req(cluster, "GET", "/api/v1/tasks?state=completed")
    assert js(out) == []
    st, _, out = req(cluster, "GET", "/api/v1/tasks?state=bogus")
    assert st == 400 and js(out)["error"]["code"] == "bad_field"


def test_operator_endpoints_need_the_token(cluster):
    cluster.start_main()
    tok = cluster.operator_token
    st, h, out = req(cluster, "POST", "/api/v1/tasks", {"command": ["true"]})
    assert st == 401 and js(out)["error"]["code"] == "unauthorized"
    st, _, out = req(cluster, "POST", "/api/v1/tasks", {"command": ["true"]},
                     token="wrong")
    assert st == 401
    st, _, out = req(cluster, "POST", "/api/v1/tasks",
                     {"command": ["echo", "hi"], "name": "h"}, token=tok)
    assert st == 201, out
    tid = js(out)["id"]
    st, _, out = req(cluster, "GET", "/api/v1/tasks/" + tid, token=tok)
    assert st == 200 and js(out)["id"] == tid and "attempts" in js(out)
    assert js(out)["why"]
    st, _, _ = req(cluster, "GET", "/api/v1/tasks/" + tid)
    assert st == 401
    st, _, out = req(cluster, "POST", "/api/v1/tasks/%s/cancel" % tid,
                     token=tok)
    assert st == 200 and js(out)["task"]["state"] == "cancelled"
    st, _, out = req(cluster, "POST", "/api/v1/tasks/%s/cancel" % tid,
                     token=tok)
    assert st == 409 and js(out)["error"]["code"] == "conflict"
    st, _, out = req(cluster, "GET", "/api/v1/tasks/999", token=tok)
    assert st == 404
    st, _, out = req(cluster, "POST", "/api/v1/devices/nope/drain", token=tok)
    assert st == 404


def test_bad_requests_get_clear_errors(cluster):
    cluster.start_main()
    tok = cluster.operator_token
    st, _, out = req(cluster, "POST", "/api/v1/tasks", "{nope", token=tok)
    assert st == 400 and js(out)["error"]["code"] == "bad_json"
    st, _, out = req(cluster, "POST", "/api/v1/tasks", {"command": "x"},
                     token=tok)
    assert st == 400 and "data.task.command" in js(out)["error"]["message"]
    st, _, out = req(cluster, "POST", "/api/v1/tasks",
                     "x" * 70000, token=tok)
    assert st == 413
    st, _, out = req(cluster, "GET", "/nope")
    assert st == 404
    st, _, out = req(cluster, "DELETE", "/api/v1/tasks")
    assert st == 405
    # Not HTTP/1.x, a header too large: refused and closed.
    for raw in (b"GET / HTTP/2.0\r\n\r\n",
                b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", cluster.port), 5) as s:
            s.sendall(raw)
            s.settimeout(5)
            got = s.recv(4096)
            assert got.startswith(b"HTTP/1.1 4"), got[:40]
    assert cluster.main.alive()


def test_keep_alive_and_pipelining(cluster):
    cluster.start_main()
    with socket.create_connection(("127.0.0.1", cluster.port), 5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3 +
                  b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        s.settimeout(5)
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    assert data.count(b"HTTP/1.1 200 OK") == 4


def test_events_stream_delivers_completion(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tok = cluster.operator_token
    s = socket.create_connection(("127.0.0.1", cluster.port), 10)
    s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n" % tok).encode())
    s.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"text/event-stream" in head
    st, _, out = req(cluster, "POST", "/api/v1/tasks",
                     {"command": ["echo", "done"]}, token=tok)
    tid = js(out)["id"]
    buf = head.split(b"\r\n\r\n", 1)[1]

    def completed():
        nonlocal buf
        try:
            buf += s.recv(65536)
        except socket.timeout:
            pass
        for block in buf.split(b"\n\n"):
            lines = block.decode(errors="replace").splitlines()
            if "event: task" in lines:
                data = json.loads([l for l in lines
                                   if l.startswith("data: ")][0][6:])
                if data["id"] == tid and data["state"] == "completed":
                    return True
        return False
    wait_for(completed, 20, what="the completion event")
    s.close()


def test_slowloris_and_flood_leave_others_answering(cluster):
    cluster.start_main("--auth-timeout", "2", "--max-conns-per-addr", "0")
    slow = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", cluster.port), 5)
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")  # no end
        slow.append(s)
    t0 = time.monotonic()
    for _ in range(200):
        st, _, _ = req(cluster, "GET", "/healthz")
        assert st == 200
    assert time.monotonic() - t0 < 30
    assert cluster.operator().request("status")["data"]["ok"]
    assert "devices_total:" in cluster.text("status")
    # The incomplete requests are closed by the auth timeout.
    for s in slow:
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except (socket.timeout, ConnectionResetError):
            data = b"timeout"
        assert data == b"", data[:40]
        s.close()


def test_text_export_off_closes_the_read_only_api(cluster):
    cluster.start_main("--text-export", "off")
    st, _, out = req(cluster, "GET", "/api/v1/devices")
    assert st == 403
    st, _, out = req(cluster, "GET", "/healthz")
    assert st == 200


def test_methods_a_path_does_not_take_are_405(cluster):
    cluster.start_main()
    tok = cluster.operator_token
    for method, path in (("DELETE", "/api/v1/tasks/1"),
                         ("PUT", "/api/v1/tasks/1/cancel"),
                         ("POST", "/api/v1/devices"),
                         ("GET", "/api/v1/devices/x/drain")):
        st, h, out = req(cluster, method, path, token=tok)
        assert st == 405, (method, path, st, out)
        assert "Allow" in h


def test_operator_token_in_plain_http_from_the_lan_is_refused(cluster, lan):
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
    body = json.dumps({"command": ["true"]}).encode()
    with socket.socket() as s:
        s.bind((b, 0))
        s.settimeout(10)
        s.connect((a, cluster.port))
        s.sendall(b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + cluster.operator_token.encode() +
                  b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(body) + body)
        data = s.makefile("rb").read()
    assert data.startswith(b"HTTP/1.1 403"), data[:60]
    assert b"https" in data
    # Read-only listings need no token and stay open to the LAN.
    with socket.socket() as s:
        s.bind((b, 0))
        s.settimeout(10)
        s.connect((a, cluster.port))
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        data = s.makefile("rb").read()
    assert data.startswith(b"HTTP/1.1 200"), data[:60]
