# SPDX-License-Identifier: ISC
"""Files in, files out: the main node's file store and transfers.

Real main node, real sockets: uploads and downloads in raw frames after
file_data lines (protocol/PROTOCOL.md "Files"), resumed, verified,
bounded; tasks that name files.
"""

import hashlib
import os

from conftest import wait_for


def sha(b):
    return hashlib.sha256(b).hexdigest()


def metric(cluster, name):
    for line in cluster.text("metrics").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def test_upload_download_round_trip(cluster):
    """Bytes go up in frames and come down the same, counted both ways."""
    cluster.start_main()
    data = os.urandom(5 * 1024 * 1024 + 123)
    h = sha(data)
    with cluster.operator() as op:
        r = op.upload(data, frame=700 * 1024)
        assert r["data"]["ok"] is True, r
        assert r["data"]["complete"] is True and r["data"]["size"] == len(data)
        st = op.request("file_stat", {"sha256": h})
        assert st["data"]["complete"] is True and st["data"]["have"] == len(data)
        got, fin = op.download(h)
        assert fin["data"]["ok"] is True, fin
        assert sha(got) == h and len(got) == len(data)
        # From an offset: only the rest comes.
        got, fin = op.download(h, offset=len(data) - 1000)
        assert got == data[-1000:]
        # An empty file is a file too.
        r = op.upload(b"")
        assert r["data"]["complete"] is True, r
        got, fin = op.download(sha(b""))
        assert got == b"" and fin["data"]["ok"] is True
    assert metric(cluster, "encore_file_bytes_received_total") >= len(data)
    assert metric(cluster, "encore_file_bytes_sent_total") >= len(data) + 1000
    stored = os.path.join(cluster.state, "files", h[:2], h)
    assert open(stored, "rb").read() == data


def test_upload_resumes_after_drop_and_restart(cluster):
    """A dropped upload goes on from the bytes the main node has, after a
    new connection and after the main node was killed and restarted."""
    cluster.start_main()
    data = os.urandom(3 * 1024 * 1024)
    h = sha(data)
    third = len(data) // 3
    with cluster.operator() as op:
        op.send_frame(h, len(data), 0, data[:third])
        st = wait_for(lambda: op.request("file_stat", {"sha256": h})["data"]
                      if op.request("file_stat", {"sha256": h})["data"]["have"] == third
                      else None, what="first third stored")
        assert st["complete"] is False
    with cluster.operator() as op:
        st = op.request("file_stat", {"sha256": h})["data"]
        assert st["have"] == third
        op.send_frame(h, len(data), third, data[third:2 * third])
        wait_for(lambda: op.request("file_stat", {"sha256": h})["data"]["have"]
                 == 2 * third, what="second third stored")
    cluster.main.kill9()
    cluster.start_main()
    received0 = metric(cluster, "encore_file_bytes_received_total")
    with cluster.operator() as op:
        r = op.upload(data)
        assert r["data"]["complete"] is True, r
        got, _ = op.download(h)
        assert got == data
    # Only the last third travelled again.
    assert metric(cluster, "encore_file_bytes_received_total") - received0 == \
        len(data) - 2 * third


def test_damaged_upload_is_never_used(cluster):
    """Bytes that do not hash to the name are refused and dropped."""
    cluster.start_main()
    good = os.urandom(100000)
    h = sha(good)
    bad = bytearray(good)
    bad[5000] ^= 1
    with cluster.operator() as op:
        mid = op.send_frame(h, len(good), 0, bytes(bad))
        r = op.recv_until(lambda m: m.get("reply_to") == mid)
        assert r["data"]["ok"] is False
        assert r["data"]["error"]["code"] == "bad_field"
        assert "send it again" in r["data"]["error"]["message"]
        st = op.request("file_stat", {"sha256": h})["data"]
        assert st["complete"] is False and st["have"] == 0
        _, fin = op.download(h)
        assert fin["data"]["error"]["code"] == "not_found"
        # The good bytes go up fine afterwards.
        assert op.upload(good)["data"]["complete"] is True
    assert not os.listdir(os.path.join(cluster.state, "files", "partial"))


