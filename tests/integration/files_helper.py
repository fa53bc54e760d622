# SPDX-License-Identifier: ISC
"""Big files for the tests and the bench: made fast, hashed and uploaded
to a main node a frame at a time from disk (protocol/PROTOCOL.md "Files"),
so the test process never holds one whole in memory.

Run as a script (the bench): files_helper.py PORT TOKEN_FILE PATH MB
[submit] makes PATH (MB MiB of real random bytes, 1 MiB of /dev/urandom
repeated with a counter in each MiB so no two are alike), uploads it and
prints its SHA-256 and size; with `submit`, then submits a task `true`
that takes it as its input and prints the task id as well.
"""

import hashlib
import os
import sys

import encore_client


def make_file(path, mb):
    """MB MiB of random bytes, fast: one random MiB, each copy stamped with
    its index.  Returns (sha256, size)."""
    block = bytearray(os.urandom(1 << 20))
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(mb):
            block[:8] = i.to_bytes(8, "little")
            f.write(block)
            h.update(block)
    return h.hexdigest(), mb << 20


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def upload_path(op, path, sha=None, frame=1 << 20, timeout=120):
    """Upload a file from disk from where the main node has it; returns the
    final reply (or error)."""
    sha = sha or sha_file(path)
    size = os.path.getsize(path)
    st = op.request("file_stat", {"sha256": sha})
    if st.get("data", {}).get("complete"):
        return st
    off = st["data"]["have"]
    mids = set()
    with open(path, "rb") as f:
        f.seek(off)
        if off == size:
            mids.add(op.send_frame(sha, size, off, b""))
        while off < size:
            chunk = f.read(frame)
            mids.add(op.send_frame(sha, size, off, chunk))
            off += len(chunk)
    return op.recv_until(lambda m: m.get("reply_to") in mids or
                         m.get("message_type") == "error", timeout)


def main():
    port, token_file, path, mb = sys.argv[1:5]
    sha, size = make_file(path, int(mb))
    with open(token_file) as f:
        token = f.read().strip()
    op = encore_client.operator(int(port), token, timeout=60)
    r = upload_path(op, path, sha)
    if not r.get("data", {}).get("complete"):
        print("upload failed: %r" % r, file=sys.stderr)
        sys.exit(1)
    tid = ""
    if sys.argv[5:] == ["submit"]:
        r = op.request("submit", {"task": {
            "command": ["true"], "name": "file-bench",
            "inputs": [{"name": "in.bin", "sha256": sha, "size": size}]}})
        if not r.get("data", {}).get("ok"):
            print("submit failed: %r" % r, file=sys.stderr)
            sys.exit(1)
        tid = " " + r["data"]["task_id"]
    print("%s %d%s" % (sha, size, tid))


if __name__ == "__main__":
    main()
