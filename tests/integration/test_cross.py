# SPDX-License-Identifier: ISC
"""Cross-built workers under qemu-user against the native main node.

Focus of this file: `make CROSS=aarch64-linux-gnu` and `make
CROSS=arm-linux-gnueabihf` produce an encore-worker for a Raspberry Pi
(arm64 Pi 4/5, ARMv7 Pi 2/3) that joins a real x86 main node over TLS
with the pinned join token (the target's Mbed TLS, checked against the
pin), reports the architecture it runs as, and runs a command task.

How it runs: the test builds the worker itself (make CROSS=..., about 15 s
each; the target's libraries come from the sysroot packaging/
cross-sysroot.sh unpacks into build/sysroot/TRIPLET), then starts it as
`qemu-aarch64-static -L build/sysroot/aarch64-linux-gnu encore-worker ...`.
The sysroot holds the target's loader and libc as well as libevent, json-c
and Mbed TLS (libproc2 and libcrypto's SHA-256 are linked in from their
archives), so -L needs no other directory (/usr/aarch64-linux-gnu from
the cross toolchain would have libc but not those).

What the profile says under qemu-user, and so what is asserted:
- architecture: uname(2) is emulated, so the worker reports the target's
  machine, "aarch64" or "armv7l" (qemu-arm's default CPU is an ARMv7),
  exactly what it reports on a real Pi.  The devices csv arch column and an
  arch requirement of a task both see it.
- cpu_model, cpu_mhz, memory and disks come from /proc and /sys, which
  qemu-user does not emulate: they are the host's.  Only "present" is
  asserted for them.
- A task's process is the host's own program (/bin/echo): qemu-user hands
  execve() of a native binary to the kernel, which runs it natively (unless
  binfmt_misc sends ARM binaries back through qemu).  The test checks the
  output got back through the emulated worker, not where echo ran.

Skipped, with the reason, only when the cross compiler, qemu-user-static or
the target's package index is missing (packaging/deps.sh installs them).
"""

import os
import shutil
import struct
import subprocess

import pytest

from conftest import ROOT, Proc, wait_for

TARGETS = [
    # triplet, qemu, dpkg arch, uname -m, ELF e_machine
    ("aarch64-linux-gnu", "qemu-aarch64-static", "arm64", "aarch64", 183),
    ("arm-linux-gnueabihf", "qemu-arm-static", "armhf", "armv7l", 40),
]
FINAL = ("completed", "failed", "timed_out", "cancelled")


def _missing(triplet, qemu, arch):
    """Why this target cannot be built or run here, or None."""
    if shutil.which(triplet + "-gcc") is None:
        return "%s-gcc not installed (packaging/deps.sh installs gcc-%s)" % (
            triplet, triplet)
    if shutil.which(qemu) is None:
        return "%s not installed (package qemu-user-static)" % qemu
    r = subprocess.run(["apt-cache", "show", "libevent-dev:" + arch],
                       capture_output=True)
    if r.returncode != 0 and not os.path.exists(
            os.path.join(ROOT, "build", "sysroot", triplet, ".complete")):
        return ("no %s package index for the sysroot (packaging/deps.sh "
                "runs dpkg --add-architecture %s)" % (arch, arch))
    return None


@pytest.fixture(scope="module", params=TARGETS, ids=[t[0] for t in TARGETS])
def cross_worker(request):
    """Build the worker for one target; returns (argv prefix, target)."""
    triplet, qemu, arch, machine, emachine = request.param
    why = _missing(triplet, qemu, arch)
    if why:
        pytest.skip(why)
    # Not the outer make's variables (O=, BIN=, SAN=): a clean cross build.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "-C", ROOT, "CROSS=" + triplet],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, "make CROSS=%s failed:\n%s%s" % (
        triplet, r.stdout[-4000:], r.stderr[-4000:])
    worker = os.path.join(ROOT, "build", triplet, "bin", "encore-worker")
    with open(worker, "rb") as f:
        head = f.read(20)
    assert head[:4] == b"\x7fELF"
    assert struct.unpack("<H", head[18:20])[0] == emachine, \
        "%s is not an %s binary" % (worker, machine)
    sysroot = os.path.join(ROOT, "build", "sysroot", triplet)
    return [qemu, "-L", sysroot, worker], request.param


def test_cross_worker_profile(cross_worker, tmp_path):
    prefix, (triplet, _, _, machine, _) = cross_worker
    r = subprocess.run(prefix + ["--version"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("encore-worker "), r
    import json
    r = subprocess.run(prefix + ["--profile", "--state-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    prof = json.loads(r.stdout)
    assert prof["device_info"]["architecture"] == machine
    assert prof["device_info"]["platform"] == "linux"
    # /proc is the host's under qemu-user: present, not the Pi's.
    assert prof["hardware_specs"]["cpu_cores"] >= 1
    assert prof["hardware_specs"]["memory_total"] > 0


def test_cross_worker_joins_and_runs_a_task(cross_worker, cluster):
    prefix, (triplet, _, _, machine, _) = cross_worker
    cluster.start_main()
    dev = "pi-" + machine
    wdir = os.path.join(cluster.tmp, "w-" + dev)
    os.makedirs(wdir)
    argv = prefix + ["--main", "127.0.0.1:%d" % cluster.port, "--id", dev,
                     "--state-dir", wdir, "--runtime", "none",
                     "--token-file", os.path.join(cluster.state, "join.token"),
                     "--log-level", "debug"]
    p = Proc(argv, os.path.join(cluster.tmp, "worker-%s.log" % dev))
    cluster.workers[dev] = p
    cluster.procs.append(p)

    cluster.wait_state(dev, "online", timeout=60)
    # The pinned token: TLS 1.2 with the worker's ChaCha20-Poly1305.
    assert "event=tls " in p.output(), p.output()
    assert "protocol=TLSv1.2 cipher=TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305" \
        in p.output(), p.output()
    row = cluster.devices_csv()[dev]
    assert row["arch"] == machine, row
    assert row["platform"] == "linux"
    assert int(row["cores"]) >= 1

    op = cluster.operator()
    # The arch requirement proves placement used the emulated profile.
    r = op.request("submit", {"task": {
        "command": ["echo", "hi-from-arm"], "name": "cross-" + machine,
        "requirements": {"arch": machine}}})
    assert r["data"]["ok"] is True, r
    tid = r["data"]["task_id"]

    def final():
        t = op.request("get_task", {"task_id": tid})["data"]["task"]
        return t if t["state"] in FINAL else None
    t = wait_for(final, 60, what="task %s to end" % tid)
    assert t["state"] == "completed", t
    assert t["exit_code"] == 0 and t["device"] == dev
    logs = op.request("logs", {"task_id": tid})["data"]
    assert "hi-from-arm" in logs["output"], logs

    # A graceful stop under qemu: SIGTERM -> bye -> exit 0.
    assert p.stop(timeout=30) == 0, p.output()