def test_frames_out_of_place_and_unreadable(cluster):
    """A frame at the wrong offset is refused with where to go on; a
    refused frame's bytes are skipped, so the session stays in step; a
    file_data line that cannot be read closes the session."""
    cluster.start_main()
    data = os.urandom(50000)
    h = sha(data)
    with cluster.operator() as op:
        mid = op.send_frame(h, len(data), 1000, data[1000:2000])
        r = op.recv_until(lambda m: m.get("reply_to") == mid)
        assert r["data"]["error"]["code"] == "conflict"
        assert "byte 0" in r["data"]["error"]["message"]
        # Raw bytes that look like a line must not be read as one.
        fake = b'{"message_type":"cancel","data":{"task_id":"1"}}\n'
        mid = op.send_frame(h, len(data), 7, fake)
        r = op.recv_until(lambda m: m.get("reply_to") == mid)
        assert r["data"]["error"]["code"] == "conflict"
        assert op.request("status")["data"]["ok"] is True
        # Past the end of the file: the line itself is bad.
        op.send_raw(b'{"message_type":"file_data","data":{"sha256":"' +
                    h.encode() + b'","size":10,"offset":5,"len":9}}\n')
        assert op.is_closed()
    # Not authenticated: refused, and the bytes skipped.
    with cluster.conn() as c:
        c.send_frame(h, len(data), 0, b"\n\n{}\n" * 100)
        err = c.recv()
        assert err["message_type"] == "error"
        assert err["data"]["code"] == "unauthorized"
        r = c.request("auth", {"token": cluster.operator_token})
        assert r["data"]["ok"] is True, r


def test_file_store_bounds(cluster):
    """--max-files-mb refuses an upload that would not fit (busy) and
    --max-input-mb one bigger than a task may take in."""
    cluster.start_main("--max-files-mb", "2", "--max-input-mb", "1")
    with cluster.operator() as op:
        big = os.urandom(1536 * 1024)
        r = op.upload(big)
        assert r["data"]["error"]["code"] == "bad_field"
        assert "--max-input-mb" in r["data"]["error"]["message"]
        ok = os.urandom(900 * 1024)
        assert op.upload(ok)["data"]["complete"] is True
        ok2 = os.urandom(900 * 1024)
        assert op.upload(ok2)["data"]["complete"] is True
        r = op.upload(os.urandom(900 * 1024))
        assert r["data"]["error"]["code"] == "busy", r
        assert "--max-files-mb" in r["data"]["error"]["message"]
        assert op.request("status")["data"]["ok"] is True


def test_submit_with_files(cluster):
    """A task's inputs must be on the main node whole and within the
    bounds; get_task lists them, with what the task sends back."""
    cluster.start_main("--max-input-mb", "1")
    a = os.urandom(600 * 1024)
    b = os.urandom(600 * 1024)
    task = {"command": ["sh", "-c", "cat in/a > out.txt"],
            "inputs": [{"name": "in/a", "sha256": sha(a), "size": len(a),
                        "mode": 0o644}],
            "outputs": ["out.txt", "logs/*.log"], "checkpoints": ["state"]}
    with cluster.operator() as op:
        r = op.request("submit", {"task": task})
        assert r["data"]["ok"] is False
        assert r["data"]["error"]["code"] == "bad_field"
        assert "upload it first" in r["data"]["error"]["message"]
        assert op.upload(a)["data"]["complete"] is True
        r = op.request("submit", {"task": task})
        assert r["data"]["ok"] is True, r
        tid = r["data"]["task_id"]
        full = op.request("get_task", {"task_id": tid})["data"]["task"]
        assert full["inputs"] == task["inputs"]
        assert full["output_patterns"] == ["out.txt", "logs/*.log"]
        assert full["checkpoint_patterns"] == ["state"]
        assert full["outputs"] == [] and full["checkpoint"] == []
        # Two inputs of 600 KiB are more than --max-input-mb 1.
        assert op.upload(b)["data"]["complete"] is True
        task["inputs"].append({"name": "b", "sha256": sha(b), "size": len(b)})
        r = op.request("submit", {"task": task})
        assert r["data"]["error"]["code"] == "bad_field"
        assert "--max-input-mb" in r["data"]["error"]["message"]
        # The wrong size for a file that is here is refused too.
        task["inputs"] = [{"name": "a", "sha256": sha(a), "size": 5}]
        r = op.request("submit", {"task": task})
        assert r["data"]["error"]["code"] == "bad_field"
        # A name that climbs out of the working directory never gets in.
        task["inputs"] = [{"name": "../a", "sha256": sha(a), "size": len(a)}]
        r = op.request("submit", {"task": task})
        assert r["message_type"] == "error"
        assert r["data"]["code"] == "bad_field"
        assert "inputs[0].name" in r["data"]["message"]
