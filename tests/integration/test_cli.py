# SPDX-License-Identifier: ISC
"""The `encore` operator CLI against a real main node.

Focus: README "Using it" (commands, options, ENCORE_MAIN / ENCORE_TOKEN and the
operator.token fallback, exit codes 0/1/2/3 and errors that say what to do
next) and protocol/PROTOCOL.md (the CSV columns of `devices --csv` and `ps --csv`).
Device admin runs against a device registered over a raw socket; tasks that
must actually run need encore-worker and are skipped without it.
"""

import csv
import io
import os
import pty
import re
import signal
import subprocess
import threading
import time
import unicodedata

import pytest

from conftest import binpath, free_port, wait_for
from fake_main import FakeMain, Pager, fake_task

DEVICE_COLUMNS = ("id,hostname,state,arch,platform,cores,mem_mb,cpu_pct,"
                  "mem_pct,load1,temp_c,battery_pct,running,slots,"
                  "last_seen_s").split(",")
TASK_COLUMNS = ("id,name,state,priority,device,attempt,exit_code,"
                "submitted_at,started_at,finished_at").split(",")
STATUS_KEYS = ["devices_total", "devices_online", "tasks_queued",
               "tasks_running", "tasks_completed", "tasks_failed",
               "uptime_s", "version"]

needs_worker = pytest.mark.skipif(
    not os.path.exists(binpath("encore-worker")),
    reason="encore-worker is not built yet (worker-node/); these tests run "
           "tasks on a real worker")


def run(*args, env=None, timeout=30):
    """Run the CLI without the cluster fixture's environment."""
    e = dict(os.environ)
    for k in ("ENCORE_MAIN", "ENCORE_TOKEN"):
        e.pop(k, None)
    if env:
        e.update(env)
    return subprocess.run([binpath("encore")] + list(args), env=e,
                          capture_output=True, text=True, timeout=timeout)


def cli_bytes(cluster, *args):
    """Run the CLI against cluster; stdout as bytes (no newline mangling)."""
    e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
             ENCORE_TOKEN=cluster.operator_token)
    r = subprocess.run([binpath("encore")] + list(args), env=e,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def parse_csv(text, columns):
    """RFC 4180 text (CRLF records) -> list of row dicts."""
    assert text.endswith("\r\n"), repr(text)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == columns, rows[0]
    return [dict(zip(columns, r)) for r in rows[1:]]


def cli_devices(cluster):
    out = cli_bytes(cluster, "devices", "--csv").decode()
    return {row["id"]: row for row in parse_csv(out, DEVICE_COLUMNS)}


def cli_tasks(cluster, *extra):
    out = cli_bytes(cluster, "ps", "--csv", *extra).decode()
    return {row["id"]: row for row in parse_csv(out, TASK_COLUMNS)}


def register(cluster, name):
    """Register a device over a raw socket; returns (conn, device_id)."""
    c = cluster.conn(sender=name)
    c.send("register", {
        "token": cluster.token("join"),
        "device_info": {"hostname": name, "platform": "linux",
                        "architecture": "x86_64"},
        "hardware_specs": {"cpu_cores": 2, "memory_total": 1073741824},
        "capabilities": ["command"]})
    ack = c.recv_until(lambda m: m.get("message_type") in
                       ("register_ack", "error"))
    assert ack["message_type"] == "register_ack", ack
    return c, ack["data"]["device_id"]


# ---- without a main node ----

def test_help_lists_every_command_and_option():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for cmd in ("devices [--csv]", "approve ID", "reject ID", "drain ID",
                "undrain ID", "remove ID", "submit [options] -- ARGV...",
                "ps [--all] [--expand] [--csv]", "show ID",
                "logs [-f] [--raw] ID", "cancel ID", "status",
                "hold ID [--reason TEXT]", "release ID",
                "backup [--force] FILE"):
        assert cmd in out, cmd
    for opt in ("--main", "--token", "ENCORE_MAIN", "ENCORE_TOKEN",
                "--token-file", "ENCORE_TOKEN_FILE", "--request-timeout",
                "ENCORE_REQUEST_TIMEOUT", "operator.token", "--image",
                "--name", "--priority", "--cpus", "--memory", "--timeout",
                "--retries", "--arch", "--platform", "--label", "--env",
                "--device", "--wait", "--version", "--raw", "Ctrl-C",
                "130", "--array SPEC", "{index}", "ENCORE_ARRAY_INDEX",
                "--after ID", "--after-any ID", "--after-notok ID",
                "--hold", "--expand", "--force", "--reason TEXT",
                "ARRAY.INDEX", "warning:"):
        assert opt in out, opt
    assert all(len(line) <= 80 for line in out.splitlines())


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"encore \d+\.\d+\.\d+\n", r.stdout), r.stdout


def test_command_help_exits_0():
    r = run("submit", "--help")
    assert r.returncode == 0
    assert "usage: encore" in r.stdout and "--wait" in r.stdout


