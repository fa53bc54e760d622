# SPDX-License-Identifier: ISC
"""Workloads people have: arrays, dependencies, held tasks, and why a
task waits, through the `encore` CLI against a real main node and real
workers (runtime none).

Focus of this file: the "done when" of arrays and dependencies (README,
"Arrays and dependencies"): an array with a limit never runs more than
its limit at any sampled moment and runs every index once with its own
index; cancelling an array stops every element; `--after` chains run in
order and a failed dependency cancels its dependents at once;
`--after-any` and `--after-notok`; hold and release; the `why:` line on a
cluster of differing devices; and a kill -9 of the main node in the
middle of an array with a waiting dependent, after which every element
has run and is recorded exactly once.  Also what the CLI shows of all
this: `ps` (one line per array, `--expand`, `--csv`), `show`, `logs` of
an element, `submit --wait` of an array.
"""

import csv
import io
import os
import re
import sqlite3
import subprocess
import time

from conftest import wait_for

COMPLETED = 3           # tasks.state / attempts.state for completed
TASK_COLUMNS = ["id", "name", "state", "priority", "device", "attempt",
                "exit_code", "submitted_at", "started_at", "finished_at"]


def submit(cluster, *args):
    """`encore submit ARGS`; returns the id it printed alone on stdout."""
    r = cluster.cli("submit", *args, check=True)
    tid = r.stdout.strip()
    assert r.stdout == tid + "\n" and re.fullmatch(r"\d+", tid), r.stdout
    return tid


def task_of(op, tid):
    return op.request("get_task", {"task_id": tid})["data"]["task"]


def state_of(op, tid):
    return task_of(op, tid)["state"]


def wait_state(op, tid, state, timeout=30):
    return wait_for(lambda: state_of(op, tid) == state, timeout,
                    what="task %s to be %s (now %s)" % (
                        tid, state, state_of(op, tid)))


def elements(op, array_id, all_=True):
    """Elements of an array made so far: {index: TASK}, every page."""
    out, after = {}, None
    while True:
        d = {"all": all_, "expand": True, "limit": 1000}
        if after is not None:
            d["after"] = after
        r = op.request("list_tasks", d)["data"]
        for t in r["tasks"]:
            if t.get("array_id") == array_id:
                out[t["array_index"]] = t
        after = r.get("next")
        if after is None:
            return out


def ps_csv(cluster, *extra):
    r = cluster.cli("ps", "--csv", *extra, check=True)
    rows = list(csv.reader(io.StringIO(r.stdout, newline="")))
    assert rows[0] == TASK_COLUMNS, rows[0]
    return {row[0]: dict(zip(TASK_COLUMNS, row)) for row in rows[1:]}


def show(cluster, tid):
    """`encore show ID` as {label: value} (first line of each label)."""
    out = cluster.cli("show", tid, check=True).stdout
    fields = {}
    for line in out.splitlines():
        m = re.match(r"^([a-z][a-z -]*:)\s+(.*)$", line)
        if m and m.group(1) not in fields:
            fields[m.group(1)] = m.group(2)
    return fields, out


def one_worker(cluster, slots=4, *args):
    cluster.start_main()
    cluster.start_worker("w1", "--slots", str(slots), *args)
    cluster.wait_state("w1", "online")
    return cluster.operator()


