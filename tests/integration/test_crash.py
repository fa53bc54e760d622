# SPDX-License-Identifier: ISC
"""Crash consistency: kill -9 the main node under load, several times.

Focus of this file: what survives a power cut of the main node.  A real
encore-main and two real workers (runtime none) run while a load thread
submits short command tasks; the main node is killed with SIGKILL at
random moments and restarted on the same port and state dir.  After each
restart the SQLite file passes `PRAGMA integrity_check`, every submission
whose reply (task id) was received is in the tasks table, and no task has
more than one completed attempt; at the end every task has completed.
"""

import os
import random
import sqlite3
import threading
import time

from conftest import wait_for

TOTAL = 300             # submissions the load thread gets acknowledged
KILLS = 5
COMPLETED = 3           # tasks.state / attempts.state for completed
# A guard against a hang, not a speed test: about 20 s on an idle 2-core
# machine, several times that when it is busy with other builds.
BUDGET = 240


def db_query(cluster, sql):
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"), timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


class Load(threading.Thread):
    """Submit TOTAL tasks, reconnecting whenever the main node dies."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.acked = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = 0

    def run(self):
        op = None
        i = 0
        deadline = time.monotonic() + BUDGET - 20
        while len(self.acked) < TOTAL and not self.stop.is_set() and \
                time.monotonic() < deadline:
            try:
                if op is None:
                    op = self.cluster.operator()
                r = op.request("submit", {"task": {
                    "command": ["sh", "-c", "echo x%d" % i],
                    "name": "crash-%d" % i}}, timeout=30)
                i += 1
                if r.get("data", {}).get("ok"):
                    with self.lock:
                        self.acked.append(int(r["data"]["task_id"]))
                else:
                    self.errors += 1
                time.sleep(0.03)    # spread the load over the kills
            except Exception:
                # The main node died mid-request: that one is unknown.
                if op is not None:
                    op.close()
                op = None
                time.sleep(0.1)
        if op is not None:
            op.close()

    def snapshot(self):
        with self.lock:
            return list(self.acked)


def check_db(cluster, acked):
    assert db_query(cluster, "PRAGMA integrity_check")[0][0] == "ok"
    have = {r[0] for r in db_query(cluster, "SELECT id FROM tasks")}
    lost = [t for t in acked if t not in have]
    assert not lost, "acknowledged submissions lost: %r" % lost[:20]
    twice = db_query(cluster, "SELECT task_id, count(*) FROM attempts "
                              "WHERE state = %d GROUP BY task_id "
                              "HAVING count(*) > 1" % COMPLETED)
    assert not twice, "tasks completed more than once: %r" % twice[:20]


def test_kill9_under_load(cluster):
    seed = int(os.environ.get("ENCORE_CRASH_SEED", time.time()))
    rnd = random.Random(seed)
    print("crash test seed: %d (set ENCORE_CRASH_SEED to replay)" % seed)
    t0 = time.monotonic()
    cluster.start_main(heartbeat=1, offline_after=3)
    cluster.start_worker("w1", "--slots", "2")
    cluster.start_worker("w2", "--slots", "2")
    cluster.wait_state("w1", "online")
    cluster.wait_state("w2", "online")

    load = Load(cluster)
    load.start()
    try:
        for k in range(KILLS):
            time.sleep(rnd.uniform(0.3, 2.5))
            acked = load.snapshot()
            cluster.main.kill9()
            print("kill %d at %.1fs: %d acknowledged" % (
                k + 1, time.monotonic() - t0, len(acked)))
            time.sleep(rnd.uniform(0.0, 0.5))
            cluster.start_main(heartbeat=1, offline_after=3)
            check_db(cluster, acked)
        load.join(timeout=max(1, BUDGET - 20 - (time.monotonic() - t0)))
        assert not load.is_alive(), "load did not finish in time"
    finally:
        load.stop.set()
    acked = load.snapshot()
    assert len(acked) == TOTAL, (len(acked), load.errors)
    assert len(set(acked)) == TOTAL, "a task id was handed out twice"
    check_db(cluster, acked)

    # Every task, acknowledged or not, runs to completion exactly once.
    def all_done():
        rows = db_query(cluster, "SELECT count(*), sum(state = %d) FROM tasks"
                        % COMPLETED)[0]
        return rows[0] == rows[1] and rows
    left = max(5, BUDGET - 5 - (time.monotonic() - t0))
    wait_for(all_done, left, interval=0.5, what="all tasks to complete")
    check_db(cluster, acked)
    print("all done at %.1fs" % (time.monotonic() - t0))
    assert cluster.main.alive()
    assert time.monotonic() - t0 < BUDGET
