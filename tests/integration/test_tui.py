# SPDX-License-Identifier: ISC
"""encore-top, the ncurses dashboard, driven in tmux against a real cluster.

Focus: README, encore-top.  Each test runs encore-top in its own
tmux server (`tmux -L <unique socket>`, a detached session of a fixed
size), types with `send-keys` and reads the screen with `capture-pane -p`:
devices appear, a killed worker turns offline, `a` approves and `d` drains
(checked against the main node's own text export), a task's output shows
in the detail pane, the layout survives a resize to 80x24, and every way
out (q, SIGTERM) leaves the terminal as it found it.  The tmux server is
always killed, and every wait is bounded.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from conftest import binpath, wait_for
from fake_main import FakeMain, Pager

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed (packaging/deps.sh)"),
    pytest.mark.skipif(not os.path.exists(binpath("encore-top")),
                       reason="encore-top is not built"),
]

EXIT_MARK = "encore-top-exited="
ASAN = bool(os.environ.get("ENCORE_ASAN"))


class Tmux:
    """One private tmux server running encore-top in a detached session."""

    def __init__(self, tmp):
        self.sock = "encore-tui-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
        self.tmp = str(tmp)

    def run(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] +
                           list(args), capture_output=True, text=True,
                           timeout=10)
        if check:
            assert r.returncode == 0, "tmux %s: %s" % (args, r.stderr)
        return r

    def start(self, cluster, cols=100, lines=30, env=None, args=""):
        """Start encore-top; after it exits the pane prints its status and
        whether the tty settings came back as they were."""
        self.start_at("127.0.0.1:%d" % cluster.port, cluster.operator_token,
                      cols, lines, env, args)

    def start_at(self, addr, token, cols=100, lines=30, env=None, args=""):
        """start() against any main node (a fake one too)."""
        e = {"ENCORE_MAIN": addr,
             "ENCORE_TOKEN": token,
             "LANG": "C.UTF-8"}
        if os.environ.get("ENCORE_ASAN"):
            # Sanitizer reports go to files the fixture checks, not to
            # the pane.
            e["ASAN_OPTIONS"] = ("detect_leaks=1:log_path=%s"
                                 % os.path.join(self.tmp, "asan-top"))
            e["UBSAN_OPTIONS"] = ("print_stacktrace=1:halt_on_error=1:"
                                  "log_path=%s"
                                  % os.path.join(self.tmp, "ubsan-top"))
        e.update(env or {})
        assigns = " ".join("%s='%s'" % kv for kv in e.items())
        before = os.path.join(self.tmp, "stty.before")
        after = os.path.join(self.tmp, "stty.after")
        cmd = ("stty -g > %s; env %s %s %s; echo %s$?; stty -g > %s; "
               "sleep 600" % (before, assigns, binpath("encore-top"), args,
                              EXIT_MARK, after))
        self.run("new-session", "-d", "-x", str(cols), "-y", str(lines),
                 "sh", "-c", cmd)
        self.stty_files = (before, after)

    def screen(self):
        return self.run("capture-pane", "-p").stdout

    def keys(self, *keys):
        self.run("send-keys", *keys)

    def wait(self, pred, timeout=15, what="screen"):
        """Wait until pred(screen text) is true; return the screen."""
        last = {"s": ""}

        def check():
            last["s"] = self.screen()
            return pred(last["s"])
        try:
            wait_for(check, timeout, interval=0.1, what=what)
        except AssertionError:
            raise AssertionError("timed out waiting for %s; screen:\n%s"
                                 % (what, last["s"]))
        return last["s"]

    def wait_text(self, *texts, timeout=15):
        return self.wait(lambda s: all(t in s for t in texts), timeout,
                         what="%r on screen" % (texts,))

    def top_pid(self):
        """The pid of encore-top (the child of the pane's shell)."""
        shell = self.run("display-message", "-p", "#{pane_pid}").stdout.strip()
        r = subprocess.run(["pgrep", "-P", shell, "-f", "encore-top"],
                           capture_output=True, text=True)
        pids = r.stdout.split()
        return int(pids[0]) if pids else None

    def fmt(self, f):
        return self.run("display-message", "-p", f).stdout.strip()

    def kill(self):
        self.run("kill-server", check=False)


    def sanitizer_reports(self):
        out = []
        for name in sorted(os.listdir(self.tmp)):
            if name.startswith(("asan-top", "ubsan-top")):
                with open(os.path.join(self.tmp, name)) as f:
                    out.append(f.read())
        return "\n".join(out)


def two_workers(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.wait_state("w1", "online")
    cluster.wait_state("w2", "online")


def tile_state(screen, dev):
    """The state word in the tile of dev (the line under its title)."""
    lines = screen.splitlines()
    for y, line in enumerate(lines):
        for m in re.finditer(r"[^\w-]%s[ ]" % re.escape(dev), line):
            if y + 1 < len(lines):
                below = lines[y + 1][m.start():m.start() + 20]
                w = re.search(r"(online|busy|paused|offline|pending|"
                              r"draining)", below)
                if w:
                    return w.group(1)
    return None


def assert_exited_sane(top, code=0):
    s = top.wait_text(EXIT_MARK, timeout=10)
    assert "%s%d" % (EXIT_MARK, code) in s, s
    assert top.fmt("#{alternate_on}") == "0", "still on the alternate screen"
    assert top.fmt("#{cursor_flag}") == "1", "cursor left hidden"
    before, after = top.stty_files
    wait_for(lambda: os.path.exists(after) and os.path.getsize(after) > 0,
             5, what="stty after exit")
    with open(before) as f, open(after) as g:
        assert f.read() == g.read(), "terminal modes not restored"


def test_both_devices_visible(cluster, top):
    two_workers(cluster)
    top.start(cluster)
    s = top.wait(lambda s: tile_state(s, "w1") == "online" and
                 tile_state(s, "w2") == "online", what="w1 and w2 online")
    assert "devices 2/2 online" in s
    assert "tasks 0 queued 0 running 0 failed" in s
    assert "cpu" in s and "mem" in s and "run 0/" in s


def test_killed_worker_turns_offline(cluster, top):
    cluster.start_main(heartbeat=1, offline_after=3)
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.wait_state("w1", "online")
    cluster.wait_state("w2", "online")
    top.start(cluster)
    top.wait(lambda s: tile_state(s, "w2") == "online", what="w2 online")
    cluster.workers["w2"].kill9()
    s = top.wait(lambda s: tile_state(s, "w2") == "offline", timeout=20,
                 what="w2 offline on screen")
    assert tile_state(s, "w1") == "online"
    assert "devices 1/2 online" in s
    assert re.search(r"seen \d+s ago", s), s


def test_approve_and_drain_keys(cluster, top):
    cluster.start_main(approve="manual")
    cluster.start_worker("w1")
    cluster.wait_state("w1", "pending")
    top.start(cluster)
    top.wait(lambda s: tile_state(s, "w1") == "pending", what="w1 pending")
    top.keys("a")
    cluster.wait_state("w1", "online")
    top.wait(lambda s: tile_state(s, "w1") == "online" and
             "approve w1: ok" in s, what="w1 approved on screen")

    top.keys("d")
    cluster.wait_state("w1", "draining")
    top.wait(lambda s: tile_state(s, "w1") == "draining" and
             "drain w1: ok" in s, what="w1 draining on screen")

    top.keys("d")
    cluster.wait_state("w1", "online")
    top.wait(lambda s: tile_state(s, "w1") == "online" and
             "undrain w1: ok" in s, what="w1 undrained on screen")


def test_task_output_in_detail_pane(cluster, top):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    top.start(cluster)
    top.wait_text("devices 1/1 online")
    with cluster.operator() as op:
        r = op.request("submit", {"task": {
            "name": "marker",
            "command": ["sh", "-c", "echo tui-marker; sleep 2"]}})
        assert r["data"]["ok"], r
        tid = r["data"]["task_id"]
    top.keys("Tab")
    s = top.wait_text("task %s marker" % tid, "tui-marker", timeout=20)
    assert "running" in s or "completed" in s
    # It follows to the end: the pane says the output is complete.
    top.wait_text("output (complete)", "completed", timeout=20)
    # Enter gives the detail pane the whole screen, Enter again gives back.
    top.keys("Enter")
    s = top.wait_text("tui-marker")
    assert "tasks" not in s.splitlines()[1]
    top.keys("Enter")
    top.wait(lambda s: "tasks" in s and "w1" in s, what="panes back")


def select_task(top, tid):
    """Move the task pane's selection (it has the focus) onto task tid:
    from the first row down, until the detail pane's title names it."""
    top.keys("Home")
    for _ in range(20):
        screen = top.wait_text("tasks *")
        if re.search(r"─ task %s " % tid, screen):
            return
        was = re.search(r"─ task \S+ ", screen)
        top.keys("Down")
        top.wait(lambda s: was is None or was.group(0) not in s,
                 what="the selection to move")
    raise AssertionError("task %s never selected:\n%s" % (tid, top.screen()))


def test_why_waiting_held_and_arrays(cluster, top):
    """The detail pane says why a queued task does not run (get_task's
    why, wrapped); waiting and held tasks show their state as text; an
    array is one line of the task list, its counts in the detail pane."""
    cluster.start_main()
    cluster.start_worker("w1", "--slots", "2")
    cluster.wait_state("w1", "online")
    with cluster.operator() as op:
        never = op.request("submit", {"task": {
            "name": "never", "command": ["true"],
            "requirements": {"arch": "riscv64"}}})["data"]["task_id"]
        held = op.request("submit", {"task": {
            "name": "parked", "command": ["true"]},
            "hold": True})["data"]["task_id"]
        waits = op.request("submit", {"task": {
            "name": "merge", "command": ["true"]},
            "after": [never]})["data"]["task_id"]
        arr = op.request("submit", {"task": {
            "name": "sweep", "command": ["sleep", "30"]},
            "array": {"end": 9, "limit": 2}})["data"]["task_id"]
    top.start(cluster, cols=100, lines=30)
    top.wait_text("devices 1/1 online")
    top.keys("Tab")
    s = top.wait(lambda s: re.search(r"%s +held .*parked" % held, s) and
                 re.search(r"%s +waiting .*merge" % waits, s) and
                 re.search(r"%s +queued .*sweep \[arr" % arr, s) and
                 "2 running" in s,
                 timeout=20, what="held, waiting and the array listed")
    # The array is one line: none of its elements is listed (in the task
    # list, left of the detail pane: the load average may read "4.10").
    tasks_pane = "\n".join(line.split("││", 1)[0] for line in s.splitlines())
    assert not re.search(r"│ %s\.\d" % arr, tasks_pane), s
    # Select the task no device can run: why, in words, with counts.
    select_task(top, never)
    s = top.wait_text("task %s never" % never, "why: no device can run it",
                      timeout=15)
    # The detail pane's lines (right of the task list), joined.
    flat = " ".join(line.split("││", 1)[1].strip("│ ")
                    for line in s.splitlines() if "││" in line)
    assert ("why: no device can run it: 1 device excluded by arch=riscv64 "
            "(%s 1)" % os.uname().machine) in re.sub(r" +", " ", flat), s
    # The array's detail: its counts per state.
    select_task(top, arr)
    s = top.wait(lambda s: re.search(r"task %s sweep" % arr, s) and
                 "elements 2 running, 8 queued" in s, timeout=20,
                 what="the array's counts in the detail pane")
    assert "10 elements, 0-9 step 1, at most 2 running" in s, s
    assert all(len(line) <= 100 for line in s.splitlines())
    # Cancelled, it ends: gone from the list of tasks not ended.
    cluster.cli("cancel", arr, check=True)
    top.wait(lambda s: not re.search(r"│ %s +\w+ .*sweep" % arr, s),
             timeout=20, what="the cancelled array to leave the list")


def test_cancel_asks_first(cluster, top):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    top.start(cluster)
    top.wait_text("devices 1/1 online")
    with cluster.operator() as op:
        r = op.request("submit", {"task": {"command": ["sleep", "30"]}})
        tid = r["data"]["task_id"]
    top.keys("Tab")
    top.wait_text("task %s" % tid, "running", timeout=15)
    top.keys("c")
    top.wait_text("cancel task %s" % tid, "(y/n)")
    top.keys("n")
    top.wait_text("cancel %s: not sent" % tid)
    top.keys("c")
    top.wait_text("(y/n)")
    top.keys("y")
    top.wait_text("cancel %s: ok" % tid)
    with cluster.operator() as op:
        wait_for(lambda: op.request("get_task", {"task_id": tid})
                 ["data"]["task"]["state"] == "cancelled", 15,
                 what="task cancelled")
    # An action the main node refuses shows its answer in the status line.
    top.keys("f")
    top.wait_text("tasks (all)", "cancelled")
    top.keys("c")
    top.wait_text("(y/n)")
    top.keys("y")
    top.wait_text("cancel %s: conflict" % tid)


def test_resize_to_80x24_stays_readable(cluster, top):
    two_workers(cluster)
    top.start(cluster, cols=100, lines=30)
    top.wait(lambda s: tile_state(s, "w2") == "online", what="w2 online")
    top.run("resize-window", "-x", "80", "-y", "24")

    def readable(s):
        lines = s.rstrip("\n").split("\n")
        return (len(lines) <= 24 and "devices 2/2 online" in lines[0] and
                tile_state(s, "w1") == "online" and
                tile_state(s, "w2") == "online" and
                "q quit" in lines[-1] and
                all(len(x) <= 80 for x in lines))
    s = top.wait(readable, what="a readable 80x24 screen")
    assert "tasks" in s and "device w1" in s
    # Back to a wider screen, and the help overlay fits at 80x24 too.
    top.keys("?")
    top.wait_text("encore-top help", "quit")
    top.keys("x")
    top.wait(lambda s: "encore-top help" not in s, what="help closed")


def test_filter_and_no_colour(cluster, top):
    two_workers(cluster)
    top.start(cluster, env={"NO_COLOR": "1", "TERM": "vt100", "LANG": "C"})
    top.wait(lambda s: tile_state(s, "w1") == "online" and
             tile_state(s, "w2") == "online", what="both online, no colour")
    top.keys("/", "w", "2", "Enter")
    s = top.wait(lambda s: tile_state(s, "w1") is None and
                 tile_state(s, "w2") == "online", what="filter w2")
    assert "[/w2]" in s
    top.keys("Escape")
    top.wait(lambda s: tile_state(s, "w1") == "online", what="filter cleared")


def test_q_exits_and_terminal_is_sane(cluster, top):
    two_workers(cluster)
    top.start(cluster)
    top.wait_text("devices 2/2 online")
    top.keys("q")
    assert_exited_sane(top, 0)


def test_sigterm_restores_terminal(cluster, top):
    cluster.start_main()
    top.start(cluster)
    top.wait_text("encore-top", "connected to")
    pid = wait_for(top.top_pid, 5, what="encore-top pid")
    os.kill(pid, signal.SIGTERM)
    assert_exited_sane(top, 0)


def test_lost_connection_retries(cluster, top):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    top.start(cluster)
    top.wait_text("devices 1/1 online")
    cluster.main.stop()
    top.wait_text("disconnected, retrying", "DISCONNECTED", timeout=10)
    cluster.start_main()
    top.wait(lambda s: "connected to" in s and "DISCONNECTED" not in s and
             tile_state(s, "w1") in ("online", "offline"), timeout=30,
             what="reconnected")
    top.wait(lambda s: tile_state(s, "w1") == "online", timeout=30,
             what="w1 back online")


def test_refused_token_and_unreachable_exit_codes(cluster, tmp_path):
    def run(*args, env=None):
        e = dict(os.environ)
        e.pop("ENCORE_MAIN", None)
        e.pop("ENCORE_TOKEN", None)
        e["HOME"] = str(tmp_path)
        e["XDG_STATE_HOME"] = str(tmp_path / "nostate")
        e.update(env or {})
        return subprocess.run([binpath("encore-top")] + list(args), env=e,
                              capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)

    r = run("--help")
    assert r.returncode == 0 and "--main" in r.stdout and "q quit" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("encore-top ")
    r = run("--bogus")
    assert r.returncode == 2 and "unknown option" in r.stderr
    r = run("--main", "127.0.0.1:1")
    assert r.returncode == 2 and "no operator token" in r.stderr

    cluster.start_main()
    addr = "127.0.0.1:%d" % cluster.port
    r = run("--main", addr, "--token", "wrong")
    assert r.returncode == 1, r.stderr
    assert "unauthorized" in r.stderr and "token" in r.stderr
    cluster.main.stop()
    r = run("--main", addr, "--token", "x")
    assert r.returncode == 3, r.stderr
    assert "cannot reach the main node" in r.stderr
    r = run(env={"ENCORE_MAIN": addr, "ENCORE_TOKEN": "x"})
    assert r.returncode == 3


def test_500_devices_scroll_without_lag(cluster, top):
    swarm = binpath("encore-swarm")
    if not os.path.exists(swarm):
        pytest.skip("encore-swarm is not built (make %s)" % swarm)
    cluster.start_main()
    sw = subprocess.Popen(
        [swarm, "--main", "127.0.0.1:%d" % cluster.port, "--token-file",
         os.path.join(cluster.state, "join.token"), "--devices", "500",
         "--heartbeat-ms", "1000", "--hold", "40", "--duration", "50",
         "--prefix", "sim"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        wait_for(lambda: len(cluster.devices_csv()) >= 500, 30,
                 what="500 devices registered")
        top.start(cluster)
        top.wait_text("devices 500/500 online", timeout=20)
        pid = top.top_pid()
        t0 = time.monotonic()
        cpu0 = proc_cpu(pid)
        top.keys("G")
        s = top.wait_text("sim-00500", timeout=30)
        assert re.search(r"rows \d+-167/167", s), s
        top.keys("g")
        top.wait_text("sim-00001", timeout=30)
        # 500 devices heartbeating every second: a few seconds' watching
        # costs a fraction of one CPU.
        time.sleep(3)
        used = (proc_cpu(pid) - cpu0) / (time.monotonic() - t0)
        print("encore-top CPU with 500 devices: %.1f%%" % (used * 100))
        assert used < 0.5, "encore-top used %.0f%% CPU" % (used * 100)
        top.keys("/", "sim-0042", "Enter")
        s = top.wait_text("sim-00420", "sim-00428", "rows 1-3/4", timeout=30)
        assert "sim-00430" not in s and "sim-00419" not in s
        top.keys("G")
        top.wait_text("sim-00429", "rows 2-4/4", timeout=30)
    finally:
        os.killpg(sw.pid, signal.SIGKILL)
        sw.wait(timeout=10)


def proc_cpu(pid):
    """CPU seconds used by pid (user + system)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_80x24_shows_task_names_under_a_header(cluster, top):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    with cluster.operator() as op:
        for name in ("nightly-job", "backup-home"):
            r = op.request("submit", {"task": {
                "name": name, "command": ["sleep", "30"]}})
            assert r["data"]["ok"], r
    top.start(cluster, cols=80, lines=24)
    top.wait_text("devices 1/1 online")
    s = top.wait_text("nightly-job", "backup-home", timeout=15)
    lines = s.splitlines()
    head = [line for line in lines if re.search(r"ID +STATE .*NAME", line)]
    assert head, s
    # The names start where the NAME header does.
    col = head[0].index("NAME")
    assert any(line[col:].startswith("nightly-job") for line in lines), s
    assert all(len(line) <= 80 for line in lines)


def test_token_file(cluster, top, tmp_path):
    cluster.start_main()
    tf = tmp_path / "op.token"
    tf.write_text(cluster.operator_token + "\n")
    top.start_at("127.0.0.1:%d" % cluster.port, "",
                 args="--token-file %s" % tf)
    top.wait_text("connected to")
    r = subprocess.run([binpath("encore-top"), "--main",
                        "127.0.0.1:%d" % cluster.port, "--token-file",
                        str(tmp_path / "missing")], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert str(tmp_path / "missing") in r.stderr


# ---- against a main node that misbehaves (fake_main.py) ----

EVIL_DEVICE = {"id": "w\x1b[2J1", "hostname": "h", "state": "online",
               "arch": "x86_64", "platform": "linux", "cores": 2,
               "slots": 2, "running": 0}


def polite(conn, msg, devices=(EVIL_DEVICE,), tasks=()):
    """Answer what encore-top asks as a main node would."""
    t = msg["message_type"]
    if t == "subscribe":
        conn.reply(msg, {"ok": True})
    elif t == "list_devices":
        conn.reply(msg, {"ok": True, "devices": list(devices)})
    elif t == "list_tasks":
        conn.reply(msg, {"ok": True, "tasks": list(tasks)})
    elif t == "status":
        conn.reply(msg, {"ok": True, "status": {}})
    elif t == "logs":
        conn.reply(msg, {"ok": True, "task_id": msg["data"]["task_id"],
                         "state": "running", "output": "", "chunks": []})


def top_rss_mib(top):
    pid = top.top_pid()
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def test_names_are_escaped_on_screen(top):
    with FakeMain(polite) as fake:
        top.start_at(fake.addr, fake.token)
        s = top.wait_text("w\\x1b[2J1", "devices 1/1 online")
        assert "\x1b" not in s


def test_huge_line_is_refused_and_retried(top):
    pad = b"x" * (70 * 1024 * 1024)

    def handler(conn, msg):
        if msg["message_type"] == "list_devices":
            try:
                conn.send_raw(b'{"message_type":"reply","reply_to":"%s",'
                              b'"data":{"ok":true,"devices":[],"pad":"'
                              % msg["message_id"].encode() + pad + b'"}}\n')
            except OSError:
                pass
        else:
            polite(conn, msg)
    with FakeMain(handler) as fake:
        top.start_at(fake.addr, fake.token)
        top.wait_text("disconnected, retrying", "longer than 64 MiB",
                      timeout=30)
        rss = top_rss_mib(top)
        print("encore-top peak RSS after a 70 MB line: %.0f MiB" % rss)
        assert ASAN or rss < 256, rss     # ASan keeps freed memory


def test_endless_events_stay_bounded_and_time_out(top):
    """New tasks without end and never a reply: the model stops at its cap,
    the unanswered request times out, encore-top reconnects."""
    def handler(conn, msg):
        if msg["message_type"] != "list_tasks":
            polite(conn, msg)
            return
        i = 0
        try:
            while not conn.closed.is_set():
                batch = b"".join(
                    (json.dumps({"message_type": "event", "data": {
                        "topic": "tasks", "task": {
                            "id": str(i + k), "name": "flood",
                            "state": "queued", "priority": "normal"}}})
                     + "\n").encode() for k in range(1000))
                conn.send_raw(batch)
                i += 1000
        except OSError:
            pass
    with FakeMain(handler) as fake:
        top.start_at(fake.addr, fake.token, args="--request-timeout 3")
        s = top.wait_text("no answer from the main node within 3 s",
                          timeout=30)
        assert "disconnected" in s
        rss = top_rss_mib(top)
        print("encore-top peak RSS under an event flood: %.0f MiB" % rss)
        assert ASAN or rss < 128, rss


def test_dribbling_reply_times_out(top):
    def handler(conn, msg):
        if msg["message_type"] != "list_devices":
            polite(conn, msg)
            return
        try:
            for _ in range(600):
                if conn.closed.is_set():
                    return
                conn.send_raw(b" ")
                time.sleep(0.1)
        except OSError:
            pass
    with FakeMain(handler) as fake:
        top.start_at(fake.addr, fake.token, args="--request-timeout 2")
        top.wait_text("no answer from the main node within 2 s",
                      "only part of a line came", timeout=20)


def test_silent_main_node_is_asked_and_left(top):
    """Nothing to say is fine; not answering the check is not."""
    state = {"mute": False, "probes": 0}

    def handler(conn, msg):
        if msg["message_type"] == "status":
            state["probes"] += 1
            if state["mute"]:
                return
        polite(conn, msg)
    with FakeMain(handler) as fake:
        top.start_at(fake.addr, fake.token, args="--request-timeout 2")
        top.wait_text("devices 1/1 online")
        wait_for(lambda: state["probes"] >= 3, 15, what="3 checks")
        assert "DISCONNECTED" not in top.screen()
        state["mute"] = True
        top.wait_text("no answer from the main node within 2 s",
                      timeout=15)


def test_task_list_is_paged(top):
    """The tasks not yet ended come page by page (limit/after) until the
    main node says there are no more (a fake: the real main node pages
    once its side lands)."""
    pager = Pager(2500, finished=300)

    def handler(conn, msg):
        if msg["message_type"] == "list_tasks":
            pager(conn, msg)
        else:
            polite(conn, msg)
    with FakeMain(handler) as fake:
        top.start_at(fake.addr, fake.token)
        top.wait_text("tasks 2500 queued")
        reqs = fake.seen("list_tasks")
    assert [r["data"].get("after") for r in reqs] == [None, "1000", "2000"]
    assert all(r["data"]["limit"] == 1000 and not r["data"].get("all")
               for r in reqs)
