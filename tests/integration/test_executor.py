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
from fake_upstream import fake  # noqa: F401 (a fixture)

FINAL = ("completed", "failed", "timed_out", "cancelled")
# Debian's interpreter: a python3 found first on PATH may live under a home
# directory, which a task under Landlock cannot read.
PY = "/usr/bin/python3"




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


def cpus_allowed(status_text):
    return [l.split(":", 1)[1].strip() for l in status_text.splitlines()
            if l.startswith("Cpus_allowed_list:")][0]


def test_task_and_worker_keep_every_cpu(cluster):
    """A new child is kept on the worker's CPU until it execs (a faster
    start): the task itself runs with the worker's whole CPU set, and the
    worker gets its own back."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU here: a pinned task would look the same")
    cluster.start_main()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    with open("/proc/self/status") as f:
        mine = cpus_allowed(f.read())
    for _ in range(3):
        tid = submit(cluster, command=["cat", "/proc/self/status"])
        t = wait_task(cluster, tid)
        assert t["state"] == "completed", t
        assert cpus_allowed(logs(cluster, tid)) == mine
    with open("/proc/%d/status" % w.pid) as f:
        assert cpus_allowed(f.read()) == mine


def sig_masks(status_text):
    return {l.split(":", 1)[0]: int(l.split(":", 1)[1], 16)
            for l in status_text.splitlines()
            if l.split(":", 1)[0] in ("SigBlk", "SigIgn", "SigCgt")}


def test_task_starts_with_default_signals(cluster):
    """A task starts with no signal blocked, ignored or caught, though the
    worker catches some (TERM, INT, HUP, CHLD), ignores SIGPIPE, and here
    was started with QUIT and USR2 ignored, as a shell's background job
    inherits them; the worker's own dispositions stay.  Under make (as in
    `make test`) the worker also inherits glibc's internal signals 32 and
    33 ignored (glibc's posix_spawn, which make uses, leaves them so),
    which the C library's sigaction() cannot reset."""
    import signal
    cluster.start_main()
    old = [signal.signal(s, signal.SIG_IGN)
           for s in (signal.SIGQUIT, signal.SIGUSR2)]
    try:
        w = cluster.start_worker("w1")
    finally:
        signal.signal(signal.SIGQUIT, old[0])
        signal.signal(signal.SIGUSR2, old[1])
    cluster.wait_state("w1", "online")
    for _ in range(2):
        tid = submit(cluster, command=["cat", "/proc/self/status"])
        t = wait_task(cluster, tid)
        assert t["state"] == "completed", t
        assert sig_masks(logs(cluster, tid)) == {
            "SigBlk": 0, "SigIgn": 0, "SigCgt": 0}
    with open("/proc/%d/status" % w.pid) as f:
        m = sig_masks(f.read())
    bit = lambda s: 1 << (s - 1)  # noqa: E731
    assert m["SigIgn"] & bit(signal.SIGPIPE) and \
        m["SigIgn"] & bit(signal.SIGQUIT), m
    assert m["SigCgt"] & bit(signal.SIGTERM), m


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


def first_attempt_failed(cluster, tid, timeout=30):
    """The task once its first attempt ended (a start that failed goes
    back to the queue: the main node tries another device, or holds it)."""
    def ended():
        t = get_task(cluster, tid)
        a1 = [a for a in t.get("attempts") or [] if a["attempt"] == 1]
        return t if a1 and a1[0]["state"] in FINAL else None
    return wait_for(ended, timeout, what="task %s attempt 1 to end" % tid)


def test_command_not_found_is_a_failed_start(worker_cluster):
    """A program that is not there: the worker answers start_failed.  On
    this one-device cluster no other device could start it, so the task
    fails with the worker's error (with another device it would go there
    instead), and the device is not blamed for it."""
    c = worker_cluster
    tid = submit(c, command=["no-such-command-encore"])
    t = first_attempt_failed(c, tid)
    a1 = [a for a in t["attempts"] if a["attempt"] == 1][0]
    assert a1["state"] == "failed", t
    assert "not found" in (a1.get("error") or ""), t
    assert t["state"] == "failed", t
    assert "every device that could run it" in t["error"], t
    assert "start_failed=true" in c.workers["w1"].output()
    assert c.devices_csv()["w1"]["state"] in ("online", "busy")


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
    tid = submit(c, command=[PY, "-c",
                             "b = bytearray(256 * 1024 * 1024)"],
                 limits={"memory_mb": 64})
    t = wait_task(c, tid)
    assert t["state"] == "failed", t
    assert "MemoryError" in logs(c, tid)


def test_memory_limit_counts_use_not_reservation(worker_cluster):
    """--memory limits memory used, not address space reserved: a program
    that reserves 1 GiB it never writes (as a JVM or Go runtime does)
    runs under a 64 MB limit."""
    c = worker_cluster
    tid = submit(c, command=[PY, "-c",
                             "import mmap; m = mmap.mmap(-1, 1 << 30, "
                             "flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ); "
                             "print('reserved', len(m))"],
                 limits={"memory_mb": 64})
    t = wait_task(c, tid)
    assert t["state"] == "completed", (t, logs(c, tid))
    assert "reserved 1073741824" in logs(c, tid)


def test_timeout_is_wall_time_only(worker_cluster):
    """--timeout is wall time: no CPU-time rlimit (it was timeout + 5 s,
    which killed a 2-thread task at 12.7 s under --timeout 20 with
    SIGXCPU), and no address-space rlimit for --memory."""
    c = worker_cluster
    tid = submit(c, command=["cat", "/proc/self/limits"], timeout=20,
                 limits={"memory_mb": 64})
    t = wait_task(c, tid)
    assert t["state"] == "completed", t
    lines = {l[:26].strip(): l[26:].split() for l in
             logs(c, tid).splitlines()}
    assert lines["Max cpu time"][:2] == ["unlimited", "unlimited"], lines
    assert lines["Max address space"][:2] == ["unlimited", "unlimited"], lines


# ---- what holds a command task in (cgroup or subreaper, Landlock) ----

def own_cgroup_v2():
    """This process's cgroup v2 directory if it is writable, else None (the
    worker, started by us, would then fall back to the subreaper)."""
    try:
        with open("/proc/self/cgroup") as f:
            rel = [l[3:].strip() for l in f if l.startswith("0::")][0]
        with open("/proc/self/mountinfo") as f:
            mnts = [l.split() for l in f if " - cgroup2 " in l]
    except (OSError, IndexError):
        return None
    for m in mnts:
        if m[3] == "/":
            d = m[4] + ("" if rel == "/" else rel)
            if os.access(d, os.W_OK) and os.access(d + "/cgroup.procs",
                                                   os.W_OK):
                return d
    return None


def landlock_abi():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint(1))


