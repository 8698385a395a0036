"""Start and stop local HTTP servers for tests (loopback only)."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from fakestripe import processes
from fakestripe.processes import free_port, wait_for_http

__all__ = ["ROOT", "LOGS", "free_port", "wait_for_http", "running", "localstripe"]

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
