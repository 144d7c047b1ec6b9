"""A stand-in for the Dataflow service's job API, on loopback, for the contract test of tests/test_gcs.py:
it records each job request that Beam's DataflowRunner sends (--dataflow_endpoint=http://localhost:PORT)
and answers every poll with the state it is told to, plus one error message for a failed job. It runs no
job: it shows what we send to Dataflow and what we do with its answer, not that Dataflow runs it.
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JOBS = re.compile(r"^/v1b3/projects/([^/]+)/locations/([^/]+)/jobs(?:/([^/?]+))?(/messages)?")


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: str = "JOB_STATE_FAILED", message: str = "the recorder failed this job"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state, self.message = state, message
        self.jobs: list[dict] = []       # the create-job requests, as sent
        self.polls = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://localhost:{self.server_address[1]}"   # Beam's validator wants a 'localhost' host

    def __enter__(self) -> "Recorder":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def log_message(self, *args):
        pass

    def _send(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        found = JOBS.match(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not found or found.group(3):
            return self._send({"error": {"code": 404, "message": f"no such method {self.path}"}}, 404)
        job_id = f"2026-recorded-{len(self.server.jobs)}"
        self.server.jobs.append(body)
        self._send({"id": job_id, "projectId": found.group(1), "location": found.group(2), "name": body.get("name"),
                    "clientRequestId": body.get("clientRequestId", ""), "type": body.get("type"),
                    "currentState": "JOB_STATE_QUEUED"})

    def do_GET(self):
        found = JOBS.match(self.path)
        if not found or not found.group(3):
            return self._send({"error": {"code": 404, "message": f"no such method {self.path}"}}, 404)
        if found.group(4):   # the job's messages: one error when it failed
            failed = self.server.state == "JOB_STATE_FAILED"
            return self._send({"jobMessages": [{"id": "1", "time": "2026-12-04T00:00:00Z", "messageText":
                                                self.server.message, "messageImportance": "JOB_MESSAGE_ERROR"}]
                               if failed else []})
        self.server.polls += 1
        self._send({"id": found.group(3), "projectId": found.group(1), "location": found.group(2),
                    "currentState": self.server.state})