@pytest.fixture(params=["cgroup", "subreaper"])
def confined_cluster(cluster, request):
    """A worker in each process mode: a cgroup per task (where this machine
    lets the worker have one), and the subreaper fallback."""
    env = dict(os.environ)
    if request.param == "subreaper":
        env["ENCORE_WORKER_NO_CGROUP"] = "1"
    elif own_cgroup_v2() is None:
        pytest.skip("no writable cgroup v2 directory here (cgroup v1 only, "
                    "or not root and no Delegate=yes): the worker falls back "
                    "to the subreaper, tested by the other parameter")
    cluster.start_main()
    cluster.start_worker("w1", env=env)
    cluster.wait_state("w1", "online")
    return cluster


def test_setsid_daemon_killed_when_task_ends(confined_cluster):
    c = confined_cluster
    tid = submit(c, command=["sh", "-c",
                             "setsid sleep 6201 </dev/null >/dev/null 2>&1 & "
                             "setsid sh -c 'sleep 6202 & sleep 6203' & "
                             "sleep 1; echo up"])
    t = wait_task(c, tid, timeout=30)
    assert t["state"] == "completed", t
    no_process("sleep 620[123]")


def test_setsid_daemon_killed_on_cancel(confined_cluster):
    c = confined_cluster
    tid = submit(c, command=["sh", "-c",
                             "setsid sleep 6204 </dev/null >/dev/null 2>&1 & "
                             "exec sleep 6205"])
    wait_for(lambda: pgrep("sleep 6204") and pgrep("sleep 6205"), 15,
             what="the task and its daemon")
    cancel(c, tid)
    t = wait_task(c, tid, timeout=30)
    assert t["state"] == "cancelled", t
    no_process("sleep 620[45]")


