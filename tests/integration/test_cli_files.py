# SPDX-License-Identifier: ISC
"""Files in, files out, from the CLI's side: `submit --input/--output/
--checkpoint`, `encore fetch`, `submit --wait --fetch`, and `show`.

Focus of this file: README "Files in, files out".  A real main node holds
the files; the CLI talks to it over TLS with the pinned operator token
(cluster.cli), and what the main node got is checked by downloading it
with encore_client and by its byte counters.  Outputs come from a worker
played by the test (fake_worker.py) over the real protocol; hostile names
and bytes come from a fake main node (fake_main.py).
"""

import hashlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading

import pytest

from conftest import binpath, wait_for
from fake_main import FakeMain
from fake_worker import FakeWorker

MIB = 1024 * 1024


def sha(b):
    return hashlib.sha256(b).hexdigest()


def metric(cluster, name):
    for line in cluster.text("metrics").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def received(cluster):
    return metric(cluster, "encore_file_bytes_received_total")


def get_task(cluster, tid):
    with cluster.operator() as op:
        return op.request("get_task", {"task_id": tid})["data"]["task"]


def tasks_total(cluster):
    with cluster.operator() as op:
        return op.request("list_tasks", {"all": True})["data"]["total"]


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def test_inputs_file_and_directory(cluster, tmp_path):
    """A file and a directory (walked, modes kept, links inside it kept
    or skipped as the README says) become inputs with the right names and
    hashes, and the main node holds their bytes."""
    cluster.start_main()
    big = os.urandom(3 * MIB + 17)
    small = b"#!/bin/sh\necho hi\n"
    d = tmp_path / "photos"
    write(str(d / "a.jpg"), big)
    write(str(d / "sub" / "run.sh"), small, 0o755)
    write(str(d / "sub" / "deep" / "empty"), b"")
    os.symlink("a.jpg", str(d / "same.jpg"))          # inside: sent
    os.symlink("/etc/hostname", str(d / "escape"))     # outside: skipped
    os.symlink("sub", str(d / "subdir-link"))          # a directory: skipped
    single = tmp_path / "lut.cube"
    write(str(single), b"lut\n")
    r = cluster.cli("submit", "--input", str(single) + ":cfg/lut.cube",
                    "--input", str(d), "--output", "out/*.jpg",
                    "--checkpoint", "state.bin", "--", "true")
    assert r.returncode == 0, r.stderr
    tid = r.stdout.strip()
    assert "skipping %s/escape" % d in r.stderr
    assert "skipping %s/subdir-link" % d in r.stderr
    t = get_task(cluster, tid)
    got = {f["name"]: f for f in t["inputs"]}
    want = {"cfg/lut.cube": (b"lut\n", 0o644),
            "photos/a.jpg": (big, 0o644),
            "photos/same.jpg": (big, 0o644),
            "photos/sub/run.sh": (small, 0o755),
            "photos/sub/deep/empty": (b"", 0o644)}
    assert sorted(got) == sorted(want), got
    for name, (data, mode) in want.items():
        assert got[name]["sha256"] == sha(data), name
        assert got[name]["size"] == len(data), name
        assert got[name]["mode"] == mode, name
    assert t["output_patterns"] == ["out/*.jpg"]
    assert t["checkpoint_patterns"] == ["state.bin"]
    with cluster.operator() as op:
        for name, (data, _) in want.items():
            b, fin = op.download(sha(data))
            assert fin["data"]["ok"] is True and b == data, name
    # The same bytes under two names went up once.
    assert received(cluster) == len(big) + len(small) + 4
    # show lists them with sizes and hashes, and the patterns.
    r = cluster.cli("show", tid, check=True)
    for name, (data, _) in want.items():
        assert name in r.stdout and sha(data) in r.stdout
    assert "0755" in r.stdout and str(len(big)) in r.stdout
    assert "out/*.jpg" in r.stdout and "state.bin" in r.stdout


