"""List pages parsed and converted to Arrow in a worker process.

Parsing a 100-object page and converting it (`etl.load.prepare_objects`)
costs 2 to 8 ms of Python a page. On the fetch threads that work holds the
interpreter lock most of a big sync, and every millisecond it is held delays
the rate limiter's next request: a slow or busy machine then falls short of
Stripe's limits. The worker takes the response body as bytes and answers
with the page ready to write, so the sync process only sends requests and
writes.

The worker is `python -m etl.convert` on a pipe, not a multiprocessing pool:
those start by importing the parent's main module again, which would run a
whole second sync for a script that calls `run_sync` without a main guard.
It gets no Stripe key, and it exits when the pipe closes, so a sync killed
outright does not leave it behind.

An invoice page with a long invoice (lines beyond the embedded first ones)
comes back unconverted: the fetch thread pages the rest of its lines and
converts it itself, as it does whenever the worker is not there (it could
not start, or died) or failed on a page (the fetch thread then meets the
same error where it handles errors).
"""
from __future__ import annotations

import datetime as dt
import os
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path

import orjson

from etl.load import prepare_objects
from etl.memory import flat_memory
from etl.sync_jobs import Page

ROOT = Path(__file__).resolve().parents[1]
LONG_INVOICE = "long invoice"  # the worker's answer for a page to finish on the fetch thread
FAILED = "failed"
SECRETS = ("STRIPE_API_KEY",)


def page_from_objects(table: str, objects: list[dict], has_more: bool, synced_at: dt.datetime,
                      api_version: str) -> Page:
    rows = prepare_objects(table, objects, synced_at=synced_at, api_version=api_version)
    return Page(len(objects), objects[-1]["id"] if objects else None, has_more and bool(objects),
                rows, [o.get("created") or 0 for o in objects])


def convert_body(table: str, body: bytes, synced_at: dt.datetime, api_version: str) -> Page | None:
    """The page in `body`, converted; None when an invoice on it has more lines to page."""
    data = orjson.loads(body)
    objects = data.get("data") or []
    if table == "invoices" and any(has_more_lines(invoice) for invoice in objects):
        return None
    return page_from_objects(table, objects, bool(data.get("has_more")), synced_at, api_version)


def has_more_lines(invoice: dict) -> bool:
    lines = invoice.get("lines")
    return isinstance(lines, dict) and bool(lines.get("has_more"))


class PageConverter:
    """The worker process and the pipe to it; one page at a time, for any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._worker: subprocess.Popen | None = None
        self._stopped = False

    def start(self) -> None:
        """Start the worker now (it takes a moment to import), if not yet started."""
        with self._lock:
            if self._worker is None and not self._stopped:
                try:
                    self._worker = subprocess.Popen(
                        [sys.executable, "-m", "etl.convert"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_worker_env())
                except OSError:
                    self._stopped = True

    def convert(self, table: str, body: bytes, synced_at: dt.datetime,
                api_version: str) -> Page | None:
        """Like `convert_body`, in the worker when there is one."""
        self.start()
        with self._lock:
            if self._worker is not None:
                try:
                    _send(self._worker.stdin, (table, body, synced_at, api_version))
                    answer = _receive(self._worker.stdout)
                except (OSError, EOFError, pickle.UnpicklingError):
                    answer = FAILED
                    self._stop_worker()  # it died (say, out of memory): carry on here
                if answer == LONG_INVOICE:
                    return None
                if answer != FAILED:
                    return answer
        return convert_body(table, body, synced_at, api_version)

    def stop(self) -> None:
        with self._lock:
            self._stop_worker()

    def _stop_worker(self) -> None:
        worker, self._worker, self._stopped = self._worker, None, True
        if worker is not None:
            try:
                worker.stdin.close()  # it exits at the end of its input
            except OSError:
                pass  # it has died already
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            worker.stdout.close()


def _worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _send(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the page converter closed its pipe")
    size, = struct.unpack("<Q", header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the page converter closed its pipe")
    return pickle.loads(data)


def serve(requests=None, answers=None) -> None:
    """The worker: convert pages from `requests` until it closes."""
    requests = requests or sys.stdin.buffer
    answers = answers or sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the pipe, whatever prints
    flat_memory()  # the same allocators as the sync process: flat RSS
    while True:
        try:
            table, body, synced_at, api_version = _receive(requests)
        except EOFError:
            return
        try:
            page = convert_body(table, body, synced_at, api_version)
        except Exception:  # the fetch thread converts it again and handles the error
            page = FAILED
        _send(answers, LONG_INVOICE if page is None else page)


if __name__ == "__main__":
    serve()
