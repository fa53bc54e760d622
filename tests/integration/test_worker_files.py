# SPDX-License-Identifier: ISC
"""Files in, files out, on the worker: a real main node and real workers
(process and container tasks), files uploaded and fetched over the
protocol (protocol/PROTOCOL.md "Files").

The worker fetches a task's inputs into its cache (STATE/cache, by
SHA-256) before the task starts, puts them in its working directory,
sends back what its output patterns match, and sends its checkpoint
files when it exits 85.  Big files are made from one random MiB stamped
per MiB (files_helper.py), uploaded from disk, and deleted after each
test.
"""

import glob
import hashlib
import os
import shutil
import signal
import subprocess
import threading

import pytest

import files_helper
from conftest import wait_for

FINAL = ("completed", "failed", "timed_out", "cancelled")
MB = 1 << 20


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(autouse=True)
def drop_big_files(tmp_path):
    """Big files go when the test is over (after the processes)."""
    yield
    for pat in ("*.bin", "main/files", "w-*/cache", "w-*/work"):
        for p in glob.glob(os.path.join(str(tmp_path), pat)):
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)


def metric(cluster, name):
    for line in cluster.text("metrics").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0


def sent(cluster):
    return metric(cluster, "encore_file_bytes_sent_total")


def upload(cluster, data):
    with cluster.operator() as op:
        r = op.upload(data)
    assert r["data"]["complete"] is True, r
    return {"sha256": sha(data), "size": len(data)}


def upload_big(cluster, path, mb):
    h, size = files_helper.make_file(path, mb)
    with cluster.operator() as op:
        r = files_helper.upload_path(op, path, h)
    assert r["data"]["complete"] is True, r
    return {"sha256": h, "size": size}


def submit(cluster, task):
    with cluster.operator() as op:
        r = op.request("submit", {"task": task})
    assert r["data"]["ok"] is True, r
    return r["data"]["task_id"]


def get_task(cluster, tid):
    with cluster.operator() as op:
        r = op.request("get_task", {"task_id": tid})
    assert r["data"]["ok"] is True, r
    return r["data"]["task"]


def wait_task(cluster, tid, states=FINAL, timeout=60):
    return wait_for(lambda: (lambda t: t if t["state"] in states else None)(
        get_task(cluster, tid)), timeout,
        what="task %s to reach %s" % (tid, states))


def logs(cluster, tid):
    with cluster.operator() as op:
        r = op.request("logs", {"task_id": tid})
    assert r["data"]["ok"] is True, r
    return r["data"]["output"]


def download(cluster, h):
    with cluster.operator() as op:
        data, fin = op.download(h, timeout=60)
    assert fin["data"]["ok"] is True, fin
    return data


