"""The notifier (digests on schedule, alerts after each publish) as the updater's child.

`python -m etl serve` starts `python -m tally_notify serve` beside itself, so the
updater is the one process that keeps the data current and sends what it says;
yet etl never imports the notifier, nor the metrics its digests are built from:
a command line is the whole interface between them (etl/ → metrics stays
one-way), and a slow mail server never holds up an apply or a publish.

`--no-notify` or TALLY_NOTIFY=0 leaves it out. It is started again if it dies,
and it dies with the updater, even on kill -9 (Linux's parent-death signal).
"""
from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading

from etl.convert import ROOT, SECRETS

log = logging.getLogger("tally.updater")
RESTART_SECONDS = 30
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def wanted(asked: bool) -> bool:
    return asked and os.environ.get("TALLY_NOTIFY") != "0" and importlib.util.find_spec("tally_notify") is not None


def _die_with_parent() -> None:
    # In the child between fork and exec: one system call, nothing that takes a lock.
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class NotifierChild:
    """Keeps `python -m tally_notify serve` running for one database and updater."""

    def __init__(self, db_path: str, updater_url: str):
        self.command = [sys.executable, "-m", "tally_notify", "serve", "--db", db_path,
                        "--updater-url", updater_url]
        self.env = {k: v for k, v in os.environ.items() if k not in SECRETS}  # it never calls Stripe
        self.stopping = threading.Event()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        # The thread that starts the child must live as long as the updater: the
        # parent-death signal follows the thread, not the process.
        threading.Thread(target=self._keep_running, name="tally-notifier", daemon=True).start()

    def _keep_running(self) -> None:
        while not self.stopping.is_set():
            try:
                self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env,
                                             preexec_fn=_die_with_parent)
            except OSError as exc:
                log.warning("cannot start the notifier: %s", exc.strerror)
                return
            code = self.proc.wait()
            if self.stopping.wait(1):  # a Ctrl-C reaches both: the updater is stopping too
                return
            log.warning("the notifier stopped (exit code %s); starting it again in %d s", code, RESTART_SECONDS)
            self.stopping.wait(RESTART_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # quiet even while it imports; what it sends is recorded before sending
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