def test_tasks_one_after_another(confined_cluster):
    """Tasks run one after another on one worker all complete, also after
    one whose leftovers had to be killed (its cgroup is not reused: a child
    born into a cgroup killed before is killed at birth on some
    kernels)."""
    c = confined_cluster
    cmds = [["true"], ["sh", "-c", "echo two"],
            ["sh", "-c", "setsid sleep 6206 </dev/null >/dev/null 2>&1 &"],
            ["true"], ["sh", "-c", "echo five"], ["true"], ["true"]]
    for i, cmd in enumerate(cmds):
        tid = submit(c, command=cmd)
        t = wait_task(c, tid)
        assert t["state"] == "completed", (i, cmd, t)
    no_process("sleep 6206")


def landlock_or_skip():
    abi = landlock_abi()
    if abi < 1:
        pytest.skip("this kernel has no Landlock (Linux >= 5.13 with "
                    "landlock in CONFIG_LSM): command tasks can read the "
                    "state dir, as the README says (abi probe: %d)" % abi)


def start_worker_in(cluster, state, *args):
    """Worker w1 with its state dir at state (outside /tmp, which tasks
    may write), online."""
    from conftest import Proc, binpath
    argv = [binpath("encore-worker"), "--main",
            "127.0.0.1:%d" % cluster.port, "--id", "w1", "--state-dir",
            state, "--runtime", "none", "--log-level", "debug",
            "--token-file", os.path.join(cluster.state, "join.token")]
    w = Proc(argv + list(args), os.path.join(cluster.tmp, "worker-w1.log"))
    cluster.procs.append(w)
    cluster.workers["w1"] = w
    cluster.wait_state("w1", "online")
    return w


def test_task_cannot_read_device_key(cluster):
    """Under Landlock a command task cannot read the worker's device.key
    or write its spool.  The state dir is outside /tmp (which tasks may
    write), as the default ones are."""
    import shutil
    import tempfile
    landlock_or_skip()
    state = tempfile.mkdtemp(prefix="encore-test-state-", dir="/var/tmp")
    try:
        cluster.start_main()
        w = start_worker_in(cluster, state)
        key = os.path.join(state, "device.key")
        wait_for(lambda: os.path.exists(key), 10, what="device.key")
        assert "event=sandbox_weak" not in w.output()
        tid = submit(cluster, command=["sh", "-c",
                                       "cat %s/device.key; echo cat=$?; "
                                       "touch %s/spool/x; echo touch=$?; "
                                       "ls %s; echo ls=$?"
                                       % (state, state, state)])
        wait_task(cluster, tid)
        out = logs(cluster, tid)
        assert "cat=1" in out and "touch=1" in out and "ls=" in out, out
        assert "Permission denied" in out, out
        assert not os.path.exists(os.path.join(state, "spool", "x"))
        with open(key) as f:
            assert f.read().strip() not in out
        w.stop()
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_task_cannot_touch_another_tasks_directory(cluster):
    """Under Landlock a task writes its own working directory and not the
    one of a task running beside it, also when the directories and their
    rulesets are reused by later tasks (the worker keeps both)."""
    import shutil
    import tempfile
    landlock_or_skip()
    state = tempfile.mkdtemp(prefix="encore-test-state-", dir="/var/tmp")
    try:
        cluster.start_main()
        w = start_worker_in(cluster, state, "--slots", "2")
        a = submit(cluster, command=["sh", "-c", "echo a > mine; sleep 60"])
        wait_task(cluster, a, states=("running",))
        adir = os.path.join(state, "work", "%s-1" % a)
        wait_for(lambda: os.path.exists(os.path.join(adir, "mine")), 10,
                 what="task a's file")
        for i in range(4):
            b = submit(cluster, command=[
                "sh", "-c", "touch %s/x; echo touch=$?; cat %s/mine; "
                "echo cat=$?; echo b%d > here; cat here" % (adir, adir, i)])
            t = wait_task(cluster, b)
            out = logs(cluster, b)
            assert t["state"] == "completed", (t, out)
            assert "touch=1" in out and "cat=1" in out, out
            assert "b%d" % i in out, out
        assert not os.path.exists(os.path.join(adir, "x"))
        cancel(cluster, a)
        wait_task(cluster, a)
        w.stop()
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_state_dir_under_tmp_is_logged_weak(worker_cluster):
    """Tasks may write /tmp: a state dir there is said to be unprotected."""
    landlock_or_skip()
    out = worker_cluster.workers["w1"].output()
    assert worker_cluster.tmp.startswith("/tmp/")
    assert "event=sandbox_weak" in out, out


