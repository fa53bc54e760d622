# SPDX-License-Identifier: ISC
"""encore-swarm smoke run: keeps the bench tool working.

Focus of this file: a short swarm run (200 simulated devices, 300 tasks of
0 ms) against a real main node.  It asserts correctness only -- every
device online in `devices csv`, every task completed exactly once in
`tasks csv` -- never timing; the figures belong to `make bench`.
"""

import csv
import io
import os
import subprocess

import pytest

from conftest import BIN, ROOT, wait_for

DEVICES = 200
TASKS = 300


def swarm_binary():
    for d in (BIN, os.path.join(ROOT, "bin")):
        p = os.path.join(d, "encore-swarm")
        if os.access(p, os.X_OK):
            return p
    pytest.skip("encore-swarm is not built (make test builds it)")


def test_swarm_smoke(cluster):
    swarm = swarm_binary()
    cluster.start_main(heartbeat=1)
    state = cluster.state
    r = subprocess.run(
        [swarm, "--main", "127.0.0.1:%d" % cluster.port,
         "--token-file", os.path.join(state, "join.token"),
         "--operator-token-file", os.path.join(state, "operator.token"),
         "-n", str(DEVICES), "--slots", "2", "--tasks", str(TASKS),
         "--task-ms", "0", "--ramp", "1000", "--prefix", "smoke",
         "--duration", "180"],
        capture_output=True, text=True, timeout=240)
    out = r.stdout
    assert r.returncode == 0, "encore-swarm -> %d\n%s%s" % (
        r.returncode, out, r.stderr[-4000:])
    assert "tasks_lost=0 duplicate_assigns=0 duplicate_acks=0 over_slots=0" in out, out
    assert "bench: tasks_done %d tasks" % TASKS in out, out

    # The swarm has closed its connections: the devices are offline now
    # or within a heartbeat interval, so check the registry as recorded.
    devices = list(csv.DictReader(io.StringIO(cluster.text("devices csv"))))
    ids = {d["id"] for d in devices}
    assert ids == {"smoke-%05d" % i for i in range(1, DEVICES + 1)}

    rows = list(csv.DictReader(io.StringIO(cluster.text("tasks csv"))))
    mine = [t for t in rows if t["name"].startswith("smoke-t-")]
    assert len(mine) == TASKS
    assert len({t["id"] for t in mine}) == TASKS
    assert sorted(t["name"] for t in mine) == sorted(
        "smoke-t-%d" % i for i in range(TASKS))
    for t in mine:
        assert t["state"] == "completed", t
        assert t["attempt"] == "1", t          # ran once, never re-queued
        assert t["exit_code"] == "0", t
        assert t["device"].startswith("smoke-"), t


def test_swarm_devices_online(cluster):
    """While the swarm holds its devices, all of them show as online."""
    swarm = swarm_binary()
    cluster.start_main(heartbeat=1)
    p = subprocess.Popen(
        [swarm, "--main", "127.0.0.1:%d" % cluster.port,
         "--token-file", os.path.join(cluster.state, "join.token"),
         "-n", str(DEVICES), "--ramp", "1000", "--hold", "90",
         "--prefix", "hold", "--duration", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def all_online():
            rows = list(csv.DictReader(io.StringIO(cluster.text("devices csv"))))
            online = [d for d in rows if d["state"] == "online"]
            return len(online) == DEVICES and len(rows) == DEVICES
        wait_for(all_online, timeout=60, interval=0.2,
                 what="%d simulated devices online" % DEVICES)
    finally:
        p.terminate()
        p.communicate(timeout=30)