def outputs(task):
    return {o["name"]: o for o in task["outputs"]}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssPeak:
    """The peak VmRSS of a process, sampled every 20 ms in a thread."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except OSError:
                pass
            self.stop.wait(0.02)

    def done(self):
        self.stop.set()
        self.t.join()
        return self.peak


def cache_file(cluster, dev, h):
    return os.path.join(cluster.tmp, "w-" + dev, "cache", h[:2], h)


def partial_file(cluster, dev, h):
    return os.path.join(cluster.tmp, "w-" + dev, "cache", "partial", h)


def one_worker(cluster, *args, **kw):
    cluster.start_main(*kw.pop("main_args", ()))
    cluster.start_worker("w1", *args, **kw)
    cluster.wait_state("w1", "online")


def test_input_round_trip_50mb(cluster):
    """A 50 MB input reaches the task whole (its SHA-256 computed by the
    task itself), and what the task writes comes back as its output."""
    one_worker(cluster)
    data = os.urandom(50 * MB)
    f = upload(cluster, data)
    tid = submit(cluster, {
        "command": ["sh", "-c", "sha256sum in.bin > out.txt"],
        "inputs": [dict(f, name="in.bin")], "outputs": ["out.txt"]})
    t = wait_task(cluster, tid)
    assert t["state"] == "completed", t
    out = outputs(t)["out.txt"]
    got = download(cluster, out["sha256"]).decode()
    assert got.split()[0] == sha(data), got
    assert out["size"] == len(got) and out["mode"] == 0o644
    # The cache holds the input under its hash, the right bytes.
    assert files_helper.sha_file(cache_file(cluster, "w1", sha(data))) == \
        sha(data)


def test_input_set_with_directories_and_modes(cluster):
    """Several inputs with subdirectories and modes (an executable
    script); output patterns with a directory, and what they do not take
    (a dot file, a directory, a name through a symbolic link)."""
    one_worker(cluster)
    script = (b"#!/bin/sh\nset -e\n"
              b"test -x ./run.sh\n"
              b"test -x same/x.bin && test ! -x same/r.bin\n"
              b"cmp same/r.bin same/x.bin\n"
              b"cat a.txt data/b.csv data/sub/c.bin > /dev/null\n"
              b"mkdir -p results/deep\n"
              b"stat -c %a data/sub/c.bin > results/mode.txt\n"
              b"cat data/b.csv > results/b.txt\n"
              b"echo hidden > results/.hidden.txt\n"
              b"echo deep > results/deep/d.txt\n"
              b"ln -s /etc results/etc\n"
              b"ln -s /etc/hostname results/host.txt\n"
              b"find . -type f | sort\n")
    same = os.urandom(70000)
    files = {"run.sh": (script, 0o755), "a.txt": (b"a" * 1000, 0o644),
             "data/b.csv": (b"x,y\n1,2\n", 0o640),
             "data/sub/c.bin": (os.urandom(300000), 0o600),
             # One file under two names and modes: a link and a copy.
             "same/r.bin": (same, 0o644), "same/x.bin": (same, 0o755)}
    inputs = []
    for name, (b, mode) in files.items():
        inputs.append(dict(upload(cluster, b), name=name, mode=mode))
    tid = submit(cluster, {"command": ["./run.sh"], "inputs": inputs,
                           "outputs": ["results/*.txt", "results/*/*.txt"]})
    t = wait_task(cluster, tid)
    assert t["state"] == "completed", (t, logs(cluster, tid))
    outs = outputs(t)
    assert sorted(outs) == ["results/b.txt", "results/deep/d.txt",
                            "results/mode.txt"], outs
    assert download(cluster, outs["results/mode.txt"]["sha256"]) == b"600\n"
    assert download(cluster, outs["results/b.txt"]["sha256"]) == b"x,y\n1,2\n"
    listing = logs(cluster, tid)
    for name in files:
        assert "./" + name in listing


def test_missing_output_fails_the_task(cluster):
    """A declared output missing after exit code 0 fails the task with its
    name; what did match is still sent and listed.  A name reached
    through a symbolic link out of the working directory is no match."""
    one_worker(cluster)
    tid = submit(cluster, {
        "command": ["sh", "-c", "echo ok > out.txt; ln -s /etc etc"],
        "outputs": ["out.txt", "never*.txt", "etc/hostname"]})
    t = wait_task(cluster, tid)
    assert t["state"] == "failed", t
    err = t["attempts"][-1]["error"]
    assert err == "missing output never*.txt", err
    assert list(outputs(t)) == ["out.txt"]
    assert download(cluster, outputs(t)["out.txt"]["sha256"]) == b"ok\n"
    tid = submit(cluster, {"command": ["sh", "-c", "ln -s /etc etc"],
                           "outputs": ["etc/hostname"]})
    t = wait_task(cluster, tid)
    assert t["state"] == "failed", t
    assert t["attempts"][-1]["error"] == "missing output etc/hostname"
    assert t["outputs"] == []
    # A failed task's outputs come back too.
    tid = submit(cluster, {"command": ["sh", "-c", "echo e > err.log; exit 3"],
                           "outputs": ["*.log", "none"]})
    t = wait_task(cluster, tid)
    assert t["state"] == "failed" and t["attempts"][-1]["exit_code"] == 3
    assert list(outputs(t)) == ["err.log"]


def test_same_input_twice_is_sent_once_and_damage_is_fetched_again(cluster):
    """A second task with the same input on the same device fetches
    nothing (the main node's byte counter does not move); a cached file
    damaged on the device is found out and fetched again, never used."""
    one_worker(cluster)
    data = os.urandom(5 * MB)
    f = dict(upload(cluster, data), name="in.bin")
    task = {"command": ["sh", "-c", "sha256sum in.bin"], "inputs": [f]}
    s0 = sent(cluster)
    t = wait_task(cluster, submit(cluster, task))
    assert t["state"] == "completed", t
    s1 = sent(cluster)
    assert s1 - s0 >= len(data)
    tid = submit(cluster, task)
    assert wait_task(cluster, tid)["state"] == "completed"
    assert sent(cluster) == s1
    assert sha(data) in logs(cluster, tid)
    # Damage the cached copy (one byte, same size).
    path = cache_file(cluster, "w1", sha(data))
    with open(path, "r+b") as fh:
        fh.seek(12345)
        b = fh.read(1)
        fh.seek(12345)
        fh.write(bytes([b[0] ^ 0xff]))
    tid = submit(cluster, task)
    assert wait_task(cluster, tid)["state"] == "completed"
    assert sha(data) in logs(cluster, tid)
    assert sent(cluster) - s1 >= len(data)
    assert files_helper.sha_file(path) == sha(data)
    out = cluster.workers["w1"].output()
    assert "event=cache_damaged" in out


def test_scheduler_prefers_the_device_that_holds_the_inputs(cluster):
    """Among idle devices alike, a task goes where its inputs already are:
    "b" fetched the file, then "a" (first by id, which wins a tie
    otherwise) joins; the next tasks with that input still run on "b"
    and nothing is sent again.  A task with another input is not held
    to "b"."""
    cluster.start_main()
    cluster.start_worker("b")
    cluster.wait_state("b", "online")
    data = os.urandom(1 * MB)
    f = dict(upload(cluster, data), name="in.bin")
    task = {"command": ["sh", "-c", "sha256sum in.bin"], "inputs": [f]}
    t = wait_task(cluster, submit(cluster, task))
    assert (t["state"], t["device"]) == ("completed", "b"), t
    cluster.start_worker("a")
    cluster.wait_state("a", "online")
    s1 = sent(cluster)
    for _ in range(3):
        t = wait_task(cluster, submit(cluster, task))
        assert (t["state"], t["device"]) == ("completed", "b"), t
    assert sent(cluster) == s1
    other = dict(upload(cluster, os.urandom(1000)), name="in.bin")
    t = wait_task(cluster, submit(cluster, dict(task, inputs=[other])))
    assert (t["state"], t["device"]) == ("completed", "a"), t


def test_cache_is_bounded_lru_and_keeps_what_a_start_needs(cluster):
    """--cache-mb bounds the cache: the least recently used file goes
    first, and a task whose inputs together exceed the bound still gets
    them all (pinned while it starts), after which the cache is trimmed
    back within its bound."""
    one_worker(cluster, "--cache-mb", "1")
    a = os.urandom(600 * 1024)
    b = os.urandom(600 * 1024)
    fa = dict(upload(cluster, a), name="a")
    fb = dict(upload(cluster, b), name="b")

    def run(*inputs):
        s0 = sent(cluster)
        t = wait_task(cluster, submit(cluster, {
            "command": ["sh", "-c", "cat %s | sha256sum" % " ".join(
                f["name"] for f in inputs)], "inputs": list(inputs)}))
        assert t["state"] == "completed", t
        return sent(cluster) - s0, logs(cluster, t["id"])

    def cached(data):
        return os.path.exists(cache_file(cluster, "w1", sha(data)))
    assert run(fa)[0] == len(a) and cached(a)
    assert run(fb)[0] == len(b) and cached(b) and not cached(a)
    assert run(fb)[0] == 0
    n, out = run(fa, fb)
    assert n == len(a) and sha(a + b) in out
    # Both were there for the start; b, used least recently, went after.
    assert cached(a) and not cached(b)


def test_300mb_input_main_rss_and_cancel_while_fetching(cluster):
    """A 300 MB input goes to the worker with the main node's RSS under
    100 MB; a cancel while a task's files are fetched ends it at once."""
    one_worker(cluster, "--cache-mb", "2048")
    f = upload_big(cluster, os.path.join(cluster.tmp, "big.bin"), 300)
    peak = RssPeak(cluster.main.pid)
    tid = submit(cluster, {"command": ["sh", "-c", "sha256sum in.bin"],
                           "inputs": [dict(f, name="in.bin")]})
    t = wait_task(cluster, tid, timeout=120)
    rss = peak.done()
    assert t["state"] == "completed", t
    assert f["sha256"] in logs(cluster, tid)
    # Under ASan freed memory waits in its quarantine (256 MB): RSS
    # says nothing there.
    if not os.environ.get("ENCORE_ASAN"):
        assert 0 < rss < 100 * 1024, "main node RSS %d kB" % rss
    # Cancel while fetching: the cache holds it, so drop it first.
    cluster.workers["w1"].stop()
    shutil.rmtree(os.path.join(cluster.tmp, "w-w1", "cache"))
    cluster.start_worker("w1", "--cache-mb", "2048")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, {"command": ["true"],
                           "inputs": [dict(f, name="in.bin")]})
    wait_for(lambda: os.path.exists(partial_file(cluster, "w1", f["sha256"])),
             what="the fetch to begin")
    with cluster.operator() as op:
        assert op.request("cancel", {"task_id": tid})["data"]["ok"] is True
    t = wait_task(cluster, tid, timeout=10)
    assert t["state"] == "cancelled", t
    assert "event=task_stopped" in cluster.workers["w1"].output()


