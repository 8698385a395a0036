"""Start and stop local HTTP servers for tests (loopback only)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "tests" / "artifacts" / "servers"  # git-ignored


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
def running(args: list[str], url: str, env: dict | None = None, timeout: float = 30.0):
    """Run a server process until the block ends; yield it once `url` answers."""
    # The server's log goes to a file: an unread pipe fills up and blocks the server.
    LOGS.mkdir(parents=True, exist_ok=True)
    name = "-".join(Path(a).stem for a in args[1:3])  # e.g. "-m-streamlit", "localstripe_server-PORT"
    log = open(LOGS / f"{name}-{time.time_ns()}.log", "wb")
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


@contextmanager
def localstripe():
    """A fresh localstripe on a free loopback port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    script = str(ROOT / "tests" / "support" / "localstripe_server.py")
    with running([sys.executable, script, str(port)], base + "/v1/customers"):
        yield base