def test_array_of_50_at_most_3_running_each_runs_its_index(cluster):
    """`--array 50%3` on a device with room for 8: sampled every 100 ms,
    never more than 3 elements run at once (and the limit is used);
    every element completes once, each printing its own index from
    {index} and from $ENCORE_ARRAY_INDEX."""
    op = one_worker(cluster, slots=8)
    aid = submit(cluster, "--array", "50%3", "--name", "sweep", "--",
                 "sh", "-c", "echo i={index} $ENCORE_ARRAY_INDEX; sleep 0.2")
    most, samples = 0, 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        els = elements(op, aid, all_=False)
        running = [i for i, t in els.items()
                   if t["state"] in ("assigned", "running")]
        most = max(most, len(running))
        samples += 1
        assert len(running) <= 3, ("more than 3 running", sorted(running))
        if state_of(op, aid) == "completed":
            break
        time.sleep(0.1)
    assert state_of(op, aid) == "completed", task_of(op, aid)
    assert samples >= 10, samples
    assert most >= 2, "the limit of 3 was never used (at most %d)" % most
    t = task_of(op, aid)
    assert t["array"]["size"] == 50
    assert t["array"]["counts"]["completed"] == 50, t["array"]
    els = elements(op, aid)
    assert sorted(els) == list(range(50))
    for i, el in els.items():
        assert el["id"] == "%s.%d" % (aid, i)
        assert el["state"] == "completed" and el["attempt"] == 1, el
    # Each one's own index, through `encore logs ARRAY.INDEX`.
    for i in range(50):
        r = cluster.cli("logs", "%s.%d" % (aid, i), check=True)
        assert r.stdout == "i=%d %d\n" % (i, i), (i, r.stdout)
    # ps: finished elements with ARRAY.INDEX ids in the CSV; the array
    # itself one row.
    rows = ps_csv(cluster, "--all", "--expand")
    assert rows[aid]["state"] == "completed"
    for i in range(50):
        assert rows["%s.%d" % (aid, i)]["state"] == "completed"
    rows = ps_csv(cluster, "--all")
    assert aid in rows and not any(k.startswith(aid + ".") for k in rows)


def test_ps_shows_an_array_as_one_line_with_counts(cluster):
    """`encore ps`: an array is one line with its counts, 80 columns
    wide; --expand adds its elements made so far; `show` gives its
    indexes, limit and counts per state."""
    op = one_worker(cluster, slots=4)
    aid = submit(cluster, "--array", "0-18:2%2", "--name", "sweep", "--",
                 "sleep", "30")
    wait_for(lambda: len([t for t in elements(op, aid).values()
                          if t["state"] == "running"]) == 2, 30,
             what="2 elements running")
    out = cluster.cli("ps", check=True).stdout
    lines = [line for line in out.splitlines() if line.startswith(aid + " ")]
    assert len(lines) == 1, out
    line = lines[0]
    assert len(line) <= 80, line
    assert re.search(r"^%s\s+sweep\s+queued\s+normal\s+array of 10: "
                     r"2 running, 8 queued$" % aid, line), line
    assert not re.search(r"^%s\.\d" % aid, out, re.M), out
    out = cluster.cli("ps", "--expand", check=True).stdout
    assert len(re.findall(r"^%s\.(0|2)\s+sweep\s+running" % aid, out,
                          re.M)) == 2, out
    fields, text = show(cluster, aid)
    assert fields["state:"] == "queued", text
    assert fields["array:"] == ("10 elements, indexes 0-18 step 2, at most "
                                "2 running"), text
    assert fields["elements:"] == "2 running, 8 queued", text
    assert fields["why:"].startswith("the array has its limit of 2"), text
    fields, text = show(cluster, aid + ".2")
    assert fields["array:"] == "%s, index 2" % aid, text
    assert fields["state:"] == "running", text
    r = cluster.cli("cancel", aid, check=True)
    assert "whole array" in r.stdout, r.stdout


def test_cancel_of_a_running_array_stops_all_its_elements(cluster, tmp_path):
    """`encore cancel ARRAY` while elements run: the main node cancels
    every element (the running ones are stopped on the device, the ones
    not made yet never start), and the array ends cancelled."""
    op = one_worker(cluster, slots=4)
    marker = "encore-array-cancel-%d" % os.getpid()
    aid = submit(cluster, "--array", "20%4", "--", "sh", "-c",
                 "sleep 60; echo %s" % marker)
    wait_for(lambda: len([t for t in elements(op, aid).values()
                          if t["state"] == "running"]) == 4, 30,
             what="4 elements running")
    assert subprocess.run(["pgrep", "-f", "sleep 60; echo " + marker],
                          capture_output=True).returncode == 0
    r = cluster.cli("cancel", aid, check=True)
    assert "cancelling the whole array" in r.stdout, r.stdout
    wait_state(op, aid, "cancelled", 30)
    t = task_of(op, aid)
    assert t["array"]["counts"]["cancelled"] == 20, t["array"]
    for el in elements(op, aid).values():
        assert el["state"] == "cancelled", el
    wait_for(lambda: subprocess.run(["pgrep", "-f", "sleep 60; echo " + marker],
                                    capture_output=True).returncode != 0,
             20, what="the elements' processes to be gone")
    wait_for(lambda: cluster.devices_csv()["w1"]["running"] == "0", 20,
             what="the device to run nothing")
    r = cluster.cli("cancel", aid)
    assert r.returncode == 1 and "already ended" in r.stderr, r.stderr


