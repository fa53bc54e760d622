# SPDX-License-Identifier: ISC
"""The `encore` operator CLI against a real main node.

Focus: SPEC section 3 (commands, options, ENCORE_MAIN / ENCORE_TOKEN and the
operator.token fallback, exit codes 0/1/2/3 and errors that say what to do
next) and section 5 (the CSV columns of `devices --csv` and `ps --csv`).
Device admin runs against a device registered over a raw socket; tasks that
must actually run need encore-worker and are skipped without it.
"""

import csv
import io
import os
import re
import subprocess
import time

import pytest

from conftest import binpath, free_port, wait_for

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
                "ps [--all] [--csv]", "show ID", "logs [-f] ID",
                "cancel ID", "status"):
        assert cmd in out, cmd
    for opt in ("--main", "--token", "ENCORE_MAIN", "ENCORE_TOKEN",
                "operator.token", "--image", "--name", "--priority",
                "--cpus", "--memory", "--timeout", "--retries", "--arch",
                "--platform", "--label", "--env", "--device", "--wait",
                "--version"):
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
    (["ps", "--follow"], "ps [--all] [--csv]"),
    (["show"], "show ID"),
    (["logs", "-x", "1"], "logs [-f] ID"),
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