@pytest.mark.parametrize("args,usage", [
    ([], "COMMAND"),
    (["frobnicate"], "COMMAND"),
    (["--bogus", "devices"], "COMMAND"),
    (["--main"], "COMMAND"),
    (["devices", "--bogus"], "devices [--csv]"),
    (["devices", "extra"], "devices [--csv]"),
    (["approve"], "approve ID"),
    (["remove", "a", "b"], "remove ID"),
    (["ps", "--follow"], "ps [--all] [--expand] [--csv]"),
    (["ps", "--reason", "x"], "ps [--all] [--expand] [--csv]"),
    (["hold"], "hold ID [--reason TEXT]"),
    (["hold", "1", "--reason"], "hold ID [--reason TEXT]"),
    (["hold", "1", "--force"], "hold ID [--reason TEXT]"),
    (["release", "1", "--reason", "x"], "release ID"),
    (["release"], "release ID"),
    (["backup"], "backup [--force] FILE"),
    (["backup", "a", "b"], "backup [--force] FILE"),
    (["backup", "--expand", "x"], "backup [--force] FILE"),
    (["backup", "/"], "backup [--force] FILE"),
    (["submit", "--array", "0", "--", "true"], "submit [options]"),
    (["submit", "--array", "5-3", "--", "true"], "submit [options]"),
    (["submit", "--array", "1-9:0", "--", "true"], "submit [options]"),
    (["submit", "--array", "10%0", "--", "true"], "submit [options]"),
    (["submit", "--array", "2000000", "--", "true"], "submit [options]"),
    (["submit", "--array", "x", "--", "true"], "submit [options]"),
    (["submit", "--array"], "submit [options]"),
    (["submit", "--after", "1,,2", "--", "true"], "submit [options]"),
    (["submit", "--after-any", "", "--", "true"], "submit [options]"),
    (["submit", "--after-notok", "a b", "--", "true"], "submit [options]"),
    (["show"], "show ID"),
    (["logs", "-x", "1"], "logs [-f] [--raw] ID"),
    (["--request-timeout", "0", "status"], "COMMAND"),
    (["--token", "a", "--token-file", "b", "status"], "COMMAND"),
    (["cancel"], "cancel ID"),
    (["status", "now"], "status"),
    (["submit"], "submit [options] -- ARGV..."),
    (["submit", "--"], "submit [options] -- ARGV..."),
    (["submit", "--priority", "asap", "--", "true"], "submit [options]"),
    (["submit", "--cpus", "lots", "--", "true"], "submit [options]"),
    (["submit", "--memory", "-1", "--", "true"], "submit [options]"),
    (["submit", "--timeout", "soon", "--", "true"], "submit [options]"),
    (["submit", "--retries", "x", "--", "true"], "submit [options]"),
    (["submit", "--label", "nolabel", "--", "true"], "submit [options]"),
    (["submit", "--env", "1X=y", "--", "true"], "submit [options]"),
    (["submit", "--image"], "submit [options]"),
])
def test_usage_errors_exit_2(args, usage):
    # A usage error is found before any connection is tried.
    r = run(*args, env={"ENCORE_MAIN": "127.0.0.1:%d" % free_port(),
                        "ENCORE_TOKEN": "t"})
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("encore: ")
    assert "usage: encore" in r.stderr and usage in r.stderr, r.stderr
    assert "--help" in r.stderr


def test_unreachable_main_exits_3():
    port = free_port()
    r = run("devices", env={"ENCORE_MAIN": "127.0.0.1:%d" % port,
                            "ENCORE_TOKEN": "t"})
    assert r.returncode == 3, r.stderr
    assert r.stdout == ""
    assert ("cannot reach the main node at 127.0.0.1:%d: Connection refused"
            % port) in r.stderr
    assert "is encore-main running?" in r.stderr
    assert "--main" in r.stderr and "ENCORE_MAIN" in r.stderr


def test_main_flag_beats_env():
    port = free_port()
    r = run("--main", "127.0.0.1:%d" % port, "--token", "t", "status",
            env={"ENCORE_MAIN": "127.0.0.1:1"})
    assert r.returncode == 3
    assert "127.0.0.1:%d" % port in r.stderr


def test_no_token_anywhere_says_where_to_look(tmp_path):
    if os.access("/var/lib/encore/operator.token", os.R_OK):
        pytest.skip("this host has a main node's operator.token")
    r = run("status", env={"ENCORE_MAIN": "127.0.0.1:%d" % free_port(),
                           "XDG_STATE_HOME": str(tmp_path),
                           "HOME": str(tmp_path)})
    assert r.returncode == 2
    assert "--token" in r.stderr and "ENCORE_TOKEN" in r.stderr
    assert "operator.token" in r.stderr


# ---- against a main node ----

def test_wrong_token_exits_1_with_hint(cluster):
    cluster.start_main()
    r = cluster.cli("status", env={"ENCORE_TOKEN": "not-the-token"})
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert "(unauthorized)" in r.stderr
    assert "--token" in r.stderr and "ENCORE_TOKEN" in r.stderr
    assert "operator.token" in r.stderr
    assert "not-the-token" not in r.stderr


def test_token_flag_beats_env(cluster):
    cluster.start_main()
    r = cluster.cli("--token", cluster.operator_token, "status",
                    env={"ENCORE_TOKEN": "wrong"})
    assert r.returncode == 0, r.stderr
    r = cluster.cli("--token", "wrong", "status")
    assert r.returncode == 1