def test_after_runs_b_only_after_a_completed(cluster, tmp_path):
    """A -> B with --after: B waits (state waiting, why: waiting for A)
    while A runs, and starts only once A completed."""
    op = one_worker(cluster, slots=4)
    flag = tmp_path / "a-done"
    a = submit(cluster, "--name", "a", "--", "sh", "-c",
               "sleep 2; touch %s" % flag)
    b = submit(cluster, "--after", a, "--name", "b", "--", "sh", "-c",
               "test -f %s && echo b-saw-a" % flag)
    wait_state(op, a, "running", 20)
    assert state_of(op, b) == "waiting"
    assert ps_csv(cluster)[b]["state"] == "waiting"
    fields, text = show(cluster, b)
    assert fields["state:"] == "waiting", text
    assert fields["why:"] == "waiting for %s (running)" % a, text
    assert fields["after:"] == a, text
    wait_state(op, b, "completed", 30)
    assert cluster.cli("logs", b, check=True).stdout == "b-saw-a\n"
    ta, tb = task_of(op, a), task_of(op, b)
    assert ta["state"] == "completed"
    assert tb["started_at"] >= ta["finished_at"], (ta, tb)


def test_b_is_cancelled_at_once_when_a_fails(cluster):
    """A fails: B (--after A) ends cancelled with `dependency A failed`
    at once, and so does C (--after B), without ever running."""
    op = one_worker(cluster, slots=2)
    a = submit(cluster, "--name", "a", "--", "sh", "-c", "sleep 1; exit 3")
    b = submit(cluster, "--after", a, "--name", "b", "--", "echo", "b-ran")
    c = submit(cluster, "--after", b, "--name", "c", "--", "echo", "c-ran")
    assert state_of(op, b) == "waiting" and state_of(op, c) == "waiting"
    wait_state(op, a, "failed", 30)
    ended = time.monotonic()
    wait_for(lambda: state_of(op, c) == "cancelled", 5,
             what="c cancelled at once")
    assert time.monotonic() - ended < 3
    tb, tc = task_of(op, b), task_of(op, c)
    assert tb["state"] == "cancelled" and tb["attempts"] == [], tb
    assert tb["error"] == "dependency %s failed" % a, tb
    assert tc["error"] == "dependency %s failed" % b, tc
    fields, text = show(cluster, b)
    assert fields["state:"] == "cancelled", text
    assert fields["error:"] == "dependency %s failed" % a, text
    assert "why:" not in fields, text
    assert cluster.cli("logs", b, check=True).stdout == ""
    # A dependency on an unknown id is refused at submit.
    r = cluster.cli("submit", "--after", "99999", "--", "true")
    assert r.returncode == 1 and "99999" in r.stderr, r.stderr


def test_after_any_and_after_notok_run_after_a_failure(cluster):
    """--after-any runs after its dependency failed; so does
    --after-notok; --after-notok of a task that completed is cancelled
    with `dependency ID completed`."""
    op = one_worker(cluster, slots=4)
    bad = submit(cluster, "--", "sh", "-c", "sleep 1; exit 1")
    good = submit(cluster, "--", "sh", "-c", "sleep 1")
    anyb = submit(cluster, "--after-any", bad, "--", "echo", "any-ran")
    notok = submit(cluster, "--after-notok", bad, "--", "echo", "notok-ran")
    never = submit(cluster, "--after-notok", good, "--", "echo", "never")
    both = submit(cluster, "--after-any", "%s,%s" % (bad, good), "--",
                  "echo", "both-ran")
    for tid in (anyb, notok, both):
        wait_state(op, tid, "completed", 30)
    assert cluster.cli("logs", anyb, check=True).stdout == "any-ran\n"
    assert cluster.cli("logs", notok, check=True).stdout == "notok-ran\n"
    wait_state(op, never, "cancelled", 10)
    assert task_of(op, never)["error"] == "dependency %s completed" % good
    fields, text = show(cluster, both)
    assert fields["after-any:"] == "%s, %s" % (bad, good), text