def test_worker_killed_mid_download_resumes(cluster):
    """A worker killed -9 halfway through a 300 MB download and started
    again goes on from the bytes it holds (hashed again first): in all
    the main node sent less than 1.3 times the file."""
    cluster.start_main("--lost-after", "2")
    cluster.start_worker("w1", "--cache-mb", "2048")
    cluster.wait_state("w1", "online")
    f = upload_big(cluster, os.path.join(cluster.tmp, "big.bin"), 300)
    s0 = sent(cluster)
    w = cluster.workers["w1"]
    tid = submit(cluster, {"command": ["sh", "-c", "sha256sum in.bin"],
                           "inputs": [dict(f, name="in.bin")]})
    part = partial_file(cluster, "w1", f["sha256"])

    def halfway():
        try:
            return os.path.getsize(part) >= f["size"] // 3
        except OSError:
            return False
    wait_for(halfway, 60, interval=0.002, what="a third downloaded")
    w.signal(signal.SIGSTOP)
    held = os.path.getsize(part)
    w.kill9()
    assert held < f["size"], "the download ended before the kill"
    cluster.start_worker("w1", "--cache-mb", "2048")
    t = wait_task(cluster, tid, timeout=120)
    assert t["state"] == "completed", t
    assert f["sha256"] in logs(cluster, tid)
    total = sent(cluster) - s0
    assert total < 1.3 * f["size"], (total, held)
    out = cluster.workers["w1"].output()
    assert "event=fetch_resume" in out, out[-3000:]