def test_task_files_where_it_may(worker_cluster):
    """Under Landlock a task still reads system files, runs programs, and
    writes its working directory (also its TMPDIR) and /tmp."""
    c = worker_cluster
    landlock_or_skip()
    tid = submit(c, command=["sh", "-c",
                             "set -e; head -1 /etc/passwd; "
                             "echo hi > here; cat here; "
                             "f=$(mktemp); echo tmp > $f; cat $f; "
                             "g=$(mktemp -p /tmp); echo shared > $g; "
                             "cat $g; rm $g; "
                             "echo tmpdir=$TMPDIR; echo > /dev/null; "
                             "/usr/bin/python3 -c 'print(6 * 7)'"])
    t = wait_task(c, tid)
    out = logs(c, tid)
    assert t["state"] == "completed", (t, out)
    assert "hi" in out and "tmp" in out and "shared" in out, out
    assert "42" in out, out
    assert "tmpdir=" + os.path.join(c.tmp, "w-w1", "work") in out, out


def test_worker_killed_mid_task_is_requeued(cluster):
    """A task whose worker was killed -9 is run again as a new attempt (a
    device loss), not recorded failed; its leftovers are killed when the
    worker restarts."""
    cluster.start_main(offline_after=30)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, command=["sh", "-c", "sleep 6105 & sleep 6106"])
    wait_task(cluster, tid, states=("running",))
    wait_for(lambda: pgrep("sleep 6106") and pgrep("sleep 6105"), 10,
             what="task to start")
    old = pgrep("sleep 610[56]")
    w.kill9()
    # Restart with the same state dir before the main node gives up on it.
    w2 = cluster.start_worker("w1")
    wait_for(lambda: "event=task_lost" in w2.output(), 20,
             what="the restarted worker to find the lost attempt")
    # Leftovers of the lost attempt are killed at startup ...
    wait_for(lambda: not [p for p in old if os.path.exists("/proc/%d" % p)],
             10, what="attempt 1's processes %s to be gone" % old)
    # ... nothing is reported for it, and the task runs again.
    t = wait_for(lambda: (lambda t: t if t["attempt"] >= 2 else None)(
        get_task(cluster, tid)), 30, what="attempt 2")
    assert t["state"] in ("assigned", "running"), t
    a1 = [a for a in t.get("attempts", []) if a["attempt"] == 1]
    assert a1 and "restarted" not in (a1[0].get("error") or ""), t
    assert "reconnected without it" in (a1[0].get("error") or ""), t
    wait_for(lambda: set(pgrep("sleep 6106")) - set(old), 20,
             what="attempt 2 to run")
    cancel(cluster, tid)
    wait_task(cluster, tid)


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
    """A missing image is a failed start (the runtime's own error, exit
    125), not a failed task."""
    c = podman_cluster
    tid = submit(c, command=["true"], image="localhost/encore-no-such-image:none")
    t = first_attempt_failed(c, tid, timeout=60)
    a1 = [a for a in t["attempts"] if a["attempt"] == 1][0]
    assert a1["state"] == "failed", t
    assert "container runtime failed (exit 125)" in (a1.get("error") or ""), t
    assert t["state"] == "failed", t  # no other device could start it
    assert "start_failed=true" in c.workers["c1"].output()


def container_name(worker, tid, attempt):
    """The container name the worker logged for a task attempt."""
    import re
    m = re.search(r"event=task_started task=%s attempt=%d .*container=(\S+)"
                  % (tid, attempt), worker.output())
    return m.group(1) if m else None


def container_exists(name):
    return subprocess.run(["podman", "container", "exists", name]
                          ).returncode == 0