def test_token_from_local_state_dir(cluster, tmp_path):
    if os.access("/var/lib/encore/operator.token", os.R_OK):
        pytest.skip("this host has a main node's operator.token")
    cluster.start_main()
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    os.symlink(cluster.state, xdg / "encore")
    r = cluster.cli("status", env={"ENCORE_TOKEN": "",
                                   "XDG_STATE_HOME": str(xdg)})
    assert r.returncode == 0, r.stderr
    # ~/.local/state/encore when XDG_STATE_HOME is not set.
    home = tmp_path / "home"
    (home / ".local" / "state").mkdir(parents=True)
    os.symlink(cluster.state, home / ".local" / "state" / "encore")
    e = {"ENCORE_TOKEN": "", "HOME": str(home), "XDG_STATE_HOME": ""}
    r = cluster.cli("status", env=e)
    assert r.returncode == 0, r.stderr


def test_status_key_value_lines(cluster):
    cluster.start_main()
    r = cluster.cli("status", check=True)
    lines = r.stdout.splitlines()
    kv = dict(line.split(": ", 1) for line in lines)
    assert len(kv) == len(lines)
    for k in STATUS_KEYS:
        assert k in kv, (k, r.stdout)
    assert kv["devices_total"] == "0"
    assert kv["tasks_queued"] == "0"
    assert int(kv["uptime_s"]) >= 0
    assert kv["version"]


def test_empty_cluster_lists(cluster):
    cluster.start_main()
    out = cli_bytes(cluster, "devices", "--csv")
    assert out == (",".join(DEVICE_COLUMNS) + "\r\n").encode()
    out = cli_bytes(cluster, "ps", "--csv")
    assert out == (",".join(TASK_COLUMNS) + "\r\n").encode()
    out = cli_bytes(cluster, "ps", "--all", "--csv")
    assert out == (",".join(TASK_COLUMNS) + "\r\n").encode()
    r = cluster.cli("devices", check=True)
    assert r.stdout.split() == ["ID", "HOSTNAME", "STATE", "ARCH",
                                "PLATFORM", "CORES", "MEM", "CPU%", "MEM%",
                                "LOAD", "TEMP", "BATT", "TASKS", "SEEN"]
    r = cluster.cli("ps", check=True)
    assert r.stdout.split()[:3] == ["ID", "NAME", "STATE"]


def test_devices_csv_matches_text_export(cluster):
    cluster.start_main(approve="auto")
    conn, dev = register(cluster, "csv-dev")
    try:
        rows = cli_devices(cluster)
        assert dev in rows
        row = rows[dev]
        assert row["hostname"] == "csv-dev"
        assert row["arch"] == "x86_64"
        assert row["platform"] == "linux"
        assert row["cores"] == "2"
        assert row["mem_mb"] == "1024"
        assert row["state"] in ("online", "busy", "paused", "offline",
                                "pending", "draining", "")
        export = cluster.devices_csv()[dev]
        for col in ("id", "hostname", "arch", "platform", "cores", "mem_mb",
                    "slots"):
            assert row[col] == export[col], col
        human = cluster.cli("devices", check=True).stdout
        assert dev in human and "1.0G" in human
    finally:
        conn.close()


def test_device_admin_commands(cluster):
    cluster.start_main(approve="manual")
    conn, dev = register(cluster, "admin-dev")
    try:
        wait_for(lambda: cli_devices(cluster).get(dev, {}).get("state")
                 == "pending", what="device pending")

        r = cluster.cli("approve", dev, check=True)
        assert dev in r.stdout and "approved" in r.stdout
        wait_for(lambda: cli_devices(cluster)[dev]["state"] == "online",
                 what="device online after approve")
        assert cluster.device_state(dev) == "online"

        r = cluster.cli("drain", dev, check=True)
        assert dev in r.stdout
        wait_for(lambda: cli_devices(cluster)[dev]["state"] == "draining",
                 what="device draining")

        r = cluster.cli("undrain", dev, check=True)
        wait_for(lambda: cli_devices(cluster)[dev]["state"] == "online",
                 what="device online after undrain")

        r = cluster.cli("remove", dev, check=True)
        assert dev in r.stdout and "removed" in r.stdout
        wait_for(lambda: dev not in cli_devices(cluster),
                 what="device gone after remove")
    finally:
        conn.close()


def test_reject_pending_device(cluster):
    cluster.start_main(approve="manual")
    conn, dev = register(cluster, "reject-dev")
    try:
        r = cluster.cli("reject", dev, check=True)
        assert dev in r.stdout and "rejected" in r.stdout
        wait_for(lambda: cli_devices(cluster).get(dev, {}).get("state")
                 != "pending", what="device no longer pending")
    finally:
        conn.close()


def test_unknown_device_exits_1_with_hint(cluster):
    cluster.start_main()
    for cmd in ("approve", "reject", "drain", "undrain", "remove"):
        r = cluster.cli(cmd, "no-such-device")
        assert r.returncode == 1, (cmd, r.stdout, r.stderr)
        assert "(not_found)" in r.stderr, r.stderr
        assert "encore devices" in r.stderr