def test_hold_and_release(cluster):
    """submit --hold queues a task held: it does not run while later
    work does, until `encore release`; `encore hold` holds a queued (or
    waiting) task with a reason, and release puts it back."""
    op = one_worker(cluster, slots=2)
    held = submit(cluster, "--hold", "--name", "held", "--", "echo",
                  "held-ran")
    assert state_of(op, held) == "held"
    later = submit(cluster, "--", "true")
    wait_state(op, later, "completed", 20)
    assert state_of(op, held) == "held"
    assert ps_csv(cluster)[held]["state"] == "held"
    fields, text = show(cluster, held)
    assert fields["why:"].startswith("held"), text
    assert "--hold" in fields["reason:"], text
    r = cluster.cli("release", held, check=True)
    assert r.stdout.startswith("%s: released" % held), r.stdout
    wait_state(op, held, "completed", 20)
    assert cluster.cli("logs", held, check=True).stdout == "held-ran\n"

    # A queued task no device can run (yet): hold it with a reason.
    stuck = submit(cluster, "--label", "room=attic", "--", "true")
    r = cluster.cli("hold", stuck, "--reason", "attic closed", check=True)
    assert r.stdout == "%s: held (by an operator: attic closed)\n" % stuck \
        or ("held" in r.stdout and "attic closed" in r.stdout), r.stdout
    assert state_of(op, stuck) == "held"
    fields, text = show(cluster, stuck)
    assert "attic closed" in fields["reason:"], text
    assert "attic closed" in fields["why:"], text
    r = cluster.cli("hold", stuck)
    assert r.returncode == 1 and "conflict" in r.stderr, r.stderr
    r = cluster.cli("release", stuck, check=True)
    assert "now queued" in r.stdout, r.stdout
    assert state_of(op, stuck) == "queued"
    r = cluster.cli("release", stuck)
    assert r.returncode == 1 and "conflict" in r.stderr, r.stderr
    # A waiting task can be held too, and goes back to waiting.
    dep = submit(cluster, "--after", stuck, "--", "true")
    cluster.cli("hold", dep, check=True)
    assert state_of(op, dep) == "held"
    r = cluster.cli("release", dep, check=True)
    assert "now waiting" in r.stdout, r.stdout
    r = cluster.cli("hold", "424242")
    assert r.returncode == 1 and "not_found" in r.stderr, r.stderr


def test_why_names_the_unmet_requirement_with_counts(cluster):
    """Two devices with different labels: a task needing a label
    neither has, and one needing arch riscv64, say why per requirement
    with device counts, in `show` and as submit's warning (exit 0)."""
    cluster.start_main()
    cluster.start_worker("w1", "--label", "room=lab")
    cluster.start_worker("w2", "--label", "room=hall")
    cluster.wait_state("w1", "online")
    cluster.wait_state("w2", "online")
    arch = os.uname().machine
    r = cluster.cli("submit", "--arch", "riscv64", "--", "true")
    assert r.returncode == 0, r.stderr
    riscv = r.stdout.strip()
    want = ("no device can run it: 2 devices excluded by arch=riscv64 "
            "(%s 2)" % arch)
    assert r.stderr == "warning: %s\n" % want, r.stderr
    fields, text = show(cluster, riscv)
    assert fields["why:"] == want, text
    r = cluster.cli("submit", "--label", "room=attic", "--", "true")
    assert r.returncode == 0, r.stderr
    attic = r.stdout.strip()
    fields, text = show(cluster, attic)
    assert re.fullmatch(r"no device can run it: 2 devices excluded by "
                        r"label room=attic \((lab 1, hall 1|hall 1, lab 1)\)",
                        fields["why:"]), text
    assert r.stderr == "warning: %s\n" % fields["why:"], r.stderr
    # One that fits a device but not now: no warning, a why all the same.
    cluster.cli("drain", "w1", check=True)
    r = cluster.cli("submit", "--label", "room=lab", "--", "true")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    fields, text = show(cluster, r.stdout.strip())
    assert "draining" in fields["why:"], text


