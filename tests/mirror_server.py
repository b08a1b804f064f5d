"""A threaded HTTP server on 127.0.0.1 serving a go.dev-layout mirror, with Range and fault injection.

Faults are queued per file name and consumed one request at a time, so a test can say "drop the
connection after 1 MiB once, then serve" or "answer 503 twice". Every request is logged with its
Range header and the bytes actually sent, so tests can assert on what was fetched.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Fault:
    kind: str  # "status", "drop_after", "stall", "corrupt", "short_length", "trickle", "huge_length"
    status: int = 500
    after: int = 0  # bytes sent before a drop or stall
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    range: str | None
    status: int
    sent: int


class MirrorState:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.overrides: dict[str, bytes] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.log: list[Request] = []
        self.lock = threading.Lock()
        self._cache: dict[str, bytes] = {}
        self.sumdb: Any = None  # a tests.sumdb_server.SumdbDouble answering under sumdb/<name>/
        self.stalls_released = threading.Event()  # set: a stall in progress ends now rather than after its seconds

    def body(self, name: str) -> bytes | None:
        if name in self.overrides:
            return self.overrides[name]
        if self.sumdb is not None and name.startswith(f"sumdb/{self.sumdb.name}/"):
            answer: bytes | None = self.sumdb.answer(name.removeprefix(f"sumdb/{self.sumdb.name}/"))
            return answer
        if name not in self._cache:
            path = self.root / name
            if not path.is_file() or ".." in name:
                return None
            self._cache[name] = path.read_bytes()
        return self._cache[name]

    def add_fault(self, name: str, fault: Fault, times: int = 1) -> None:
        with self.lock:
            self.faults.setdefault(name, []).extend([fault] * times)

    def take_fault(self, name: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(name)
            return queue.pop(0) if queue else None

    def put_back(self, name: str, fault: Fault) -> None:
        """A fault that could not fire (the client left first) waits for the next request."""
        with self.lock:
            self.faults.setdefault(name, []).insert(0, fault)

    def release_stalls(self) -> None:
        """End every stall now, and let no later one begin (the test has seen what it set the stall up for)."""
        with self.lock:
            self.faults.clear()
        self.stalls_released.set()

    def requests_for(self, name: str) -> list[Request]:
        return [r for r in self.log if r.path == name]


def _declared_length(fault: Fault | None, size: int) -> int:
    """The Content-Length sent: short_length declares 1000 bytes fewer, huge_length declares `after` bytes."""
    if fault and fault.kind == "short_length":
        return size - 1000
    if fault and fault.kind == "huge_length":
        return fault.after
    return size


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self, name: str, status: int, sent: int) -> Request:
        request = Request(name, self.headers.get("Range"), status, sent)
        with self.server.state.lock:
            self.server.state.log.append(request)
        return request

    def _send_plain(self, name: str, status: int, headers: dict[str, str] | None = None) -> None:
        body = f"status {status}\n".encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._record(name, status, 0)

    def do_GET(self) -> None:
        state = self.server.state
        name = self.path.lstrip("/").split("?", 1)[0]
        fault = state.take_fault(name)
        if fault and fault.kind == "status":
            self._send_plain(name, fault.status, fault.headers)
            return
        data = state.body(name)
        if data is None:
            self._send_plain(name, 404)
            return
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._record(name, 304, 0)
            return
        start = 0
        status = 200
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[6:].split("-", 1)[0])
            if start >= len(data):
                self._send_plain(name, 416)
                return
            status = 206
        if fault and fault.kind == "corrupt":
            data = data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
        body = memoryview(data)[start:]
        if fault and fault.kind == "trickle":  # one byte every `seconds`: alive, but never done in time
            self._trickle(name, body, fault.seconds)
            return
        self.send_response(status)
        length = _declared_length(fault, len(body))
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        # short_length declares 1000 bytes fewer than it sends: the surplus is left on the connection
        limit = fault.after if fault and fault.kind in ("drop_after", "stall") else len(body)
        record = self._record(name, status, 0)  # logged before sending, so a stalled request shows up at once
        self._send_body(name, body, limit, fault, record)

    def _send_body(self, name: str, body: memoryview, limit: int, fault: Fault | None, record: Request) -> None:
        try:
            while record.sent < limit:
                step = min(65536, limit - record.sent)
                self.wfile.write(body[record.sent:record.sent + step])
                record.sent += step
            if fault and fault.kind == "stall":
                self.wfile.flush()
                self.server.state.stalls_released.wait(fault.seconds)
            if fault and fault.kind in ("drop_after", "stall"):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            if fault and fault.kind in ("drop_after", "stall") and record.sent < limit:
                self.server.state.put_back(name, fault)  # so a test's fault fires whatever the client did first

    def _trickle(self, name: str, body: memoryview, seconds: float) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        record = self._record(name, 200, 0)
        try:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                record.sent += 1
                time.sleep(seconds)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: MirrorState


class MirrorServer:
    def __init__(self, root: Path, port: int = 0) -> None:
        self.state = MirrorState(root)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MirrorServer:
        self._thread.start()
        return self

    def serve_sumdb(self) -> Any:
        """Answer Go's checksum database protocol under `<url>/sumdb/<name>` for this mirror's proxy layout."""
        from tests.sumdb_server import SumdbDouble

        self.state.sumdb = SumdbDouble(self.state.root)
        return self.state.sumdb

    def gosumdb(self) -> str:
        """GOSUMDB naming the test database: `name+hash+key URL`."""
        db = self.state.sumdb
        return f"{db.verifier_key} {self.url}/sumdb/{db.name}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_forever(root: str, port: int = 0, url_file: str = "", sumdb_file: str = "") -> None:
    """Run a server in the foreground (for the demo, benchmarks and by hand); print its URL, and write
    it to url_file when given. With sumdb_file, also serve the test checksum database and write its
    GOSUMDB value there first.
    """
    server = MirrorServer(Path(root), port).start()
    if sumdb_file:
        server.serve_sumdb()
        Path(sumdb_file).write_text(server.gosumdb())
    if url_file:
        Path(url_file).write_text(server.url)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a go.dev-format mirror (and GOPROXY layout) on 127.0.0.1.")
    parser.add_argument("root", help="the mirror directory (index.json and archives, or a proxy layout)")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on (default: any free port)")
    parser.add_argument("--url-file", default="", help="write the server's URL to this file")
    parser.add_argument("--sumdb-file", default="", help="also serve the test checksum database; write GOSUMDB here")
    args = parser.parse_args(argv)
    serve_forever(args.root, args.port, args.url_file, args.sumdb_file)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: `tests` is importable
    main()