def test_input_name_forms(cluster, tmp_path):
    """PATH:NAME splits at the last ':', a path holding ':' is taken whole
    when it exists, '.' is named after its directory, and a NAME that
    leaves the working directory is a usage error."""
    cluster.start_main()
    write(str(tmp_path / "we:ird"), b"1")
    write(str(tmp_path / "dotdir" / "x"), b"2")
    r = cluster.cli("submit", "--input", str(tmp_path / "we:ird"),
                    "--", "true")
    assert r.returncode == 0, r.stderr
    assert [f["name"] for f in get_task(cluster, r.stdout.strip())
            ["inputs"]] == ["we:ird"]
    e = dict(os.environ)
    r = subprocess.run([binpath("encore"), "submit", "--input", ".", "--",
                        "true"], cwd=str(tmp_path / "dotdir"),
                       env=dict(e, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
                                ENCORE_TOKEN=cluster.operator_token),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [f["name"] for f in get_task(cluster, r.stdout.strip())
            ["inputs"]] == ["dotdir/x"]
    before = tasks_total(cluster)
    for bad in (str(tmp_path / "we:ird") + ":../x", ":x",
                str(tmp_path / "dotdir") + ":/abs"):
        r = cluster.cli("submit", "--input", bad, "--", "true")
        assert r.returncode == 2, (bad, r.stderr)
        assert "NAME" in r.stderr or "PATH" in r.stderr, r.stderr
    assert tasks_total(cluster) == before


def test_unreadable_input_is_a_usage_error_and_nothing_is_sent(cluster,
                                                               tmp_path):
    """A missing input, a fifo, a device, a socket inside a directory: exit
    2 with the path named, nothing uploaded (not even the good inputs
    given before it) and nothing queued."""
    cluster.start_main()
    good = tmp_path / "good.bin"
    write(str(good), os.urandom(100000))
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    sockdir = tmp_path / "withsock"
    os.makedirs(str(sockdir))
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sockdir / "ctl.sock"))
    cases = [(str(tmp_path / "missing"), "No such file"),
             (str(fifo), "is a fifo"),
             ("/dev/null", "is a device"),
             (str(sockdir), "is a socket")]
    try:
        for path, why in cases:
            r = cluster.cli("submit", "--input", str(good), "--input", path,
                            "--", "true")
            assert r.returncode == 2, (path, r.returncode, r.stderr)
            assert path in r.stderr and why in r.stderr, r.stderr
            assert "usage: encore submit" in r.stderr
    finally:
        s.close()
    assert received(cluster) == 0
    assert tasks_total(cluster) == 0


def test_too_many_inputs_for_one_line(cluster, tmp_path):
    """More input files than one submit line can list: a usage error
    that says to pack them, before anything is sent."""
    cluster.start_main()
    d = tmp_path / "many"
    os.makedirs(str(d))
    for i in range(600):
        write(str(d / ("file-with-a-rather-long-name-%04d.txt" % i)), b"x")
    r = cluster.cli("submit", "--input", str(d), "--", "true")
    assert r.returncode == 2, r.stderr
    assert "600 input files" in r.stderr and "tar cf" in r.stderr
    assert received(cluster) == 0 and tasks_total(cluster) == 0