def conmons(name):
    """pids of conmon processes for the container name, with their
    children (a `runc init` waiting for a start)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"conmon") and name.encode() in argv:
            out.append(int(pid))
            r = subprocess.run(["pgrep", "-P", pid], capture_output=True,
                               text=True)
            out += [int(p) for p in r.stdout.split()]
    return out


def test_container_cancel_removes_it(podman_cluster, test_image):
    c = podman_cluster
    tid = submit(c, command=["sleep", "6109"], image=test_image)
    t = wait_task(c, tid, states=("running",), timeout=60)
    wait_for(lambda: pgrep("sleep 6109"), 30, what="container to start")
    name = wait_for(lambda: container_name(c.workers["c1"], tid,
                                           t["attempt"]), 10,
                    what="the container name in the log")
    # Named after this worker: its device id and a hash of its state dir.
    assert name.startswith("encore-c1-") and name.endswith("-%s-1" % tid)
    cancel(c, tid)
    t = wait_task(c, tid, timeout=30)
    assert t["state"] == "cancelled", t
    no_process("sleep 6109", timeout=20)
    wait_for(lambda: not container_exists(name), 20,
             what="container %s removed" % name)


def test_result_survives_main_outage(cluster):
    """A result produced while the main node is down is spooled, sent after
    the worker re-registers, and deleted once acknowledged.  Every wait is
    on state: the task is running before the main node dies, the result is
    in the spool before it comes back, and the main node waits 30 s for its
    worker (whose retries are at most 10 s apart) before it would re-queue
    the task, however slow this machine is."""
    cluster.start_main(offline_after=30)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, command=["sh", "-c", "sleep 2; exit 7"])
    wait_task(cluster, tid, states=("running",))
    cluster.main.kill9()
    spool = os.path.join(cluster.tmp, "w-w1", "spool")
    wait_for(lambda: [f for f in os.listdir(spool) if f.endswith(".json")],
             30, what="the result in the spool")
    cluster.start_main(offline_after=30)
    t = wait_task(cluster, tid, timeout=60)
    assert t["state"] == "failed" and t["exit_code"] == 7, t
    assert t["attempt"] == 1, t
    wait_for(lambda: not os.listdir(spool), 30, what="spool emptied by acks")
    assert w.alive()


def spares(cluster_tmp, dev="w1"):
    d = os.path.join(cluster_tmp, "w-" + dev, "run")
    return sorted(f for f in os.listdir(d) if f.startswith(".spare-"))


def test_result_files_are_reused(cluster):
    """An acknowledged result file is kept (STATE/run/.spare-N, at most 32)
    and written over for a later result, which must then read back whole
    even when the file held a longer one; spares left by an earlier run are
    deleted at start, never replayed."""
    cluster.start_main(offline_after=30)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    # A failed start: its result carries a long error, so its file is
    # longer than the next result.
    tid = submit(cluster, command=["/nonexistent/" + "x" * 600])
    t = wait_task(cluster, tid)
    assert t["state"] == "failed", t
    spool = os.path.join(cluster.tmp, "w-w1", "spool")
    wait_for(lambda: not os.listdir(spool) and spares(cluster.tmp), 30,
             what="the result acknowledged and its file kept as a spare")
    assert len(spares(cluster.tmp)) == 1, spares(cluster.tmp)
    # The next result goes over that spare while the main node is away,
    # and is read back from it when the main node returns.
    tid = submit(cluster, command=["sh", "-c", "sleep 2; exit 7"])
    wait_task(cluster, tid, states=("running",))
    cluster.main.kill9()
    wait_for(lambda: [f for f in os.listdir(spool) if f.endswith(".json")],
             30, what="the result in the spool")
    assert spares(cluster.tmp) == [], "the spare was not used"
    cluster.start_main(offline_after=30)
    t = wait_task(cluster, tid, timeout=60)
    assert t["state"] == "failed" and t["exit_code"] == 7, t
    assert t["attempt"] == 1, t
    assert "spool_corrupt" not in w.output()
    wait_for(lambda: not os.listdir(spool), 30, what="spool emptied by acks")
    # Many results: the spares stay bounded.
    ids = [submit(cluster, command=["true"]) for _ in range(40)]
    for tid in ids:
        assert wait_task(cluster, tid)["state"] == "completed"
    wait_for(lambda: not os.listdir(spool), 30, what="spool emptied by acks")
    assert 1 <= len(spares(cluster.tmp)) <= 32, spares(cluster.tmp)
    # A restart deletes them.
    w.stop()
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    wait_for(lambda: spares(cluster.tmp) == [], 10,
             what="the spares of the earlier run deleted")
    tid = submit(cluster, command=["true"])
    assert wait_task(cluster, tid)["state"] == "completed"


# ---- output kept while the main node is away ----

def spool_files(cluster_tmp, dev="w1"):
    d = os.path.join(cluster_tmp, "w-" + dev, "spool")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_output_survives_main_restart(cluster):
    """A task printing s1..s8 across a kill -9 and restart of the main node
    shows all eight: output written while the main node was down is kept
    by the worker and sent after it reconnects."""
    cluster.start_main(offline_after=30)
    w = cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, command=["sh", "-c",
                                   "for i in 1 2 3 4 5 6 7 8; do echo s$i; "
                                   "sleep 0.4; done"])
    wait_for(lambda: "s2" in logs(cluster, tid), 15, what="s2")
    cluster.main.kill9()
    spool = os.path.join(cluster.tmp, "w-w1", "spool")

    def spooled():
        out = ""
        for f in os.listdir(spool):
            if ".out." in f:
                with open(os.path.join(spool, f)) as fh:
                    out += fh.read()
        return out
    wait_for(lambda: "s5" in spooled(), 15,
             what="output written while the main node is down")
    cluster.start_main(offline_after=30)
    t = wait_task(cluster, tid, timeout=40)
    assert t["state"] == "completed" and t["attempt"] == 1, t
    out = logs(cluster, tid)
    firsts = [out.find("s%d\n" % i) for i in range(1, 9)]
    assert all(f >= 0 for f in firsts), out
    assert firsts == sorted(firsts), out
    wait_for(lambda: not spool_files(cluster.tmp), 15,
             what="the spool emptied by the result_ack (left: %s)"
             % spool_files(cluster.tmp))
    assert w.alive()


def outputs(c, task_id):
    return [m["data"] for m in c.of_type(
        "task_output", lambda d: d.get("task_id") == task_id)]


def test_output_replayed_in_order_before_result(fake):
    """After a reconnect the worker sends an attempt's output again from
    its first kept chunk, in seq order, and its result after it; once the
    result is acknowledged nothing of it is sent again."""
    fm, start = fake
    w = start()
    c1 = fm.wait_conn(1)
    c1.wait_msg("register")
    c1.ack()
    c1.assign("t1", 1, ["sh", "-c", "echo one; echo two >&2; sleep 1; "
                        "echo three; echo four; sleep 1; echo five"])
    c1.wait_msg("task_output", lambda d: "two" in d["data"])
    c1.close()                      # the main node goes away mid-task
    c2 = fm.wait_conn(2, timeout=15)
    c2.wait_msg("register")
    wait_for(lambda: "event=task_result task=t1 " in w.output(), 30,
             what="the task to end while not registered")
    c2.ack()
    res = c2.wait_msg("task_result", lambda d: d["task_id"] == "t1")
    outs = outputs(c2, "t1")
    seqs = [o["seq"] for o in outs]
    assert seqs == list(range(len(seqs))) and len(seqs) >= 4, outs
    text = "".join(o["data"] for o in outs)
    for word in ("one", "two", "three", "four", "five"):
        assert word in text, text
    assert [o["stream"] for o in outs if "two" in o["data"]] == ["stderr"]
    # The result comes after every chunk of its attempt.
    i_res = c2.msgs.index(res)
    assert all(c2.msgs.index(m) < i_res for m in c2.of_type(
        "task_output", lambda d: d.get("task_id") == "t1"))
    assert res["data"]["status"] == "completed"
    # Not acknowledged: sent again, output first, after a reconnect.
    c2.close()
    c3 = fm.wait_conn(3, timeout=15)
    c3.wait_msg("register")
    c3.ack()
    c3.wait_msg("task_result", lambda d: d["task_id"] == "t1")
    assert [o["seq"] for o in outputs(c3, "t1")] == seqs
    c3.result_ack("t1", 1)
    wait_for(lambda: not os.listdir(os.path.join(str(fm_state(w)), "spool")),
             10, what="the spool emptied by the result_ack")
    c3.close()
    c4 = fm.wait_conn(4, timeout=15)
    c4.wait_msg("register")
    c4.ack()
    c4.wait_msg("heartbeat")
    time.sleep(0.5)
    assert not c4.of_type("task_output") and not c4.of_type("task_result")
    assert w.alive()


def fm_state(worker):
    return worker.argv[worker.argv.index("--state-dir") + 1]


def test_output_kept_offline_is_bounded(fake):
    """Output written while the main node is away is kept up to about
    1 MiB per attempt, oldest dropped first; what is kept is sent in order
    and ends with the last chunk."""
    fm, start = fake
    w = start()
    c1 = fm.wait_conn(1)
    c1.wait_msg("register")
    c1.ack()
    # About 4 MiB, in 4 KiB lines, after the link is gone.
    c1.assign("big", 1, ["sh", "-c", "sleep 1; i=0; while [ $i -lt 1024 ]; "
                         "do printf '%04095d\n' $i; i=$((i+1)); done; "
                         "echo end"])
    c1.wait_msg("task_started")
    c1.close()
    c2 = fm.wait_conn(2, timeout=15)
    c2.wait_msg("register")
    spool = os.path.join(fm_state(w), "spool")

    def done_and_size():
        names = os.listdir(spool)
        if not any(n.endswith(".json") for n in names):
            return None
        return sum(os.path.getsize(os.path.join(spool, n)) for n in names)
    size = wait_for(done_and_size, 60, what="the task to end offline")
    assert size <= 1024 * 1024 + 64 * 1024, size
    assert "event=output_trimmed" in w.output()
    c2.ack()
    c2.wait_msg("task_result", lambda d: d["task_id"] == "big")
    outs = outputs(c2, "big")
    seqs = [o["seq"] for o in outs]
    assert seqs[0] > 0, "the oldest output should have been dropped"
    assert not c2.of_type("(bad json)"), c2.of_type("(bad json)")[:1]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs[:10]
    assert outs[-1]["data"].endswith("end\n")


def test_container_left_by_killed_worker_is_removed(podman_cluster,
                                                     test_image):
    """A worker killed -9 under a container task removes the container when
    it restarts, and leaves no conmon or `runc init` behind."""
    c = podman_cluster
    tid = submit(c, command=["sleep", "6110"], image=test_image)
    t = wait_task(c, tid, states=("running",), timeout=60)
    name = wait_for(lambda: container_name(c.workers["c1"], tid,
                                           t["attempt"]), 30,
                    what="the container name in the log")
    wait_for(lambda: container_exists(name), 60, what="container %s" % name)
    wait_for(lambda: conmons(name), 30, what="the container's conmon")
    wait_for(lambda: pgrep("^sleep 6110$"), 30, what="the container's sleep")
    old = pgrep("^sleep 6110$")
    c.workers["c1"].kill9()
    w2 = c.start_worker("c1", runtime="podman")
    wait_for(lambda: "event=task_lost" in w2.output(), 60,
             what="the restarted worker to find the lost task")
    wait_for(lambda: not container_exists(name), 60,
             what="container %s removed" % name)
    wait_for(lambda: not conmons(name), 30,
             what="no conmon or runc init left for %s (left: %s)"
             % (name, conmons(name)))
    wait_for(lambda: not [p for p in old if os.path.exists("/proc/%d" % p)],
             30, what="the container's processes %s to be gone" % old)
    # The attempt is re-queued (a lost device), not recorded failed.
    wait_for(lambda: get_task(c, tid)["attempt"] >= 2, 60,
             what="the lost attempt to be re-queued")


def test_container_created_by_earlier_run_is_cleaned(podman_cluster,
                                                     test_image, tmp_path):
    """A container of this worker left in the created state (conmon and a
    `runc init` waiting for a start that never comes) is removed with its
    processes when the worker starts; another worker's is left alone."""
    c = podman_cluster
    w = c.workers["c1"]
    import re
    tag = re.search(r"event=start .* tag=(\S+)", w.output()).group(1)
    mine = "encore-%s-orphan-1" % tag
    theirs = "encore-c1-000000-orphan-1"
    for n in (mine, theirs):
        subprocess.run(["podman", "rm", "-f", n], capture_output=True)
        r = subprocess.run(["podman", "create", "--name", n, test_image,
                            "sleep", "1"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["podman", "init", n], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    try:
        assert conmons(mine) and conmons(theirs)
        w.stop()
        w2 = c.start_worker("c1", runtime="podman")
        wait_for(lambda: not container_exists(mine), 60,
                 what="container %s removed" % mine)
        wait_for(lambda: not conmons(mine), 30,
                 what="no conmon or runc init left for %s" % mine)
        assert container_exists(theirs), "another worker's container"
        assert conmons(theirs)
        assert w2.alive()
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", theirs],
                       capture_output=True)