COUNTER = r"""
n=$(cat count 2>/dev/null || echo 0)
echo "start at $n"
while [ "$n" -lt 30 ]; do
    n=$((n + 1))
    echo "$n" > count
    echo "step $n"
    sleep 0.05
    if [ $((n % 5)) -eq 0 ] && [ "$n" -lt 30 ]; then exit 85; fi
done
echo "done $n" > result.txt
"""


def test_checkpoints_restart_in_place_and_resume_elsewhere(cluster):
    """Exit code 85 takes a checkpoint: the worker sends the checkpoint
    files, the main node keeps them, and the task runs again in place;
    a worker killed -9 under it hands the task to another device, which
    starts from the last checkpoint, not from zero."""
    cluster.start_main("--lost-after", "2")
    cluster.start_worker("a")
    cluster.wait_state("a", "online")
    script = COUNTER.replace("sleep 0.05", "sleep 0.3")
    tid = submit(cluster, {"command": ["sh", "-c", script],
                           "checkpoints": ["count"],
                           "outputs": ["result.txt"]})

    def checkpointed(at_least):
        t = get_task(cluster, tid)
        if not t["checkpoint"]:
            return None
        n = int(download(cluster, t["checkpoint"][0]["sha256"]))
        return n if n >= at_least else None
    n = wait_for(lambda: checkpointed(10), 60, what="a checkpoint past 10")
    cluster.workers["a"].kill9()
    cluster.start_worker("b")
    t = wait_task(cluster, tid, timeout=90)
    assert t["state"] == "completed", t
    assert [a["device"] for a in t["attempts"]] == ["a", "b"], t["attempts"]
    # The output of attempt 2: it began from a checkpoint taken on "a",
    # not from zero, and ran again in place after each of its own.
    starts = [int(line.split()[-1]) for line in
              logs(cluster, tid).splitlines() if line.startswith("start at")]
    assert starts[0] >= n and starts == sorted(starts), starts
    assert starts[1:] == list(range(starts[0] + 5, 30, 5)), starts
    assert download(cluster, outputs(t)["result.txt"]["sha256"]) == b"done 30\n"
    assert "event=checkpoint_sent" in cluster.workers["b"].output()