def test_unknown_task_exits_1_with_hint(cluster):
    cluster.start_main()
    for args in (("show", "999999"), ("logs", "999999"),
                 ("cancel", "999999")):
        r = cluster.cli(*args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "(not_found)" in r.stderr, r.stderr
        assert "encore ps --all" in r.stderr


def test_submit_queue_show_cancel_without_workers(cluster):
    cluster.start_main()
    r = cluster.cli("submit", "--name", "hello", "--priority", "high",
                    "--env", "GREETING=hi", "--label", "room=lab",
                    "--timeout", "60", "--retries", "1", "--cpus", "0.5",
                    "--memory", "64", "--", "echo", "hello world",
                    check=True)
    task_id = r.stdout.strip()
    assert r.stdout == task_id + "\n" and task_id, repr(r.stdout)

    tasks = cli_tasks(cluster)
    assert task_id in tasks
    t = tasks[task_id]
    assert t["name"] == "hello"
    assert t["state"] == "queued"
    assert t["priority"] == "high"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["submitted_at"])
    assert t["finished_at"] == ""

    r = cluster.cli("show", task_id, check=True)
    out = r.stdout
    assert re.search(r"^id:\s+%s$" % re.escape(task_id), out, re.M), out
    assert re.search(r"^state:\s+queued$", out, re.M), out
    assert "echo 'hello world'" in out
    assert "GREETING=hi" in out and "room=lab" in out
    assert re.search(r"^attempts:", out, re.M)

    r = cluster.cli("logs", task_id, check=True)
    assert r.stdout == ""

    r = cluster.cli("cancel", task_id, check=True)
    assert task_id in r.stdout
    assert task_id not in cli_tasks(cluster)
    done = cli_tasks(cluster, "--all")
    assert done[task_id]["state"] == "cancelled"
    human = cluster.cli("ps", "--all", check=True).stdout
    assert task_id in human and "cancelled" in human


