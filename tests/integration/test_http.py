# SPDX-License-Identifier: ISC
"""The cluster port as the tools people already run see it.

Focus of this file: a real Prometheus server (Debian's prometheus, started
here on a loopback port with its own data directory) scraping
encore-main's /metrics, promtool checking that exposition, a script's
requests (http.client) creating a task with the operator token and
refused without it, the events stream reporting its completion, and a
request flood and a slowloris on the port while a JSON session and the
text export keep answering.  README, "Web dashboard and Prometheus".
"""

import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Proc, free_port, wait_for

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def req(port, method, path, body=None, token=None):
    """One request on a fresh connection: (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        body = json.dumps(body)
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, out


def metrics(port):
    st, h, out = req(port, "GET", "/metrics")
    assert st == 200, out
    assert h["content-type"].startswith("text/plain; version=0.0.4"), h
    return out.decode()


def sample(text, line_start):
    """The value of the sample whose line starts with line_start."""
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def promtool_check(text):
    if not os.access(PROMTOOL, os.X_OK):
        pytest.skip("promtool is not installed (Debian's prometheus; make "
                    "test installs it via packaging/deps.sh)")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        "promtool: %s%s" % (r.stdout, r.stderr)


def start(cluster, *ids):
    cluster.start_main()
    for i in ids:
        cluster.start_worker(i)
    for i in ids:
        cluster.wait_state(i, "online")


def test_prometheus_scrapes_the_main_node(cluster, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus is not installed (Debian's prometheus; make "
                    "test installs it via packaging/deps.sh)")
    start(cluster, "w1", "w2")
    port = free_port()
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: encore\n"
        "    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % cluster.port)
    prom = Proc([PROMETHEUS, "--config.file=%s" % conf,
                 "--storage.tsdb.path=%s" % (tmp_path / "prom-data"),
                 "--web.listen-address=127.0.0.1:%d" % port,
                 "--log.level=warn"], str(tmp_path / "prometheus.log"))
    cluster.procs.append(prom)

    def query(q):
        if not prom.alive():
            raise AssertionError("prometheus exited:\n" + prom.output())
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            port, urllib.parse.urlencode({"query": q}))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                d = json.load(r)
        except OSError:
            return None
        assert d["status"] == "success", d
        return {tuple(sorted(s["metric"].items())): float(s["value"][1])
                for s in d["data"]["result"]}

    up = wait_for(lambda: query('up{job="encore"}') or None, 60, interval=0.5,
                  what="prometheus to scrape encore-main")
    assert list(up.values()) == [1.0], up
    # A per-device gauge of each worker, as Prometheus stored it.
    devs = wait_for(lambda: (lambda r: r if r and len(r) == 2 else None)(
        query('encore_device_up{job="encore"}')), 30, interval=0.5,
        what="encore_device_up of both workers")
    assert sorted(dict(k)["device"] for k in devs) == ["w1", "w2"]
    assert set(devs.values()) == {1.0}
    cpu = query("encore_device_cpu_percent")
    assert sorted(dict(k)["device"] for k in cpu) == ["w1", "w2"], cpu
    # Prometheus's own verdict on the exposition: no sample was dropped.
    bad = query("scrape_samples_post_metric_relabeling - scrape_samples_scraped")
    assert set(bad.values()) == {0.0}, bad


def test_metrics_pass_promtool_and_count_what_happens(cluster):
    start(cluster, "w1", "w2")
    tok = cluster.operator_token
    for prio in ("high", "high", "low"):
        st, _, out = req(cluster.port, "POST", "/api/v1/tasks",
                         {"command": ["true"], "priority": prio,
                          "requirements": {"device": "nowhere"}}, token=tok)
        assert st == 201, out
    # A worker's first heartbeat brings its figures.
    text = wait_for(lambda: (lambda t: t if sample(
        t, 'encore_device_cpu_percent{device="w1"}') is not None else None)(
        metrics(cluster.port)), 15, what="w1's first heartbeat in /metrics")
    promtool_check(text)
    # The same exposition answers the `metrics` text command.
    promtool_check(cluster.text("metrics"))
    for name in ("encore_device_up", "encore_device_cpu_percent",
                 "encore_device_memory_percent", "encore_device_running_tasks",
                 "encore_device_slots"):
        assert sample(text, '%s{device="w1"}' % name) is not None, name
    assert sample(text, 'encore_device_up{device="w2"}') == 1
    assert sample(text, 'encore_device_state{device="w1",state="online"}') == 1
    assert sample(text, 'encore_queue_depth{priority="high"}') == 2
    assert sample(text, 'encore_queue_depth{priority="low"}') == 1
    assert sample(text, 'encore_queue_depth{priority="urgent"}') == 0
    assert sample(text, 'encore_tasks{state="queued"}') == 3
    for st in ("queued", "assigned", "running", "completed", "failed",
               "timed_out", "cancelled", "waiting", "held"):
        assert sample(text, 'encore_tasks{state="%s"}' % st) is not None, st
    for name in ("encore_tasks_finished_total", "encore_queue_depth",
                 "encore_scheduler_pass_seconds", "encore_device_up",
                 "encore_file_bytes_sent_total",
                 "encore_file_bytes_received_total"):
        assert "# HELP %s " % name in text and "# TYPE %s " % name in text, name

    # A worker that goes away is down, not gone.
    cluster.workers["w2"].stop()
    wait_for(lambda: sample(metrics(cluster.port),
                            'encore_device_up{device="w2"}') == 0, 20,
             what="w2 down in /metrics")


def test_counters_fed_by_the_main_node(cluster):
    """Task ends and scheduler passes reach the counters (task.c calls
    metrics_task_finished, queue.c metrics_pass_time)."""
    start(cluster, "w1")
    tok = cluster.operator_token
    ids = []
    for argv in (["true"], ["false"]):
        st, _, out = req(cluster.port, "POST", "/api/v1/tasks",
                         {"command": argv}, token=tok)
        assert st == 201, out
        ids.append(json.loads(out)["id"])
    # The two run side by side: either may end first.
    def both_counted():
        t = metrics(cluster.port)
        ended = sum(sample(t, 'encore_tasks_finished_total{state="%s"}' % st)
                    or 0 for st in ("failed", "completed"))
        return t if ended >= 2 else None
    text = wait_for(both_counted, 20, what="both tasks counted")
    assert sample(text, 'encore_tasks_finished_total{state="failed"}') == 1
    assert sample(text, 'encore_tasks_finished_total{state="completed"}') == 1
    assert sample(text, 'encore_tasks_finished_total{state="cancelled"}') == 0
    assert sample(text, "encore_scheduler_pass_seconds_count") >= 1
    assert sample(text, 'encore_scheduler_pass_seconds_bucket{le="+Inf"}') == \
        sample(text, "encore_scheduler_pass_seconds_count")
    promtool_check(text)


def read_events(sock, buf, until, timeout):
    """Read SSE blocks from sock until until(event, data) is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            ev, data = None, []
            for line in block.decode().splitlines():
                if line.startswith("event:"):
                    ev = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
            if ev and data and until(ev, json.loads("\n".join(data))):
                return buf
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        assert chunk, "the events stream closed"
        buf += chunk
    raise AssertionError("no matching event within %ss" % timeout)