def test_submit_wait_of_an_array(cluster):
    """submit --wait of an array prints its id, waits until it ends and
    exits 0 when every element completed, else 1 with the counts."""
    one_worker(cluster, slots=4)
    r = cluster.cli("submit", "--array", "6%3", "--wait", "--", "sh", "-c",
                    "sleep 0.3", timeout=60)
    assert r.returncode == 0, r.stderr
    aid = r.stdout.strip()
    assert re.fullmatch(r"\d+", aid), r.stdout
    assert "array %s completed: 6 elements: 6 completed" % aid in r.stderr
    r = cluster.cli("submit", "--array", "4", "--wait", "--", "sh", "-c",
                    "exit $((ENCORE_ARRAY_INDEX == 2))", timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r"array \d+ failed: 4 elements: 3 completed, 1 failed",
                     r.stderr), r.stderr


def test_logs_follow_of_an_element(cluster):
    """`encore logs -f ARRAY.INDEX` streams an element's output live and
    ends when it ends, also when the element was not made yet when asked
    (the main node makes elements only as they are about to run)."""
    op = one_worker(cluster, slots=2)
    aid = submit(cluster, "--array", "3%1", "--", "sh", "-c",
                 "echo start-{index}; sleep 2; echo end-{index}")
    wait_state(op, aid + ".0", "running", 20)
    r = cluster.cli("logs", "-f", aid + ".0", timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "start-0\nend-0\n", r.stdout
    assert state_of(op, aid + ".2") == "queued"
    r = cluster.cli("logs", "-f", aid + ".2", timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "start-2\nend-2\n", r.stdout


def db_rows(state_dir, sql):
    db = sqlite3.connect(os.path.join(state_dir, "encore.db"), timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_kill9_mid_array_with_a_waiting_dependent_loses_nothing(cluster,
                                                                tmp_path):
    """kill -9 of the main node while an array of 20 (%2, 1 s each) is
    half run and a task waits for it: after the restart every element
    runs once and is recorded completed once (no index run twice; an
    attempt lost in transit never started), and the dependent runs after
    the last."""
    cluster.start_main(offline_after=3)
    cluster.start_worker("w1", "--slots", "4")
    cluster.wait_state("w1", "online")
    op = cluster.operator()
    ran = tmp_path / "ran"
    aid = submit(cluster, "--array", "20%2", "--", "sh", "-c",
                 "echo {index} >> %s; sleep 1" % ran)
    dep = submit(cluster, "--after", aid, "--", "sh", "-c",
                 "wc -l < %s" % ran)
    assert state_of(op, dep) == "waiting"

    def done():
        return task_of(op, aid)["array"]["counts"]["completed"]
    wait_for(lambda: done() >= 8, 60, what="8 elements done")
    cluster.main.kill9()
    op.close()
    cluster.start_main(offline_after=3)
    op = cluster.operator()
    assert state_of(op, dep) == "waiting"
    wait_state(op, aid, "completed", 120)
    wait_state(op, dep, "completed", 60)
    # Every index ran once, on the device itself.
    lines = ran.read_text().split()
    assert sorted(int(x) for x in lines) == list(range(20)), lines
    # And is recorded once: one attempt per element, completed.
    rows = db_rows(cluster.state,
                   "SELECT t.array_index, a.attempt, a.state, "
                   "a.started_at IS NOT NULL FROM tasks t "
                   "JOIN attempts a ON a.task_id = t.id "
                   "WHERE t.array_id = %d ORDER BY t.array_index, a.attempt"
                   % int(aid))
    done = [r for r in rows if r[2] == COMPLETED]
    assert [r[0] for r in done] == list(range(20)), rows
    # An assignment the main node had committed but not yet sent when it
    # was killed comes back lost ("its device reconnected without it")
    # and is given again: an attempt that never started, beside the one
    # that ran.  Nothing else may add an attempt.
    for r in done:
        others = [x for x in rows if x[0] == r[0] and x != r]
        assert all(x[1] < r[1] and not x[3] for x in others), rows
    rows = db_rows(cluster.state, "SELECT array_index, count(*) FROM tasks "
                   "WHERE array_id = %d GROUP BY array_index "
                   "HAVING count(*) > 1" % int(aid))
    assert rows == [], rows
    # The dependent ran after the last element: it saw all 20 lines.
    assert cluster.cli("logs", dep, check=True).stdout.strip() == "20"
