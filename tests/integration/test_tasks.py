# SPDX-License-Identifier: ISC
"""Tasks end to end: queue order, placement, and nothing lost or counted
twice when workers or the main node die.

Focus of this file: the task lifecycle across real processes — a real
encore-main, real encore-workers running command tasks, kill -9 and
SIGSTOP — checked through the operator protocol, the text export and the
SQLite file itself.
"""

import csv
import io
import os
import signal
import sqlite3
import time

from conftest import wait_for
from encore_client import get_task as get, submit

FINAL = ("completed", "failed", "timed_out", "cancelled")


def wait_final(op, tid, timeout=60):
    return wait_for(lambda: (lambda t: t if t["state"] in FINAL else None)(get(op, tid)),
                    timeout, what="task %s to end" % tid)


def until_file(path, then="echo done"):
    """A task's argv that runs until path exists, then `then`: the test
    decides when it ends, whatever the machine's load."""
    return ["sh", "-c", "while [ ! -e %s ]; do sleep 0.1; done; %s"
            % (path, then)]


def tasks_csv(cluster):
    return list(csv.DictReader(io.StringIO(cluster.text("tasks csv"))))


def db_rows(cluster, sql):
    db = sqlite3.connect(os.path.join(cluster.state, "encore.db"))
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_output_exit_code_and_logs(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    tid = submit(op, ["sh", "-c", "echo out-line; echo err-line >&2; exit 7"],
                 name="mixed")
    t = wait_final(op, tid)
    assert t["state"] == "failed" and t["exit_code"] == 7
    assert t["device"] == "w1" and t["attempt"] == 1
    logs = op.request("logs", {"task_id": tid})["data"]
    assert "out-line" in logs["output"] and "err-line" in logs["output"]
    row = [r for r in tasks_csv(cluster) if r["id"] == tid][0]
    assert row["state"] == "failed" and row["exit_code"] == "7"
    assert row["name"] == "mixed" and row["finished_at"].endswith("Z")


def test_priority_order_on_a_busy_slot(cluster):
    cluster.start_main()
    op = cluster.operator()
    # Queue first, with no device: order is decided by priority, then age.
    low = submit(op, ["true"], priority="low", name="low")
    n1 = submit(op, ["true"], priority="normal", name="n1")
    urgent = submit(op, ["true"], priority="urgent", name="urgent")
    n2 = submit(op, ["true"], priority="normal", name="n2")
    high = submit(op, ["true"], priority="high", name="high")
    queue = [l.split()[0] for l in cluster.text("queue").splitlines()[1:]]
    assert queue == [urgent, high, n1, n2, low]
    cluster.start_worker("w1", "--slots", "1")
    for tid in (low, n1, urgent, n2, high):
        wait_final(op, tid)
    # One slot: they ran one after another, in dispatch order.
    order = [str(r[0]) for r in db_rows(cluster, "SELECT task_id FROM attempts "
                                                  "ORDER BY assigned_at")]
    assert order == [urgent, high, n1, n2, low]


def test_unmet_requirements_do_not_block(cluster):
    cluster.start_main()
    cluster.start_worker("w1", "--label", "room=kitchen")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    never = [submit(op, ["true"], priority="urgent",
                    requirements={"arch": "riscv64"}),
             submit(op, ["true"], priority="urgent",
                    requirements={"labels": {"room": "attic"}}),
             submit(op, ["true"], priority="urgent",
                    requirements={"device": "nope"})]
    ok = [submit(op, ["true"]),
          submit(op, ["true"], requirements={"labels": {"room": "kitchen"}}),
          submit(op, ["true"], requirements={"arch": os.uname().machine})]
    # The three were submitted first and are urgent: every scheduler pass
    # that placed the others passed them over.
    for tid in ok:
        assert wait_final(op, tid)["state"] == "completed"
    for tid in never:
        assert get(op, tid)["state"] == "queued"
    r = op.request("cancel", {"task_id": never[0]})
    assert r["data"]["ok"] is True and r["data"]["task"]["state"] == "cancelled"
    assert get(op, never[0])["state"] == "cancelled"


def test_many_tasks_each_recorded_once(cluster):
    cluster.start_main()
    for w in ("w1", "w2", "w3"):
        cluster.start_worker(w, "--slots", "4")
    for w in ("w1", "w2", "w3"):
        cluster.wait_state(w, "online")
    op = cluster.operator()
    ids = [submit(op, ["sh", "-c", "echo n=%d" % i]) for i in range(120)]
    wait_for(lambda: all(r["state"] == "completed" for r in tasks_csv(cluster)
                         if r["id"] in ids) and len(tasks_csv(cluster)) >= 120,
             120, what="120 tasks to complete")
    rows = db_rows(cluster, "SELECT id, state, attempt FROM tasks")
    assert len(rows) == 120
    assert all(state == 3 and attempt == 1 for _, state, attempt in rows)
    # Exactly one finished attempt per task.
    fin = db_rows(cluster, "SELECT task_id, count(*) FROM attempts "
                           "WHERE finished_at IS NOT NULL GROUP BY task_id")
    assert len(fin) == 120 and all(n == 1 for _, n in fin)
    used = {r["device"] for r in tasks_csv(cluster)}
    assert used == {"w1", "w2", "w3"}
    out = op.request("logs", {"task_id": ids[57]})["data"]["output"]
    assert out == "n=57\n"


def test_worker_killed_mid_task_runs_elsewhere(cluster):
    cluster.start_main(heartbeat=1, offline_after=3)
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    flag = os.path.join(cluster.tmp, "go")
    tid = submit(op, until_file(flag))
    wait_for(lambda: get(op, tid)["state"] == "running", 30)
    cluster.start_worker("w2")
    cluster.wait_state("w2", "online")
    cluster.workers["w1"].kill9()
    wait_for(lambda: get(op, tid)["attempt"] == 2, 60,
             what="the task to be queued again")
    open(flag, "w").close()
    t = wait_final(op, tid, 60)
    assert t["state"] == "completed", t
    assert t["attempt"] == 2 and t["device"] == "w2"
    attempts = [(a["attempt"], a["device"], a["state"]) for a in t["attempts"]]
    assert attempts == [(1, "w1", "failed"), (2, "w2", "completed")], attempts


def test_stalled_worker_result_is_dropped(cluster):
    cluster.start_main(heartbeat=1, offline_after=2)
    cluster.start_worker("slow")
    cluster.wait_state("slow", "online")
    op = cluster.operator()
    flag = os.path.join(cluster.tmp, "go")
    tid = submit(op, until_file(flag, "echo attempt-output"))
    wait_for(lambda: get(op, tid)["state"] == "running", 30)
    cluster.start_worker("fast")
    cluster.wait_state("fast", "online")
    cluster.workers["slow"].signal(signal.SIGSTOP)
    wait_for(lambda: get(op, tid)["attempt"] == 2, 60,
             what="the task to be queued again")
    open(flag, "w").close()
    t = wait_final(op, tid, 60)
    assert t["device"] == "fast" and t["attempt"] == 2
    cluster.workers["slow"].signal(signal.SIGCONT)
    # The old worker reconnects and reports its late result: acknowledged
    # (so the worker forgets it) and dropped.
    wait_for(lambda: "event=result_acked task=%s attempt=1" % tid in
             cluster.workers["slow"].output(), 60,
             what="the late result of attempt 1 to be acknowledged")
    t2 = get(op, tid)
    assert t2["state"] == "completed" and t2["attempt"] == 2
    assert t2["device"] == "fast"
    out = op.request("logs", {"task_id": tid})["data"]["output"]
    assert out == "attempt-output\n", out
    fin = db_rows(cluster, "SELECT count(*) FROM attempts WHERE task_id = %s "
                           "AND state = 3" % tid)
    assert fin[0][0] == 1


def test_main_node_killed_nothing_lost(cluster):
    cluster.start_main(heartbeat=1, offline_after=4)
    cluster.start_worker("w1", "--slots", "2")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    running = [submit(op, ["sh", "-c", "sleep 3; echo r%d" % i]) for i in range(2)]
    queued = [submit(op, ["sh", "-c", "echo q%d" % i]) for i in range(5)]
    wait_for(lambda: all(get(op, t)["state"] == "running" for t in running), 30)
    cluster.main.kill9()
    cluster.start_main(heartbeat=1, offline_after=4)
    op = cluster.operator()
    for tid in running + queued:
        t = wait_final(op, tid, 60)
        assert t["state"] == "completed", t
    # The running ones were reclaimed, not re-run: still attempt 1.
    for tid in running:
        assert get(op, tid)["attempt"] == 1
    rows = db_rows(cluster, "SELECT count(*) FROM tasks WHERE state = 3")
    assert rows[0][0] == 7
    assert db_rows(cluster, "PRAGMA integrity_check")[0][0] == "ok"


def test_retries_requeue_failures(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    op = cluster.operator()
    tid = submit(op, ["sh", "-c", "exit 1"], retries=2)
    t = wait_final(op, tid)
    assert t["state"] == "failed" and t["attempt"] == 3
    assert [a["state"] for a in t["attempts"]] == ["failed"] * 3


def test_logs_follow_streams_live(cluster):
    cluster.start_main()
    cluster.start_worker("w1")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    tid = submit(op, ["sh", "-c", "echo one; sleep 1; echo two"])
    mid = op.send("logs", {"task_id": tid, "follow": True})
    got, end = "", None
    deadline = time.monotonic() + 60
    while end is None and time.monotonic() < deadline:
        m = op.recv(timeout=60)
        if m.get("reply_to") == mid and m["message_type"] == "reply":
            got += m["data"]["output"]
        elif m["message_type"] == "event" and m["data"]["topic"] == "output":
            got += m["data"]["data"]
        elif m["message_type"] == "event" and m["data"]["topic"] == "task":
            end = m["data"]["task"]
    assert end is not None and end["state"] == "completed"
    assert got == "one\ntwo\n"


def test_subscribe_sees_task_and_device_events(cluster):
    cluster.start_main()
    op = cluster.operator()
    assert op.request("subscribe", {"topics": ["devices", "tasks"]})["data"]["ok"]
    cluster.start_worker("w1")
    ev = op.recv_until(lambda m: m["message_type"] == "event" and
                       m["data"]["topic"] == "devices" and
                       m["data"]["device"]["id"] == "w1", 15)
    assert ev["data"]["device"]["state"] in ("online", "busy")
    tid = submit(op, ["true"])
    op.recv_until(lambda m: m["message_type"] == "event" and
                  m["data"]["topic"] == "tasks" and
                  m["data"]["task"]["id"] == tid and
                  m["data"]["task"]["state"] == "completed", 15)


def test_queue_cap(cluster):
    cluster.start_main("--max-queued", "3")
    op = cluster.operator()
    for _ in range(3):
        submit(op, ["true"])
    r = op.request("submit", {"task": {"command": ["true"]}})
    assert r["data"]["ok"] is False and r["data"]["error"]["code"] == "busy"
