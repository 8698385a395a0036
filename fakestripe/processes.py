"""Start and stop a local HTTP server process (loopback only) and wait for it to answer.

fakestripe.testing.serve runs the fake server with these; the tests and
benchmarks use them for their other servers (tests/support/servers.py).
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout: `python -m fakestripe` runs from here


def default_log_dir() -> Path:
    """Where server logs go unless the caller says: $FAKESTRIPE_LOG_DIR, else the temp dir."""
    return Path(os.environ.get("FAKESTRIPE_LOG_DIR") or Path(tempfile.gettempdir()) / "fakestripe-logs")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered, even if with an error status
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered at {url} within {timeout}s")


@contextmanager
def running(args: list[str], url: str, env: dict | None = None, timeout: float = 30.0,
            log_dir: Path | None = None):
    """Run a server process until the block ends; yield it once `url` answers."""
    # The server's log goes to a file: an unread pipe fills up and blocks the server.
    logs = Path(log_dir) if log_dir else default_log_dir()
    logs.mkdir(parents=True, exist_ok=True)
    name = "-".join(Path(a).stem for a in args[1:3])  # e.g. "-m-streamlit", "localstripe_server-PORT"
    log = open(logs / f"{name}-{time.time_ns()}.log", "wb")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(url, timeout, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