def test_submit_wait_exits_125_when_cancelled(cluster):
    cluster.start_main()
    e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
             ENCORE_TOKEN=cluster.operator_token)
    p = subprocess.Popen([binpath("encore"), "submit", "--wait", "--",
                          "sleep", "100"], env=e, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        ids = wait_for(lambda: list(cli_tasks(cluster)), what="task queued")
        time.sleep(0.3)         # let it start following
        cluster.cli("cancel", ids[0], check=True)
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 125, (out, err)
    assert out == ""
    assert ids[0] in err


def test_logs_follow_ends_when_task_ends(cluster):
    cluster.start_main()
    task_id = cluster.cli("submit", "--", "true", check=True).stdout.strip()
    e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
             ENCORE_TOKEN=cluster.operator_token)
    p = subprocess.Popen([binpath("encore"), "logs", "-f", task_id], env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        time.sleep(0.5)
        assert p.poll() is None, p.communicate()
        cluster.cli("cancel", task_id, check=True)
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err


def test_main_node_going_away_exits_3(cluster):
    cluster.start_main()
    task_id = cluster.cli("submit", "--", "true", check=True).stdout.strip()
    e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
             ENCORE_TOKEN=cluster.operator_token)
    p = subprocess.Popen([binpath("encore"), "logs", "-f", task_id], env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        time.sleep(0.5)
        cluster.main.stop()
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 3, err
    assert "encore logs -f" in err or "retry" in err


# ---- with a real worker ----

def start_worker(cluster, name="w1"):
    cluster.start_worker(name)
    cluster.wait_state(name, "online")


@needs_worker
def test_submit_wait_streams_and_exits_with_code(cluster):
    cluster.start_main()
    start_worker(cluster)
    r = cluster.cli("submit", "--wait", "--", "sh", "-c",
                    "echo out; echo err >&2; exit 3", timeout=60)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "out\n"
    assert "err\n" in r.stderr

    r = cluster.cli("submit", "--wait", "--env", "X=42", "--", "sh", "-c",
                    "echo $X", timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "42\n"


@needs_worker
def test_submit_wait_timeout_exits_124(cluster):
    cluster.start_main()
    start_worker(cluster)
    r = cluster.cli("submit", "--wait", "--timeout", "1", "--", "sleep",
                    "30", timeout=60)
    assert r.returncode == 124, r.stderr


@needs_worker
def test_submit_wait_unstartable_exits_125(cluster):
    cluster.start_main()
    start_worker(cluster)
    r = cluster.cli("submit", "--wait", "--",
                    "/nonexistent/encore-no-such-program", timeout=60)
    assert r.returncode in (125, 127), r.stderr


@needs_worker
def test_logs_show_and_ps_after_a_run(cluster):
    cluster.start_main()
    start_worker(cluster)
    task_id = cluster.cli("submit", "--name", "printer", "--", "sh", "-c",
                          "echo line1; echo line2", check=True).stdout.strip()
    wait_for(lambda: cli_tasks(cluster, "--all")[task_id]["state"]
             == "completed", timeout=30, what="task completed")
    r = cluster.cli("logs", task_id, check=True)
    assert r.stdout == "line1\nline2\n"
    r = cluster.cli("logs", "-f", task_id, check=True, timeout=15)
    assert r.stdout == "line1\nline2\n"
    row = cli_tasks(cluster, "--all")[task_id]
    assert row["device"] == "w1" and row["exit_code"] == "0"
    assert row["attempt"] == "1"
    r = cluster.cli("show", task_id, check=True)
    assert re.search(r"^state:\s+completed$", r.stdout, re.M)
    assert re.search(r"^\s+1\s+w1\s+completed\s+0\s", r.stdout, re.M), \
        r.stdout


@needs_worker
def test_logs_follow_streams_live_output(cluster):
    cluster.start_main()
    start_worker(cluster)
    task_id = cluster.cli("submit", "--", "sh", "-c",
                          "echo start; sleep 2; echo end",
                          check=True).stdout.strip()
    r = cluster.cli("logs", "-f", task_id, check=True, timeout=30)
    assert r.stdout == "start\nend\n"


# ---- Ctrl-C on submit --wait ----

class Waiter:
    """`encore submit --wait` in the background, its stderr read as it
    comes."""

    def __init__(self, cluster, *argv):
        e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
                 ENCORE_TOKEN=cluster.operator_token)
        self.p = subprocess.Popen([binpath("encore"), "submit", "--wait",
                                   "--"] + list(argv), env=e,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.err = b""
        os.set_blocking(self.p.stderr.fileno(), False)

    def stderr(self):
        try:
            chunk = self.p.stderr.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self.err += chunk
        return self.err.decode(errors="replace")

    def wait_err(self, text, timeout=15):
        return wait_for(lambda: text in self.stderr() and self.stderr(),
                        timeout, what="%r on stderr" % text)

    def finish(self, timeout=15):
        try:
            self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        return self.p.returncode, self.stderr()


def test_ctrl_c_on_submit_wait_detaches_and_says_how_to_cancel(cluster):
    cluster.start_main()
    w = Waiter(cluster, "sleep", "100")
    err = w.wait_err("submitted task")
    task_id = re.search(r"submitted task (\S+)", err).group(1)
    w.p.send_signal(signal.SIGINT)
    err = w.wait_err("keeps running")
    assert "encore cancel %s" % task_id in err, err
    assert "Ctrl-C again" in err
    t0 = time.monotonic()
    rc, err = w.finish()
    # It waits the few seconds a second Ctrl-C has, then detaches.
    assert rc == 130, err
    assert 2 <= time.monotonic() - t0 < 10
    assert "detached from task %s" % task_id in err, err
    assert "encore logs -f %s" % task_id in err
    assert cli_tasks(cluster)[task_id]["state"] == "queued"


def test_second_ctrl_c_on_submit_wait_cancels(cluster):
    cluster.start_main()
    w = Waiter(cluster, "sleep", "100")
    err = w.wait_err("submitted task")
    task_id = re.search(r"submitted task (\S+)", err).group(1)
    w.p.send_signal(signal.SIGINT)
    w.wait_err("keeps running")
    w.p.send_signal(signal.SIGINT)
    rc, err = w.finish()
    assert "cancelling task %s" % task_id in err, err
    assert rc == 125, err
    assert cli_tasks(cluster, "--all")[task_id]["state"] == "cancelled"


# ---- paging (list_tasks limit/after; PROTOCOL.md section 7) ----

def fake_cli(fake, *args, timeout=30, text=True):
    e = dict(os.environ, ENCORE_MAIN=fake.addr, ENCORE_TOKEN=fake.token)
    return subprocess.run([binpath("encore")] + list(args), env=e,
                          capture_output=True, text=text, timeout=timeout)


def test_ps_shows_the_first_page_and_counts_the_rest():
    with FakeMain(Pager(2500)) as fake:
        r = fake_cli(fake, "ps")
        reqs = fake.seen("list_tasks")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "STATE"]
    assert len(lines) == 1 + 1000
    assert lines[-1].split()[0] == "1000"
    assert r.stderr == ("... and 1500 more (encore ps --all lists every "
                        "task)\n")
    assert len(reqs) == 1 and reqs[0]["data"]["limit"] == 1000


def test_ps_all_and_csv_page_through_every_task():
    with FakeMain(Pager(1500, finished=1200)) as fake:
        r = fake_cli(fake, "ps", "--all")
        reqs = fake.seen("list_tasks")
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        ids = [line.split()[0] for line in r.stdout.splitlines()[1:]]
        assert ids == [str(i) for i in range(1, 2701)]
        assert [q["data"].get("after") for q in reqs] == \
            [None, "1000", "2000"]
        # Columns stay aligned across pages (widths only grow).
        starts = {line.index(" t") for line in r.stdout.splitlines()[1:]}
        assert len(starts) == 1, starts

        r = fake_cli(fake, "ps", "--csv", text=False)
        assert r.returncode == 0, r.stderr
        rows = parse_csv(r.stdout.decode(), TASK_COLUMNS)
        assert [row["id"] for row in rows] == [str(i) for i in
                                               range(1, 1501)]


def test_ps_all_streams_rows_as_pages_arrive():
    pager = Pager(2500)
    pager.gate = threading.Event()
    with FakeMain(pager) as fake:
        e = dict(os.environ, ENCORE_MAIN=fake.addr, ENCORE_TOKEN=fake.token)
        p = subprocess.Popen([binpath("encore"), "ps", "--all"], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            # The first page is out while the second is still held back.
            first = [p.stdout.readline() for _ in range(1001)]
            assert first[-1].split()[0] == "1000", first[-1]
            assert p.poll() is None
            pager.gate.set()
            rest, err = p.communicate(timeout=30)
        finally:
            pager.gate.set()
            if p.poll() is None:
                p.kill()
                p.wait()
    assert p.returncode == 0, err
    assert len(rest.splitlines()) == 1500


def test_ps_refuses_a_listing_that_does_not_move_on():
    def stuck(conn, msg):
        if msg["message_type"] == "list_tasks":
            conn.reply(msg, {"ok": True, "tasks": [fake_task(1)],
                             "total": 5, "next": "1"})
    with FakeMain(stuck) as fake:
        r = fake_cli(fake, "ps", "--all", timeout=30)
    assert r.returncode == 1, r.stderr
    assert "does not move on" in r.stderr


def test_ps_pages_against_the_real_main_node(cluster):
    cluster.start_main("--max-msg-rate", "0")
    with cluster.operator() as op:
        r = op.request("list_tasks", {"limit": 1})
        if "next" not in r["data"]:
            pytest.skip("this encore-main does not page list_tasks yet "
                        "(limit/after/total/next: the main node's side)")
        for i in range(1203):
            op.send("submit", {"task": {"command": ["true"],
                                        "name": "p%d" % i}})
        wait_for(lambda: op.request("status")["data"]["status"]
                 ["tasks_queued"] == 1203, 30, what="1203 tasks queued")
    r = cluster.cli("ps", check=True)
    assert len(r.stdout.splitlines()) == 1001
    assert r.stderr == "... and 203 more (encore ps --all lists every task)\n"
    r = cluster.cli("ps", "--all", check=True)
    assert len(r.stdout.splitlines()) == 1204
    assert r.stderr == ""


# ---- output for people and for pipes ----

def test_broken_pipe_is_silent_and_exits_0(cluster):
    """encore ps | head -1: the reader going away is not an error."""
    cluster.start_main()
    for i in range(3):
        cluster.cli("submit", "--name", "n%d" % i, "--", "true", check=True)
    e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
             ENCORE_TOKEN=cluster.operator_token)
    for args in (["ps"], ["ps", "--all", "--csv"], ["devices"], ["status"]):
        r, w = os.pipe()
        os.close(r)             # head has read its line and gone
        try:
            p = subprocess.run([binpath("encore")] + args, env=e, stdout=w,
                               stderr=subprocess.PIPE, text=True,
                               timeout=30)
        finally:
            os.close(w)
        assert p.returncode == 0, (args, p.stderr)
        assert p.stderr == "", (args, p.stderr)


def test_show_is_aligned_and_says_none(cluster):
    cluster.start_main()
    tid = cluster.cli("submit", "--name", "al", "--env", "A=1", "--",
                      "true", check=True).stdout.strip()
    out = cluster.cli("show", tid, check=True).stdout
    fields = {}
    starts = set()
    for line in out.splitlines():
        m = re.match(r"^([a-z][a-z ]*:)( +)(\S.*)$", line)
        if m:
            fields[m.group(1)] = m.group(3)
            starts.add(len(m.group(1)) + len(m.group(2)))
    assert len(starts) == 1, out            # every value in one column
    assert fields["timeout:"] == "none", out
    assert fields["cpus:"] == "none" and fields["memory:"] == "none", out
    assert "timeout:        0" not in out


def test_error_hint_is_given_once(cluster):
    cluster.start_main()
    r = cluster.cli("show", "99999")
    assert r.returncode == 1
    assert r.stderr.count("encore ps --all") == 1, r.stderr
    r = cluster.cli("approve", "nope")
    assert r.returncode == 1
    assert r.stderr.count("encore devices") == 1, r.stderr
    r = cluster.cli("status", env={"ENCORE_TOKEN": "wrong"})
    assert r.returncode == 1
    assert r.stderr.count("ENCORE_TOKEN") == 1, r.stderr
    # A message without a next step gets ours, naming the task.
    tid = cluster.cli("submit", "--", "true", check=True).stdout.strip()
    cluster.cli("cancel", tid, check=True)
    r = cluster.cli("cancel", tid)
    assert r.returncode == 1
    assert "encore show %s" % tid in r.stderr, r.stderr


@pytest.mark.parametrize("args,hint", [
    (["sumbit", "--", "true"], "did you mean 'submit'?"),
    (["devcies"], "did you mean 'devices'?"),
    (["ps", "--alll"], "did you mean '--all'?"),
    (["logs", "--follwo", "1"], "did you mean '--follow'?"),
    (["submit", "--imgae", "x", "--", "true"], "did you mean '--image'?"),
])
def test_did_you_mean(args, hint):
    r = run(*args, env={"ENCORE_MAIN": "127.0.0.1:%d" % free_port(),
                        "ENCORE_TOKEN": "t"})
    assert r.returncode == 2, r.stderr
    assert hint in r.stderr, r.stderr


def test_token_file(cluster, tmp_path):
    cluster.start_main()
    tf = tmp_path / "op.token"
    tf.write_text(cluster.operator_token + "\n")
    tf.chmod(0o600)
    r = cluster.cli("--token-file", str(tf), "status",
                    env={"ENCORE_TOKEN": ""})
    assert r.returncode == 0, r.stderr
    r = cluster.cli("status", env={"ENCORE_TOKEN": "",
                                   "ENCORE_TOKEN_FILE": str(tf)})
    assert r.returncode == 0, r.stderr
    # The flag wins over the environment.
    r = cluster.cli("--token-file", str(tf), "status",
                    env={"ENCORE_TOKEN": "wrong"})
    assert r.returncode == 0, r.stderr
    r = cluster.cli("--token-file", str(tmp_path / "missing"), "status")
    assert r.returncode == 2
    assert str(tmp_path / "missing") in r.stderr
    assert "No such file" in r.stderr
    r = cluster.cli("--token", "x", "--token-file", str(tf), "status")
    assert r.returncode == 2 and "not both" in r.stderr


EVIL_DEVICES = [
    {"id": "w\x1b[2J1", "hostname": "h\x1b]0;pwned\x07", "state": "online",
     "arch": "x86_64", "platform": "linux", "cores": 2,
     "mem_total": 1073741824, "reason": None},
    {"id": "\u65e5\u672c", "hostname": "caf\u00e9", "state": "online",
     "arch": "x86_64", "platform": "linux", "cores": 4,
     "mem_total": 1073741824, "reason": None},
    {"id": "ab", "hostname": "\u202eevil", "state": "paused",
     "arch": "aarch64", "platform": "linux", "cores": 4,
     "mem_total": 1073741824, "reason": "battery\x1b[5m low"},
]


def columns(text):
    """Terminal columns of text (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def evil_main(conn, msg):
    """A main node whose strings carry escape sequences and wide text."""
    t = msg["message_type"]
    if t == "list_devices":
        conn.reply(msg, {"ok": True, "devices": EVIL_DEVICES})
    elif t == "list_tasks":
        t1 = fake_task(1)
        t1["name"] = "n\x1b[31m\u65e5\u672c"
        t2 = fake_task(2)
        t2["name"] = "plain"
        conn.reply(msg, {"ok": True, "tasks": [t1, t2]})
    elif t == "get_task":
        task = fake_task(1)
        task.update({"name": "x\x1b]52;c;Zm9v\x07y", "command":
                     ["sh", "-c", "echo \x1b[2J"], "env": {"K": "v\x07"},
                     "timeout": 0, "attempts": []})
        conn.reply(msg, {"ok": True, "task": task})
    elif t == "cancel":
        conn.reply(msg, {"ok": False, "error": {
            "code": "conflict", "message": "no\x1b[2J way"}})


def test_server_strings_are_escaped_and_aligned():
    with FakeMain(evil_main) as fake:
        outs = {}
        for args in (["devices"], ["ps"], ["show", "1"], ["cancel", "1"]):
            r = fake_cli(fake, *args)
            outs[args[0]] = r
            assert "\x1b" not in r.stdout + r.stderr, (args, r.stdout,
                                                       r.stderr)
            assert "\x07" not in r.stdout + r.stderr, args
            assert "\u202e" not in r.stdout + r.stderr, args
    dev = outs["devices"].stdout.splitlines()
    assert dev[1].startswith("w\\x1b[2J1 "), dev
    assert "h\\x1b]0;pwned\\x07" in dev[1]
    assert "\\u202eevil" in dev[3]
    assert "paused (battery\\x1b[5m low)" in dev[3]
    # Columns line up by display width: 日本 takes 4 columns (6 bytes).
    arch = [columns(line[:re.search(r"x86_64|aarch64", line).start()])
            for line in dev[1:]]
    assert len(set(arch)) == 1, (arch, dev)
    ps = outs["ps"].stdout.splitlines()
    assert "n\\x1b[31m\u65e5\u672c" in ps[1]
    assert columns(ps[1][:ps[1].index("queued")]) == \
        columns(ps[2][:ps[2].index("queued")]), ps
    show = outs["show"].stdout
    assert "x\\x1b]52;c;Zm9v\\x07y" in show
    assert "K=v\\x07" in show
    assert "no\\x1b[2J way (conflict)" in outs["cancel"].stderr


def run_pty(args, env):
    """Run encore with stdout and stderr on a terminal; (code, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(binpath("encore"), ["encore"] + list(args), env)
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


def test_csv_is_raw_on_a_pipe_and_escaped_on_a_terminal():
    with FakeMain(evil_main) as fake:
        r = fake_cli(fake, "devices", "--csv", text=False)
        assert r.returncode == 0
        assert b"w\x1b[2J1," in r.stdout           # data for programs
        e = dict(os.environ, ENCORE_MAIN=fake.addr, ENCORE_TOKEN=fake.token)
        code, out = run_pty(["devices", "--csv"], e)
    assert code == 0, out
    assert b"\x1b" not in out, out
    assert b"w\\x1b[2J1," in out


@needs_worker
def test_logs_on_a_terminal_pass_colour_only(cluster):
    cluster.start_main()
    start_worker(cluster)
    script = ("printf '\\033[31mred\\033[0m \\033]0;title\\007 "
              "\\033[2Jgone\\n'")
    tid = cluster.cli("submit", "--", "sh", "-c", script,
                      check=True).stdout.strip()
    wait_for(lambda: cli_tasks(cluster, "--all")[tid]["state"]
             == "completed", timeout=30, what="task completed")
    raw = b"\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2Jgone\n"
    # On a pipe: the task's own bytes.
    assert cli_bytes(cluster, "logs", tid) == raw
    e = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
             ENCORE_TOKEN=cluster.operator_token)
    code, out = run_pty(["logs", tid], e)
    assert code == 0, out
    assert out == (b"\x1b[31mred\x1b[0m \\x1b]0;title\\x07 "
                   b"\\x1b[2Jgone\r\n"), out
    code, out = run_pty(["logs", "--raw", tid], e)
    assert code == 0, out
    assert out == raw.replace(b"\n", b"\r\n"), out


# ---- backup (README "Upgrades and backups"; PROTOCOL.md `backup`) ----

@needs_worker
def test_backup_of_a_live_cluster_starts_a_main_node_with_its_tasks(
        cluster, tmp_path):
    """`encore backup FILE` while the cluster runs: FILE is the checked
    copy (its SHA-256 as printed, mode 0600, no FILE.tmp left), and a
    second main node started on it with the same tokens has every task:
    finished, queued, held, an array and a dependent."""
    import hashlib
    import shutil
    import sqlite3
    from conftest import Cluster
    cluster.start_main()
    start_worker(cluster)
    done = cluster.cli("submit", "--name", "done", "--", "echo", "hi",
                       check=True).stdout.strip()
    wait_for(lambda: cli_tasks(cluster, "--all")[done]["state"] ==
             "completed", 30, what="a task to complete")
    queued = [cluster.cli("submit", "--arch", "none", "--name", "q%d" % i,
                          "--", "true", check=True).stdout.strip()
              for i in range(20)]
    held = cluster.cli("submit", "--hold", "--", "true",
                       check=True).stdout.strip()
    array = cluster.cli("submit", "--array", "100", "--arch", "none", "--",
                        "true", check=True).stdout.strip()
    dep = cluster.cli("submit", "--after", array, "--", "true",
                      check=True).stdout.strip()
    before = cli_tasks(cluster, "--all")
    f = tmp_path / "copy.db"
    r = cluster.cli("backup", str(f), check=True)
    m = re.fullmatch(r"(.*): (\d+) bytes, sha256 ([0-9a-f]{64}), schema "
                     r"version \d+\n", r.stdout)
    assert m, r.stdout
    assert m.group(1) == str(f)
    data = f.read_bytes()
    assert len(data) == int(m.group(2))
    assert hashlib.sha256(data).hexdigest() == m.group(3)
    assert oct(os.stat(f).st_mode & 0o777) == "0o600"
    assert not os.path.exists(str(f) + ".tmp")
    db = sqlite3.connect(str(f))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    # A second main node on the copy, with the cluster's tokens.
    second = Cluster(tmp_path / "second")
    os.makedirs(second.state, mode=0o700)
    shutil.copy(str(f), os.path.join(second.state, "encore.db"))
    for name in ("join.token", "operator.token"):
        shutil.copy(os.path.join(cluster.state, name),
                    os.path.join(second.state, name))
    try:
        second.start_main()
        after = cli_tasks(second, "--all")
        for tid in [done, held, array, dep] + queued:
            assert tid in after, tid
            assert after[tid]["state"] == before[tid]["state"], (
                tid, before[tid], after[tid])
        assert after[done]["state"] == "completed"
        assert after[held]["state"] == "held"
        assert after[dep]["state"] == "waiting"
        out = second.cli("show", array, check=True).stdout
        assert re.search(r"^elements:\s+100 queued$", out, re.M), out
        assert "w1" in second.devices_csv()
    finally:
        second.stop_all()


def test_backup_never_replaces_a_file_unless_forced(cluster, tmp_path):
    cluster.start_main()
    f = tmp_path / "keep.db"
    f.write_bytes(b"precious")
    r = cluster.cli("backup", str(f))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "exists" in r.stderr and "--force" in r.stderr, r.stderr
    assert f.read_bytes() == b"precious"
    assert not os.path.exists(str(f) + ".tmp")
    r = cluster.cli("backup", "--force", str(f), check=True)
    assert f.read_bytes()[:16] == b"SQLite format 3\x00"
    # A directory nobody may write: no file, no FILE.tmp, exit 1.
    r = cluster.cli("backup", str(tmp_path / "no" / "such" / "x.db"))
    assert r.returncode == 1, r.stderr
    assert "cannot write" in r.stderr, r.stderr
