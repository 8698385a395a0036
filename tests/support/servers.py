"""Start and stop local HTTP servers for tests (loopback only)."""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fakestripe import processes
from fakestripe.processes import free_port, wait_for_http

__all__ = ["ROOT", "LOGS", "free_port", "wait_for_http", "running", "localstripe", "QuietHandler",
           "serving"]

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "tests" / "artifacts" / "servers"  # git-ignored
# The fake Stripe servers the tests start (fakestripe.testing.serve) log here too.
os.environ.setdefault("FAKESTRIPE_LOG_DIR", str(LOGS))


@contextmanager
def running(args: list[str], url: str, env: dict | None = None, timeout: float = 30.0):
    """Run a server process until the block ends (its log in tests/artifacts/servers)."""
    with processes.running(args, url, env, timeout, log_dir=LOGS) as proc:
        yield proc


@contextmanager
def localstripe():
    """A fresh localstripe on a free loopback port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    script = str(ROOT / "tests" / "support" / "localstripe_server.py")
    with running([sys.executable, script, str(port)], base + "/v1/customers"):
        yield base


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's request handler: no access log in pytest's output, one call to answer."""

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.5,
            daemon_threads: bool = False):
    """`handler` answering on a free 127.0.0.1 port, in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = daemon_threads
    threading.Thread(target=server.serve_forever, args=(poll_interval,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
