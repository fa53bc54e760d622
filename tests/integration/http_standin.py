# SPDX-License-Identifier: ISC
"""A stand-in for the main node's HTTP side, for developing the dashboard.

It serves main-node/web/ from the source tree and answers the /api/v1
endpoints of protocol/HTTP.md by speaking the JSON protocol to a real main
node (one session per request; /api/v1/events subscribes).  It is a
development aid only: the tests in test_web.py and test_http.py run against
encore-main itself.

    /usr/bin/python3 tests/integration/http_standin.py MAIN_PORT HTTP_PORT TOKEN
"""

import json
import os
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encore_client  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB = os.path.join(ROOT, "main-node", "web")
FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/app.css": ("app.css", "text/css; charset=utf-8"),
         "/favicon.svg": ("favicon.svg", "image/svg+xml")}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self'; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
FINAL = {"completed", "failed", "timed_out", "cancelled"}
CODES = {"bad_json": 400, "bad_field": 400, "bad_request": 400,
         "unauthorized": 401, "forbidden": 403, "not_found": 404,
         "conflict": 409, "busy": 503}


def make_handler(port, token):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send_json(self, code, obj, headers=()):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def error(self, code, ecode, msg):
            self.send_json(code, {"error": {"code": ecode, "message": msg}})

        def authed(self):
            h = self.headers.get("Authorization", "")
            if h == "Bearer " + token:
                return True
            self.error(401, "unauthorized", "operator token needed")
            return False

        def call(self, mtype, data=None):
            c = encore_client.operator(port, token)
            try:
                r = c.request(mtype, data)
            finally:
                c.close()
            if r.get("message_type") == "error":
                d = r.get("data", {})
                self.error(CODES.get(d.get("code"), 500), d.get("code"),
                           d.get("message", ""))
                return None
            return r["data"]

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            p = u.path
            if p in FILES:
                name, ctype = FILES[p]
                with open(os.path.join(WEB, name), "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Security-Policy", CSP)
                self.end_headers()
                self.wfile.write(body)
                return
            if p == "/api/v1/status":
                d = self.call("status")
                if d is not None:
                    self.send_json(200, d["status"])
                return
            if p == "/api/v1/devices":
                d = self.call("list_devices")
                if d is not None:
                    self.send_json(200, d["devices"])
                return
            if p == "/api/v1/tasks":
                states = q.get("state", [])
                d = self.call("list_tasks", {"all": bool(q.get("all") or states),
                                             "limit": int(q.get("limit", ["0"])[0])})
                if d is not None:
                    rows = [t for t in d["tasks"] if not states or t["state"] in states]
                    self.send_json(200, rows)
                return
            if p == "/api/v1/events":
                if self.authed():
                    self.events()
                return
            parts = p.split("/")
            if len(parts) in (5, 6) and parts[:4] == ["", "api", "v1", "tasks"]:
                if not self.authed():
                    return
                if len(parts) == 5:
                    d = self.call("get_task", {"task_id": parts[4]})
                    if d is not None:
                        self.send_json(200, d["task"])
                elif parts[5] == "logs":
                    d = self.call("logs", {"task_id": parts[4]})
                    if d is not None:
                        d.pop("ok", None)
                        self.send_json(200, d)
                else:
                    self.error(404, "not_found", "no such path")
                return
            self.error(404, "not_found", "no such path")

        def do_POST(self):
            p = urllib.parse.urlsplit(self.path).path
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            if not self.authed():
                return
            parts = p.split("/")
            if p == "/api/v1/tasks":
                try:
                    spec = json.loads(body)
                except ValueError:
                    self.error(400, "bad_json", "bad JSON")
                    return
                data = spec if "task" in spec else {"task": spec}
                d = self.call("submit", data)
                if d is not None:
                    self.send_json(201, {"id": d["task_id"], "state": d["state"]})
                return
            if len(parts) == 6 and parts[3] == "tasks":
                d = self.call(parts[5], {"task_id": parts[4]})
            elif len(parts) == 6 and parts[3] == "devices":
                d = self.call(parts[5], {"device_id": parts[4]})
            else:
                self.error(404, "not_found", "no such path")
                return
            if d is not None:
                self.send_json(200, d)

        def events(self):
            c = encore_client.operator(port, token, timeout=3600)
            c.request("subscribe", {"topics": ["devices", "tasks"]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            try:
                while True:
                    try:
                        m = c.recv(timeout=15)
                    except socket.timeout:
                        self.wfile.write(b": ping\n\n")
                        self.wfile.flush()
                        continue
                    d = m.get("data", {})
                    if d.get("topic") == "devices":
                        ev, obj = "device", d.get("device") or {"removed": d.get("removed")}
                    elif d.get("topic") == "tasks":
                        ev, obj = "task", d.get("task")
                    else:
                        continue
                    self.wfile.write(("event: %s\ndata: %s\n\n" % (ev, json.dumps(obj))).encode())
                    self.wfile.flush()
            except (OSError, encore_client.Closed):
                pass
            finally:
                c.close()

    return H


def serve(main_port, http_port, token):
    """Start the stand-in in a thread; returns the server (shutdown() it)."""
    srv = ThreadingHTTPServer(("127.0.0.1", http_port), make_handler(main_port, token))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


if __name__ == "__main__":
    s = serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    print("http://127.0.0.1:%s/" % sys.argv[2])
    threading.Event().wait()
