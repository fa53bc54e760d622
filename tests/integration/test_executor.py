# SPDX-License-Identifier: ISC
"""encore-worker: tasks end to end, worker side.

Focus of this file: command tasks (output, environment, exit codes,
timeouts, cancellation, no process left behind), a worker killed under a
task and restarted, and container tasks through podman (isolation, read-only
root, memory limit, no network).  Tasks go in through the operator protocol
(submit) and come out through get_task and logs.  Every wait is bounded.
"""

import os
import subprocess
import time

import pytest

from conftest import wait_for

FINAL = ("completed", "failed", "timed_out", "cancelled")




def submit(cluster, **task):
    op = cluster.operator()
    try:
        r = op.request("submit", {"task": task})
    finally:
        op.close()
    assert r["data"]["ok"] is True, r
    return r["data"]["task_id"]


def get_task(cluster, task_id):
    op = cluster.operator()
    try:
        r = op.request("get_task", {"task_id": task_id})
    finally:
        op.close()
    assert r["data"]["ok"] is True, r
    return r["data"]["task"]


def logs(cluster, task_id):
    op = cluster.operator()
    try:
        r = op.request("logs", {"task_id": task_id})
    finally:
        op.close()
    assert r["data"]["ok"] is True, r
    return r["data"]["output"]


def cancel(cluster, task_id):
    op = cluster.operator()
    try:
        r = op.request("cancel", {"task_id": task_id})
    finally:
        op.close()
    assert r["data"]["ok"] is True, r


def wait_task(cluster, task_id, states=FINAL, timeout=30):
    return wait_for(lambda: (lambda t: t if t["state"] in states else None)(
        get_task(cluster, task_id)), timeout,
        what="task %s to reach %s" % (task_id, states))


def pgrep(pattern):
    r = subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                       text=True)
    return [int(p) for p in r.stdout.split()]


def no_process(pattern, timeout=30):
    wait_for(lambda: not pgrep(pattern), timeout,
             what="no process matching %r (left: %s)" % (pattern,
                                                        pgrep(pattern)))


@pytest.fixture
def worker_cluster(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    return cluster


# ---- command tasks ----

def test_echo_output_and_exit_code(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["sh", "-c", "echo hello; echo to-stderr >&2"])
    t = wait_task(c, tid)
    assert t["state"] == "completed", t
    assert t["exit_code"] == 0 and t["device"] == "w1"
    out = logs(c, tid)
    assert "hello" in out and "to-stderr" in out


def test_env_and_workdir(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["sh", "-c", 'echo "foo=$FOO"; pwd; touch made'],
                 env={"FOO": "bar baz"})
    t = wait_task(c, tid)
    assert t["state"] == "completed", t
    out = logs(c, tid)
    assert "foo=bar baz" in out
    # A fresh directory under the worker's state dir, removed afterwards.
    wdir = [l for l in out.splitlines() if l.startswith("/")][0]
    assert wdir.startswith(os.path.join(c.tmp, "w-w1", "work"))
    wait_for(lambda: not os.path.exists(wdir), 5, what="work dir removed")


def test_no_shell_and_invalid_utf8(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["printf", "a;b $HOME \\377\\376 ok\\n"])
    t = wait_task(c, tid)
    assert t["state"] == "completed", t
    out = logs(c, tid)
    assert "a;b $HOME" in out           # no shell expanded anything
    assert "\ufffd\ufffd ok" in out     # bad bytes became U+FFFD


def test_nonzero_exit_is_failed(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["sh", "-c", "exit 3"])
    t = wait_task(c, tid)
    assert t["state"] == "failed" and t["exit_code"] == 3, t


def test_command_not_found_is_failed(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["no-such-command-encore"])
    t = wait_task(c, tid)
    assert t["state"] == "failed", t
    assert "not found" in (t.get("error") or ""), t


def test_big_output_is_chunked(worker_cluster):
    c = worker_cluster
    # 200 KiB: many task_output chunks, all stored in order.
    tid = submit(c, command=["sh", "-c",
                             "i=0; while [ $i -lt 3200 ]; do "
                             "printf '%063d\\n' $i; i=$((i+1)); done"])
    t = wait_task(c, tid, timeout=60)
    assert t["state"] == "completed", t
    lines = logs(c, tid).splitlines()
    assert len(lines) == 3200
    assert lines[0] == "0" * 63 and lines[-1] == "%063d" % 3199


def test_timeout_kills_the_group(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["sh", "-c", "sleep 6101 & sleep 6102; wait"],
                 timeout=1)
    wait_for(lambda: pgrep("sleep 6102"), 10, what="task to start")
    t = wait_task(c, tid, timeout=20)
    assert t["state"] == "timed_out", t
    no_process("sleep 610[12]")


def test_timeout_escalates_to_sigkill(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["sh", "-c", "trap '' TERM; sleep 6103; :"],
                 timeout=1)
    wait_for(lambda: pgrep("sleep 6103"), 10, what="task to start")
    t0 = time.monotonic()
    t = wait_task(c, tid, timeout=20)
    assert t["state"] == "timed_out", t
    assert time.monotonic() - t0 >= 4     # SIGTERM ignored, SIGKILL at 5 s
    no_process("sleep 6103")


def test_cancel_running_task(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["sleep", "6104"])
    wait_task(c, tid, states=("running",))
    wait_for(lambda: pgrep("sleep 6104"), 10, what="sleep to run")
    cancel(c, tid)
    t = wait_task(c, tid, timeout=15)
    assert t["state"] == "cancelled", t
    no_process("sleep 6104")


def test_memory_rlimit(worker_cluster):
    c = worker_cluster
    tid = submit(c, command=["python3", "-c",
                             "b = bytearray(256 * 1024 * 1024)"],
                 limits={"memory_mb": 64})
    t = wait_task(c, tid)
    assert t["state"] == "failed", t


def test_worker_killed_mid_task_reports_it(cluster):
    cluster.start_main(offline_after=30)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, command=["sh", "-c", "sleep 6105 & sleep 6106"])
    wait_task(cluster, tid, states=("running",))
    wait_for(lambda: pgrep("sleep 6106"), 10, what="task to start")
    w.kill9()
    # Restart with the same state dir before the main node gives up on it.
    w2 = cluster.start_worker("w1")
    # Leftovers of the lost attempt are killed at startup ...
    no_process("sleep 610[56]")
    assert "event=task_lost" in w2.output()
    # ... and the attempt is reported, not silently dropped.
    t = wait_for(lambda: (lambda t: t if t["state"] != "running" or
                          t["attempt"] > 1 else None)(get_task(cluster, tid)),
                 20, what="the lost attempt to be reported")
    a1 = [a for a in t.get("attempts", []) if a["attempt"] == 1]
    if a1:
        assert a1[0]["state"] != "running", t
    if t["state"] == "failed" and t["attempt"] == 1:
        assert "restarted" in (t.get("error") or ""), t


