"""The dashboard as `make run` serves it (`python -m tally_ui.serve`) on a free loopback port,
and a headless Debian Chromium.

Reusable by every browser test: `dashboard_server(env=..., secrets=...)` yields
the base URL; `chromium()` yields a Playwright browser (never downloads one).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port, running

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def dashboard_server(env: dict[str, str], secrets: str | Path | None = None, timeout: float = 60):
    """A fresh dashboard process, served as `make run` serves it; `env` is added to this process's environment."""
    port = free_port()
    args = [sys.executable, "-m", "tally_ui.serve",  # serve.py (dashboard.py with frame protection), as `make run` does
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false"]
    if secrets:
        args += ["--secrets.files", str(secrets)]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TALLY_UPDATER": "0", **env}  # no updater on a fixed port unless asked
    with running(args, base + "/_stcore/health", env=env, timeout=timeout):
        yield base


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