def test_checkpoint_exit_without_patterns_is_an_exit_code(cluster):
    """Exit code 85 means a checkpoint only for a task that declares
    checkpoint files; otherwise it is an exit code like any other."""
    one_worker(cluster)
    t = wait_task(cluster, submit(cluster, {"command": ["sh", "-c",
                                                        "exit 85"]}))
    assert t["state"] == "failed" and t["attempts"][-1]["exit_code"] == 85


def test_output_survives_main_node_restart(cluster):
    """A 50 MB output being sent when the main node is killed -9 goes on
    from the bytes it has once it is back, then the result goes: the
    task completes with its output whole."""
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, {
        "command": ["sh", "-c", "head -c 50000000 /dev/urandom > out.bin; "
                    "sha256sum out.bin"],
        "outputs": ["out.bin"]})
    partial = os.path.join(cluster.state, "files", "partial")

    def receiving():
        for p in glob.glob(os.path.join(partial, "*")):
            if os.path.getsize(p) > 5 * MB:
                return True
        return False
    wait_for(receiving, 60, interval=0.002, what="the output upload")
    cluster.main.kill9()
    r0 = 0
    cluster.start_main()
    t = wait_task(cluster, tid, timeout=60)
    assert t["state"] == "completed", t
    out = outputs(t)["out.bin"]
    want = logs(cluster, tid).split()[0]
    assert out["sha256"] == want and out["size"] == 50000000
    assert sha(download(cluster, want)) == want
    got = metric(cluster, "encore_file_bytes_received_total") - r0
    assert got < 50000000, got
    assert "event=upload_resume" in cluster.workers["w1"].output()


def test_result_with_outputs_survives_a_worker_restart(cluster):
    """A result whose outputs could not be sent yet (the main node is
    down) survives the worker killed -9: once both are back the outputs
    go from the worker's cache, then the result, and the task
    completes with them."""
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    tid = submit(cluster, {
        "command": ["sh", "-c", "sleep 1; head -c 3000000 /dev/urandom "
                    "> out.bin; sha256sum out.bin"],
        "outputs": ["out.bin"]})
    wait_task(cluster, tid, states=("running",))
    cluster.main.kill9()
    w = cluster.workers["w1"]
    wait_for(lambda: "event=result_spooled" in w.output(), 30,
             what="the result spooled")
    w.kill9()
    cluster.start_main()
    cluster.start_worker("w1")
    t = wait_task(cluster, tid, timeout=60)
    assert t["state"] == "completed", t
    out = outputs(t)["out.bin"]
    assert out["sha256"] == logs(cluster, tid).split()[0]
    assert sha(download(cluster, out["sha256"])) == out["sha256"]