def test_sigterm_takes_tasks_along(cluster):
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    submit(cluster, command=["sh", "-c", "sleep 6107 & sleep 6108"])
    wait_for(lambda: pgrep("sleep 6108"), 10, what="task to start")
    assert w.stop() == 0
    no_process("sleep 610[78]")


# ---- container tasks ----

def ctask(cluster, image, argv, **kw):
    tid = submit(cluster, command=argv, image=image, **kw)
    return tid, wait_task(cluster, tid, timeout=60)


def test_container_isolated(podman_cluster, test_image):
    tid, t = ctask(podman_cluster, test_image,
                   ["sh", "-c", "cat /proc/1/cmdline; echo; echo E=$E"],
                   env={"E": "v1"})
    assert t["state"] == "completed", t
    out = logs(podman_cluster, tid)
    assert out.startswith("sh")          # pid 1 is the task itself
    assert "E=v1" in out


def test_container_read_only_root(podman_cluster, test_image):
    tid, t = ctask(podman_cluster, test_image, ["touch", "/x"])
    assert t["state"] == "failed" and t["exit_code"] != 0, t
    assert "Read-only" in logs(podman_cluster, tid)


def test_container_no_network(podman_cluster, test_image):
    tid, t = ctask(podman_cluster, test_image, ["cat", "/proc/net/dev"])
    assert t["state"] == "completed", t
    ifaces = [l.split(":")[0].strip() for l in
              logs(podman_cluster, tid).splitlines() if ":" in l]
    assert ifaces == ["lo"], ifaces


def test_container_memory_limit(podman_cluster, test_image):
    tid, t = ctask(podman_cluster, test_image,
                   ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                   limits={"memory_mb": 16})
    assert t["state"] == "failed" and t["exit_code"] == 137, t


def test_container_missing_image(podman_cluster):
    tid, t = ctask(podman_cluster, "localhost/encore-no-such-image:none",
                   ["true"])
    assert t["state"] == "failed" and t["exit_code"] == 125, t
    assert t.get("error"), t


def test_container_cancel_removes_it(podman_cluster, test_image):
    c = podman_cluster
    tid = submit(c, command=["sleep", "6109"], image=test_image)
    wait_task(c, tid, states=("running",), timeout=60)
    wait_for(lambda: pgrep("sleep 6109"), 30, what="container to start")
    cancel(c, tid)
    t = wait_task(c, tid, timeout=30)
    assert t["state"] == "cancelled", t
    no_process("sleep 6109", timeout=20)
    name = "encore-%s-%d" % (tid, t["attempt"])
    wait_for(lambda: subprocess.run(["podman", "container", "exists", name])
             .returncode != 0, 20, what="container %s removed" % name)


def test_result_survives_main_outage(cluster):
    """A result produced while the main node is down is spooled, sent after
    the worker re-registers, and deleted once acknowledged."""
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, command=["sh", "-c", "sleep 2; exit 7"])
    wait_task(cluster, tid, states=("running",))
    cluster.main.kill9()
    spool = os.path.join(cluster.tmp, "w-w1", "spool")
    wait_for(lambda: [f for f in os.listdir(spool) if f.endswith(".json")],
             15, what="the result in the spool")
    cluster.start_main()
    t = wait_task(cluster, tid, timeout=30)
    assert t["state"] == "failed" and t["exit_code"] == 7, t
    assert t["attempt"] == 1, t
    wait_for(lambda: not os.listdir(spool), 10, what="spool emptied by acks")
    assert w.alive()


def test_container_left_by_killed_worker_is_removed(podman_cluster,
                                                     test_image):
    c = podman_cluster
    tid = submit(c, command=["sleep", "6110"], image=test_image)
    t = wait_task(c, tid, states=("running",), timeout=60)
    name = "encore-%s-%d" % (tid, t["attempt"])
    wait_for(lambda: subprocess.run(["podman", "container", "exists", name])
             .returncode == 0, 30, what="container %s" % name)
    c.workers["c1"].kill9()
    w2 = c.start_worker("c1", runtime="podman")
    wait_for(lambda: subprocess.run(["podman", "container", "exists", name])
             .returncode != 0, 40, what="container %s removed" % name)
    no_process("sleep 6110", timeout=20)
    wait_for(lambda: "event=task_lost" in w2.output(), 30,
             what="the restarted worker to report the lost task")
    t = wait_for(lambda: (lambda t: t if t["state"] != "running" or
                          t["attempt"] > 1 else None)(get_task(c, tid)),
                 30, what="the lost attempt to be reported")
