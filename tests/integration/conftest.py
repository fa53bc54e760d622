# SPDX-License-Identifier: ISC
"""Shared fixtures: real encore processes on free loopback ports.

Each test gets its own temp directory, its own main node (its own SQLite
file) and, when it asks, real workers.  Binaries come from $ENCORE_BIN
(make test sets it), else ./bin.  Process logs are kept in the temp dir and
printed when a test fails.

Timing: a test waits for an event (a log line, a state in the text
export, a file) with wait_for, never for a fixed time, and every bound is
generous: the suite must pass on a 2-core machine kept busy by other
builds (`stress-ng --cpu 2` is how it is checked).  A bound is a guard
against a hang, not a performance assertion; a wait for something that
must NOT happen waits for a later event that shows it had its chance.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

import encore_client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("ENCORE_BIN", os.path.join(ROOT, "bin"))


def binpath(name):
    return os.path.join(BIN, name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=30.0, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                         % (timeout, what, last))


class Proc:
    """A started encore process with its log file."""

    def __init__(self, argv, log_path, env=None):
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env,
                                  start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.p.wait(timeout=10)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status."""
        if self.alive():
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Cluster:
    """A main node plus any number of workers, all on loopback."""

    def __init__(self, tmp):
        self.tmp = str(tmp)
        self.state = os.path.join(self.tmp, "main")
        self.port = None
        self.main = None
        self.workers = {}
        self.procs = []

    # ---- main node ----
    def start_main(self, *args, approve="auto", heartbeat=1, offline_after=None,
                   wait=True):
        if self.port is None:
            self.port = free_port()
        argv = [binpath("encore-main"), "--listen", "127.0.0.1:%d" % self.port,
                "--state-dir", self.state, "--approve", approve,
                "--heartbeat-interval", str(heartbeat), "--log-level", "debug"]
        if offline_after is not None:
            argv += ["--offline-after", str(offline_after)]
        argv += list(args)
        self.main = Proc(argv, os.path.join(self.tmp, "main.log"))
        self.procs.append(self.main)
        if wait:
            self.wait_listening()
        return self.main

    def wait_listening(self, timeout=30):
        def up():
            if not self.main.alive():
                raise AssertionError("encore-main exited:\n" + self.main.output())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, timeout, what="encore-main to listen")

    def token(self, name="join"):
        with open(os.path.join(self.state, name + ".token")) as f:
            return f.read().strip()

    @property
    def operator_token(self):
        return self.token("operator")

    def operator(self):
        return encore_client.operator(self.port, self.operator_token)

    def conn(self, **kw):
        return encore_client.Conn(self.port, **kw)

    def text(self, command):
        return encore_client.text_command(self.port, command)

    def devices_csv(self):
        """devices csv -> {id: row dict}."""
        import csv
        import io
        rows = csv.DictReader(io.StringIO(self.text("devices csv")))
        return {r["id"]: r for r in rows}

    def device_state(self, dev_id):
        row = self.devices_csv().get(dev_id)
        return row["state"] if row else None

    def wait_state(self, dev_id, state, timeout=30):
        return wait_for(lambda: self.device_state(dev_id) == state, timeout,
                        what="device %s to be %s (now %s)" % (
                            dev_id, state, self.device_state(dev_id)))

    def conns(self):
        """(connections the main node has opened since its last start,
        addresses of those still open), from its debug log: conn_open,
        then conn_eof / conn_close / conn_slow_reader."""
        out = self.main.output()
        out = out[out.rfind("event=started"):]
        state, opened = {}, 0
        for m in re.finditer(r"event=conn_(open|eof|close|slow_reader) "
                             r"addr=(\S+)", out):
            state[m.group(2)] = m.group(1) == "open"
            opened += m.group(1) == "open"
        return opened, {a for a, is_open in state.items() if is_open}

    def wait_conns(self, n, opened, timeout=30):
        """Wait until the main node has accepted `opened` connections in
        all and has n of them open: it counts a connection from when it
        accepts it (not when we connect) until it has seen the close (not
        when we close)."""
        return wait_for(lambda: (lambda o, a: o >= opened and len(a) == n)(
            *self.conns()), timeout,
            what="%d of %d connections open at the main node (now: %s)"
            % (n, opened, self.conns()))

    # ---- workers ----
    def start_worker(self, dev_id, *args, runtime="none", token_file=None,
                     env=None):
        wdir = os.path.join(self.tmp, "w-" + dev_id)
        os.makedirs(wdir, exist_ok=True)
        argv = [binpath("encore-worker"), "--main", "127.0.0.1:%d" % self.port,
                "--id", dev_id, "--state-dir", wdir, "--runtime", runtime,
                "--log-level", "debug"]
        if token_file is not False:
            argv += ["--token-file", token_file or os.path.join(self.state, "join.token")]
        argv += list(args)
        p = Proc(argv, os.path.join(self.tmp, "worker-%s.log" % dev_id), env=env)
        self.workers[dev_id] = p
        self.procs.append(p)
        return p

    def cli(self, *args, check=False, timeout=30, env=None, input=None):
        """Run the `encore` CLI against this main node."""
        e = dict(os.environ)
        e.pop("ENCORE_MAIN", None)
        e.pop("ENCORE_TOKEN", None)
        e["ENCORE_MAIN"] = "127.0.0.1:%d" % self.port
        e["ENCORE_TOKEN"] = self.operator_token
        if env:
            e.update(env)
        r = subprocess.run([binpath("encore")] + list(args), env=e, input=input,
                           capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, "encore %s -> %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr)
        return r

    def stop_all(self):
        for p in reversed(self.procs):
            if p.alive():
                p.stop()
            elif not p.log.closed:
                p.log.close()

    def logs(self):
        out = []
        for p in self.procs:
            out.append("==== %s\n%s" % (" ".join(p.argv), p.output()))
        return "\n".join(out)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def cluster(tmp_path, request):
    c = Cluster(tmp_path)
    yield c
    c.stop_all()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(c.logs()[-20000:])
    # Under ASan, any of our processes that leaked or hit UB fails the test.
    if os.environ.get("ENCORE_ASAN"):
        for p in c.procs:
            out = p.output()
            assert "Sanitizer" not in out, out[-5000:]
            assert "runtime error:" not in out, out[-5000:]


@pytest.fixture
def lan():
    """Two non-loopback addresses of this host, on a veth pair of our own."""
    name = "encl%d" % (os.getpid() % 100000)
    r = subprocess.run(["ip", "link", "add", name, "type", "veth", "peer",
                        "name", name + "p"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot create a veth pair for non-loopback peers "
                    "(needs root / CAP_NET_ADMIN): " + r.stderr.strip())
    try:
        for cmd in (["ip", "addr", "add", "10.250.0.1/32", "dev", name],
                    ["ip", "addr", "add", "10.250.0.2/32", "dev", name],
                    ["ip", "link", "set", name, "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        yield ("10.250.0.1", "10.250.0.2")
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True)


TEST_IMAGE = "localhost/encore-test:latest"


@pytest.fixture
def top(tmp_path):
    """encore-top in a tmux pane of its own (test_tui.Tmux); at the end the
    pane goes, encore-top is waited for, and any sanitizer report it wrote
    fails the test."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (packaging/deps.sh)")
    from test_tui import Tmux
    t = Tmux(tmp_path)
    pid = None
    try:
        yield t
    finally:
        try:
            pid = t.top_pid()
        except AssertionError:
            pid = None
        t.kill()
        if pid is not None:
            # SIGHUP from the dying pane ends it; it then frees everything.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and os.path.exists(
                    "/proc/%d" % pid):
                time.sleep(0.05)
    reports = t.sanitizer_reports()
    assert reports == "", "encore-top sanitizer report:\n" + reports


@pytest.fixture(scope="session")
def test_image():
    """A local busybox image for container tasks (no registry needed)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (make test installs it via packaging/deps.sh)")
    r = subprocess.run(["sh", os.path.join(ROOT, "packaging", "test-image.sh")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return TEST_IMAGE


@pytest.fixture
def podman_cluster(cluster, test_image):
    """A main node and one worker "c1" that runs container tasks."""
    r = subprocess.run(["podman", "run", "--rm", "--network=none", test_image,
                        "true"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip("podman cannot run containers here: %s" % r.stderr[-300:])
    cluster.start_main()
    cluster.start_worker("c1", runtime="podman")
    cluster.wait_state("c1", "online")
    return cluster