def test_damaged_file_on_the_main_node_fails_the_start(cluster):
    """Bytes that do not hash to their name are fetched again once, then
    the start fails with a clear error (never used)."""
    one_worker(cluster)
    data = os.urandom(200000)
    f = upload(cluster, data)
    stored = os.path.join(cluster.state, "files", f["sha256"][:2],
                          f["sha256"])
    # One byte changed for sure (writing a fixed byte left random data
    # as it was once in 256 runs).
    with open(stored, "r+b") as fh:
        fh.seek(100)
        fh.write(bytes([data[100] ^ 0xff]))
    tid = submit(cluster, {"command": ["true"],
                           "inputs": [dict(f, name="in.bin")]})
    t = wait_task(cluster, tid)
    assert t["state"] == "failed", t
    err = t["attempts"][-1]["error"]
    assert "did not match its SHA-256 in 2 downloads" in err, err
    assert not os.path.exists(cache_file(cluster, "w1", f["sha256"]))
    assert not os.path.exists(partial_file(cluster, "w1", f["sha256"]))


def test_upload_refused_fails_the_task(cluster):
    """An output the main node cannot take (its file store is full) fails
    the task with the main node's reason."""
    one_worker(cluster, main_args=("--max-files-mb", "2"))
    tid = submit(cluster, {
        "command": ["sh", "-c", "head -c 3000000 /dev/urandom > big.out"],
        "outputs": ["big.out"]})
    t = wait_task(cluster, tid, timeout=30)
    assert t["state"] == "failed", t
    err = t["attempts"][-1]["error"]
    assert "output big.out was not taken by the main node" in err, err
    assert "--max-files-mb" in err, err


def test_full_disk_on_the_worker(cluster, tmp_path):
    """A device whose disk cannot hold an input says so and the task
    fails to start there; nothing half-written is kept."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs for a full disk (needs "
                    "root / CAP_SYS_ADMIN): " + r.stderr.strip())
    try:
        cluster.start_main()
        cluster.start_worker("w1", "--state-dir", str(mnt / "w"))
        cluster.wait_state("w1", "online")
        f = upload(cluster, os.urandom(30 * MB))
        tid = submit(cluster, {"command": ["true"],
                               "inputs": [dict(f, name="in.bin")]})
        t = wait_task(cluster, tid)
        assert t["state"] == "failed", t
        err = t["attempts"][-1]["error"]
        assert "disk is full" in err, err
        assert not os.listdir(str(mnt / "w" / "cache" / "partial"))
    finally:
        cluster.stop_all()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_container_task_sees_work(podman_cluster):
    """A container task's working directory is /work: its inputs there,
    its cwd, writable, its outputs sent back; the rest stays read-only."""
    c = podman_cluster
    data = os.urandom(100000)
    f = dict(upload(c, data), name="sub/in.bin")
    tid = submit(c, {
        "image": "localhost/encore-test:latest",
        "command": ["sh", "-c", "pwd; sha256sum sub/in.bin > /work/out.txt; "
                    "touch /etc/x 2>/dev/null && echo etc-writable; true"],
        "inputs": [f], "outputs": ["out.txt"]})
    t = wait_task(c, tid, timeout=60)
    assert t["state"] == "completed", (t, logs(c, tid))
    out = logs(c, tid)
    assert out.splitlines()[0] == "/work", out
    assert "etc-writable" not in out
    got = download(c, outputs(t)["out.txt"]["sha256"]).decode()
    assert got.split()[0] == sha(data)
