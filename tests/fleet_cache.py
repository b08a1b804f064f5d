"""A real remote build cache for the tests: Debian's nginx with WebDAV PUT on 127.0.0.1, and a small
fault-injecting proxy in front of it (500s, stalls, truncated bodies, forged objects), which also logs
every request so a test can say what reached the server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NGINX_CONF = """daemon off;
user root;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root}/data;
    location / {{ dav_methods PUT; create_full_put_path on; client_max_body_size 1g; }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Nginx:
    """nginx serving `root/data` with GET and WebDAV PUT, as a fleet would run it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data").mkdir(parents=True)
        self.port = free_port()
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=self.port))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/", timeout=1).close()
            except urllib.error.HTTPError:
                break  # 403/404 for the bare root: it answers
            except OSError:
                time.sleep(0.05)
                continue
            break
        else:
            raise RuntimeError(f"nginx did not start: {(root / 'error.log').read_text(errors='replace')}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Seen:
    method: str
    path: str


@dataclass
class ProxyState:
    upstream: str
    fault: str = ""  # "", "500", "stall", "truncate"
    stall_seconds: float = 30.0
    log: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        state = self.server.state
        with state.lock:  # logged on arrival, before any fault: a test can tell that its fault had a request
            state.log.append(Seen(self.command, self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if state.fault == "500":
            self._answer(500, b"injected\n")
            return
        if state.fault == "stall":
            time.sleep(state.stall_seconds)
        request = urllib.request.Request(state.upstream + self.path, data=body if self.command == "PUT" else None,
                                         method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, data = answer.status, answer.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        if state.fault == "truncate" and self.command == "GET" and status == 200 and len(data) > 1:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])  # then the connection drops
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._answer(status, data)

    def _answer(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = _forward  # noqa: N815 - BaseHTTPRequestHandler's names


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ProxyState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FaultProxy:
    """In front of nginx: forwards everything unless told to fail, and logs what it saw."""

    def __init__(self, upstream: str) -> None:
        self.state = ProxyState(upstream)
        self.server = _ProxyServer(self.state)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def methods(self) -> list[str]:
        with self.state.lock:
            return [s.method for s in self.state.log]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