def test_unreadable_file_as_another_user(cluster, tmp_path):
    """A file the user may not read (mode 000, not root) is a usage
    error before anything is sent."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run encore as another user")
    cluster.start_main()
    # pytest's own temp dirs are 0700: the other user needs a way in.
    top = tempfile.mkdtemp(prefix="encore-unreadable-")
    try:
        os.chmod(top, 0o755)
        d = os.path.join(top, "pub")
        os.makedirs(d)
        os.chmod(d, 0o777)
        write(os.path.join(d, "readable"), b"y")
        write(os.path.join(d, "secret"), b"x", 0o000)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", binpath("encore"), "submit",
                            "--input", d, "--", "true"],
                           env=dict(os.environ,
                                    ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
                                    ENCORE_TOKEN=cluster.operator_token),
                           capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(top)
    assert r.returncode == 2, r.stderr
    assert "secret" in r.stderr and "Permission denied" in r.stderr
    assert tasks_total(cluster) == 0
    assert received(cluster) == 0


def test_upload_resumes_and_known_files_are_not_sent(cluster, tmp_path):
    """Half a file sent before (encore_client) is not sent again: the CLI
    goes on from the main node's `have`; a file it holds whole costs no
    bytes at all."""
    cluster.start_main()
    data = os.urandom(4 * MIB + 4321)
    path = tmp_path / "data.bin"
    write(str(path), data)
    half = 2 * MIB
    with cluster.operator() as op:
        op.send_frame(sha(data), len(data), 0, data[:MIB])
        op.send_frame(sha(data), len(data), MIB, data[MIB:half])
        wait_for(lambda: op.request("file_stat", {"sha256": sha(data)})
                 ["data"]["have"] == half, what="half of it stored")
    r0 = received(cluster)
    r = cluster.cli("submit", "--input", str(path), "--", "true")
    assert r.returncode == 0, r.stderr
    assert received(cluster) - r0 == len(data) - half
    r1 = received(cluster)
    r = cluster.cli("submit", "--input", str(path) + ":again.bin", "--",
                    "true")
    assert r.returncode == 0, r.stderr
    assert received(cluster) == r1
    with cluster.operator() as op:
        b, _ = op.download(sha(data))
        assert b == data


class DropProxy:
    """A TCP proxy to the main node that cuts its first connection after
    `cut` bytes from the client, and passes later ones whole."""

    def __init__(self, port, cut):
        self.port = port
        self.cut = cut
        self.conns = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            up = socket.create_connection(("127.0.0.1", self.port))
            limit = self.cut if self.conns == 1 else None
            threading.Thread(target=self._pump, args=(c, up, limit),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(up, c, None),
                             daemon=True).start()

    def _pump(self, a, b, limit):
        n = 0
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                n += len(d)
                if limit is not None and n > limit:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def test_dropped_connection_mid_upload_resumes(cluster, tmp_path):
    """The connection breaks halfway through an upload: the CLI says so,
    reconnects, asks file_stat where the main node stands and sends only
    the rest; the task is queued once."""
    cluster.start_main()
    data = os.urandom(8 * MIB)
    path = tmp_path / "big.bin"
    write(str(path), data)
    proxy = DropProxy(cluster.port, 4 * MIB)
    try:
        r = cluster.cli("submit", "--input", str(path), "--", "true",
                        env={"ENCORE_MAIN": proxy.addr})
    finally:
        proxy.close()
    assert r.returncode == 0, r.stderr
    assert "broke while sending an input" in r.stderr
    assert proxy.conns == 2
    # The bytes the main node had were not sent again (a frame in flight
    # at most).
    assert received(cluster) < len(data) + 2 * MIB, received(cluster)
    t = get_task(cluster, r.stdout.strip())
    assert t["inputs"][0]["sha256"] == sha(data)
    assert tasks_total(cluster) == 1


def test_store_full_and_too_large(cluster, tmp_path):
    """A store that cannot take the input (busy) and an input larger than
    --max-input-mb (bad_field) end submit with exit 1, a message that
    says what to do, and nothing queued."""
    cluster.start_main("--max-files-mb", "3", "--max-input-mb", "2")
    a = tmp_path / "a.bin"
    write(str(a), os.urandom(int(1.8 * MIB)))
    b = tmp_path / "b.bin"
    write(str(b), os.urandom(int(1.8 * MIB)))
    big = tmp_path / "big.bin"
    write(str(big), os.urandom(int(2.5 * MIB)))
    r = cluster.cli("submit", "--input", str(big), "--", "true")
    assert r.returncode == 1, r.stderr
    assert "--max-input-mb" in r.stderr and "nothing was queued" in r.stderr
    r = cluster.cli("submit", "--input", str(a), "--", "true")
    assert r.returncode == 0, r.stderr
    r = cluster.cli("submit", "--input", str(b), "--", "true")
    assert r.returncode == 1, r.stderr
    assert "busy" in r.stderr and "--max-files-mb" in r.stderr
    assert "nothing was queued" in r.stderr
    assert tasks_total(cluster) == 1


def test_fetch_outputs_and_wait_fetch(cluster, tmp_path):
    """Outputs a worker sent come down verified, with their modes, under
    their names (directories made); a second fetch keeps what is there;
    submit --wait --fetch fetches when the task ends, a failed one too,
    and exits with the task's code."""
    cluster.start_main(heartbeat=5)
    w = FakeWorker(cluster)
    try:
        r = cluster.cli("submit", "--output", "out/*", "--", "render")
        tid = r.stdout.strip()
        t = w.next_task()
        assert t["task_id"] == tid and t["outputs"] == ["out/*"]
        img = os.urandom(3 * MIB + 5)
        w.finish(t, {"out/frame.png": img,
                     "out/run.sh": (b"#!/bin/sh\n", 0o755)})
        wait_for(lambda: get_task(cluster, tid)["state"] == "completed",
                 what="task completed")
        dest = tmp_path / "res"
        r = cluster.cli("fetch", tid, str(dest))
        assert r.returncode == 0, r.stderr
        assert (dest / "out" / "frame.png").read_bytes() == img
        assert stat.S_IMODE(os.stat(str(dest / "out" / "run.sh")).st_mode) \
            == 0o755
        assert "fetched" in r.stdout
        assert [p for p in os.listdir(str(dest / "out"))
                if p.startswith(".encore")] == []
        sent = metric(cluster, "encore_file_bytes_sent_total")
        r = cluster.cli("fetch", tid, str(dest))
        assert r.returncode == 0 and r.stdout.count("already there") == 2
        assert metric(cluster, "encore_file_bytes_sent_total") == sent
        # show lists the outputs.
        r = cluster.cli("show", tid, check=True)
        assert "out/frame.png" in r.stdout and sha(img) in r.stdout

        # --wait --fetch, the task failing with code 3 after writing.
        env = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
                   ENCORE_TOKEN=cluster.operator_token)
        p = subprocess.Popen([binpath("encore"), "submit", "--output",
                              "log.txt", "--wait", "--fetch",
                              str(tmp_path / "w"), "--", "job"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        t = w.next_task()
        w.finish(t, {"log.txt": b"what happened\n"}, status="failed",
                 exit_code=3, output="working\n")
        out, err = p.communicate(timeout=30)
        assert p.returncode == 3, err
        assert "working" in out
        assert os.path.exists(str(tmp_path / "w" / "log.txt")), err
        assert (tmp_path / "w" / "log.txt").read_bytes() == \
            b"what happened\n"
        assert "log.txt" in err and "fetched" in err
    finally:
        w.close()


def test_damaged_output_leaves_nothing(cluster, tmp_path):
    """A file the main node serves that does not hash to its name is not
    kept: exit 1, both hashes named, no file and no temporary file."""
    cluster.start_main(heartbeat=5)
    w = FakeWorker(cluster)
    try:
        tid = cluster.cli("submit", "--output", "o.bin", "--",
                          "x").stdout.strip()
        t = w.next_task()
        data = os.urandom(2 * MIB)
        w.finish(t, {"o.bin": data})
    finally:
        w.close()
    h = sha(data)
    stored = os.path.join(cluster.state, "files", h[:2], h)
    bad = bytearray(data)
    bad[MIB] ^= 0xff
    os.chmod(stored, 0o600)
    with open(stored, "wb") as f:
        f.write(bytes(bad))
    dest = tmp_path / "d"
    r = cluster.cli("fetch", tid, str(dest))
    assert r.returncode == 1, r.stderr
    assert "did not check out" in r.stderr and h in r.stderr
    assert os.listdir(str(dest)) == []


def test_fetch_to_a_full_disk_leaves_nothing(cluster, tmp_path):
    """A disk that fills up while an output is written: a clear error,
    exit 1, nothing half-written left (no file, no temporary file)."""
    mnt = tmp_path / "small"
    os.makedirs(str(mnt))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs (needs root): " +
                    r.stderr.strip())
    try:
        cluster.start_main(heartbeat=5)
        w = FakeWorker(cluster)
        try:
            tid = cluster.cli("submit", "--output", "*.bin", "--",
                              "x").stdout.strip()
            t = w.next_task()
            w.finish(t, {"small.bin": b"s" * 1000,
                         "z-big.bin": os.urandom(3 * MIB)})
        finally:
            w.close()
        r = cluster.cli("fetch", tid, str(mnt))
        assert r.returncode == 1, r.stderr
        assert "disk is full" in r.stderr, r.stderr
        assert "nothing of it was kept" in r.stderr
        assert sorted(os.listdir(str(mnt))) == ["small.bin"]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_fetch_array_outputs_by_index(cluster, tmp_path):
    """An array's outputs go to DIR/INDEX/, each element's under its own
    index; submit --wait --fetch of an array does the same when it ends."""
    cluster.start_main(heartbeat=5)
    w = FakeWorker(cluster)
    try:
        env = dict(os.environ, ENCORE_MAIN="127.0.0.1:%d" % cluster.port,
                   ENCORE_TOKEN=cluster.operator_token)
        p = subprocess.Popen([binpath("encore"), "submit", "--array", "3",
                              "--output", "frame.txt", "--wait", "--fetch",
                              str(tmp_path / "frames"), "--", "render",
                              "{index}"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        for _ in range(3):
            t = w.next_task()
            idx = t["task_id"].split(".")[1]
            w.finish(t, {"frame.txt": ("frame %s\n" % idx).encode()})
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        aid = out.strip()
        for i in range(3):
            assert (tmp_path / "frames" / str(i) / "frame.txt") \
                .read_bytes() == ("frame %d\n" % i).encode()
        r = cluster.cli("fetch", aid, str(tmp_path / "again"))
        assert r.returncode == 0, r.stderr
        assert sorted(os.listdir(str(tmp_path / "again"))) == ["0", "1", "2"]
        r = cluster.cli("fetch", aid + ".1", str(tmp_path / "one"))
        assert r.returncode == 0, r.stderr
        assert os.listdir(str(tmp_path / "one")) == ["1"]
    finally:
        w.close()


def hostile_main(outputs, frames=None):
    """A fake main node whose get_task lists outputs, and whose file_get
    answers with frames [(sha, size, offset, bytes)] then ok."""
    def handler(conn, msg):
        t = msg["message_type"]
        if t == "get_task":
            conn.reply(msg, {"ok": True, "task": {
                "id": "7", "state": "completed", "outputs": outputs}})
        elif t == "file_get":
            for (h, size, off, data) in frames or []:
                conn.send_raw((
                    '{"message_type":"file_data","reply_to":"%s","data":'
                    '{"sha256":"%s","size":%d,"offset":%d,"len":%d}}\n'
                    % (msg["message_id"], h, size, off, len(data))).encode()
                    + data)
            conn.reply(msg, {"ok": True})
    return FakeMain(handler)


def run_fetch(fake, dest):
    return subprocess.run([binpath("encore"), "fetch", "7", str(dest)],
                          env=dict(os.environ, ENCORE_MAIN=fake.addr,
                                   ENCORE_TOKEN=fake.token),
                          capture_output=True, text=True, timeout=30)


def test_hostile_names_are_refused(tmp_path):
    """Names a main node sends that would leave DIR (.., absolute, a link
    in the way) are refused, and nothing is written outside DIR."""
    data = b"pwned\n"
    h = sha(data)
    frames = [(h, len(data), 0, data)]
    outside = tmp_path / "outside"
    os.makedirs(str(outside))
    for name in ("../outside/x", "/tmp/x", "a/../../outside/x", "a//b",
                 "ok\x1b[2J"):
        dest = tmp_path / "dest"
        shutil.rmtree(str(dest), ignore_errors=True)
        with hostile_main([{"name": name, "sha256": h, "size": len(data),
                            "mode": 0o644}], frames) as fake:
            r = run_fetch(fake, dest)
        assert r.returncode == 1, (name, r.stderr)
        assert "refusing the output" in r.stderr, r.stderr
        assert "\x1b" not in r.stderr
        assert os.listdir(str(outside)) == []
    # A link inside DIR that leads out is not followed.
    dest = tmp_path / "dest2"
    os.makedirs(str(dest))
    os.symlink(str(outside), str(dest / "sub"))
    with hostile_main([{"name": "sub/x", "sha256": h, "size": len(data),
                        "mode": 0o644}], frames) as fake:
        r = run_fetch(fake, dest)
    assert r.returncode == 1, r.stderr
    assert "in the way" in r.stderr
    assert os.listdir(str(outside)) == []


def test_hostile_bytes_are_refused(tmp_path):
    """Frames of another file, at another offset, or bytes that do not
    hash to the name: nothing is kept."""
    data = b"the real bytes\n"
    h = sha(data)
    out = [{"name": "f.txt", "sha256": h, "size": len(data), "mode": 0o644}]
    cases = [([(h, len(data), 0, b"the fake bytes\n")], "did not check out"),
             ([(sha(b"x"), len(data), 0, data)], "another file"),
             ([(h, len(data), 3, data[3:])], "another file"),
             ([(h, len(data), 0, data[:5])], "did not check out")]
    for frames, why in cases:
        dest = tmp_path / ("d%d" % cases.index((frames, why)))
        with hostile_main(out, frames) as fake:
            r = run_fetch(fake, dest)
        assert r.returncode == 1, r.stderr
        assert why in r.stderr, r.stderr
        assert os.listdir(str(dest)) == []


def test_top_detail_pane_lists_files(cluster, top, tmp_path):
    """encore-top's detail pane shows a task's inputs and outputs, names
    and sizes (over TLS, with the pinned token)."""
    from test_tui import select_task
    cluster.start_main(heartbeat=5)
    write(str(tmp_path / "in" / "table.csv"), b"x" * 1536)
    write(str(tmp_path / "in" / "notes.txt"), b"hello")
    queued = cluster.cli("submit", "--arch", "riscv64", "--name", "waits",
                         "--input", str(tmp_path / "in"), "--",
                         "true").stdout.strip()
    w = FakeWorker(cluster)
    try:
        top.start(cluster, cols=140, lines=40)
        top.wait_text("devices 1/1 online")
        top.keys("Tab")
        select_task(top, queued)
        top.wait_text("inputs:", "in/notes.txt 5B", "in/table.csv 1.5K")
        done = cluster.cli("submit", "--name", "makes", "--output", "*.png",
                           "--", "render").stdout.strip()
        t = w.next_task()
        w.finish(t, {"frame.png": os.urandom(3000)})
        top.keys("f")
        top.wait_text("tasks (all)", "completed")
        top.keys("Home")
        for _ in range(5):
            if "task %s makes" % done in top.screen():
                break
            top.keys("Down")
            top.wait_text("tasks (all)")
        top.wait_text("task %s makes" % done, "outputs:", "frame.png 2.9K")
    finally:
        w.close()