def test_create_with_the_token_refused_without_and_completion_event(cluster):
    start(cluster, "w1")
    tok = cluster.operator_token
    spec = {"command": ["sh", "-c", "echo from-http"], "name": "via-http"}
    st, h, out = req(cluster.port, "POST", "/api/v1/tasks", spec)
    assert st == 401, out
    assert json.loads(out)["error"]["code"] == "unauthorized"
    st, _, out = req(cluster.port, "POST", "/api/v1/tasks", spec, token="x" * 64)
    assert st == 401, out
    st, _, out = req(cluster.port, "GET", "/api/v1/events")
    assert st == 401, out
    # Nothing was created by the refused requests.
    st, _, out = req(cluster.port, "GET", "/api/v1/tasks?all=1")
    assert st == 200 and json.loads(out) == [], out

    s = socket.create_connection(("127.0.0.1", cluster.port), 10)
    s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAccept: "
               "text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n" % tok).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk
        head += chunk
    head, buf = head.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"text/event-stream" in head.lower()

    st, h, out = req(cluster.port, "POST", "/api/v1/tasks", spec, token=tok)
    assert st == 201, out
    tid = json.loads(out)["id"]
    assert json.loads(out)["state"] in ("queued", "assigned", "running")
    read_events(s, buf, lambda ev, d: ev == "task" and d.get("id") == tid and
                d.get("state") == "completed", 20)
    s.close()
    st, _, out = req(cluster.port, "GET", "/api/v1/tasks/%s/logs" % tid, token=tok)
    assert st == 200, out
    assert "from-http" in json.loads(out)["output"]
    st, _, out = req(cluster.port, "GET", "/api/v1/tasks/%s/logs" % tid)
    assert st == 401, out


def test_flood_and_slowloris_leave_json_and_text_answering(cluster):
    cluster.start_main("--auth-timeout", "3")
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    stop = threading.Event()
    errors = []

    def slowloris():
        """20 connections each sending a request head a byte at a time."""
        socks = []
        try:
            for _ in range(20):
                socks.append(socket.create_connection(("127.0.0.1", cluster.port), 5))
            head = b"GET /api/v1/devices HTTP/1.1\r\nHost: x\r\nX-Slow: "
            for i in range(60):          # at most ~6 s
                if stop.is_set():
                    break
                for s in socks:
                    try:
                        s.send(head[i:i + 1] if i < len(head) else b"a")
                    except OSError:
                        pass
                time.sleep(0.1)
        finally:
            for s in socks:
                s.close()

    def flood(n):
        """Pipelined requests on one connection, none of the answers read."""
        try:
            s = socket.create_connection(("127.0.0.1", cluster.port), 5)
            s.settimeout(5)
            one = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            for _ in range(n):
                if stop.is_set():
                    break
                s.sendall(one * 50)
        except OSError:
            pass            # cut off by the output cap: as it should
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=slowloris)]
    threads += [threading.Thread(target=flood, args=(40,)) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        worst = 0.0
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            r = op.request("status")
            assert r["data"]["ok"] is True, r
            assert "devices_total:" in cluster.text("status")
            st, _, _ = req(cluster.port, "GET", "/healthz")
            assert st == 200
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.1)
        print("worst JSON + text + healthz round trip under load: %.3fs" % worst)
        assert worst < 3.0
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert cluster.main.alive()
    assert cluster.device_state("w1") == "online"
    op.close()
