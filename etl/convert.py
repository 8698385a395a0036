"""List pages parsed and converted to Arrow in a worker process.

Parsing a 100-object page and converting it (`etl.load.prepare_objects`)
costs 2 to 8 ms of Python a page. On the fetch threads that work holds the
interpreter lock most of a big sync, and every millisecond it is held delays
the rate limiter's next request: a slow or busy machine then falls short of
Stripe's limits. The worker takes the response body as bytes and answers
with the page ready to write, so the sync process only sends requests and
writes.

The worker is `python -m etl.convert` on two pipes, not a multiprocessing
pool: those start by importing the parent's main module again, which would
run a whole second sync for a script that calls `run_sync` without a main
guard. It gets no Stripe key, and it exits when its input closes, so a sync
killed outright does not leave it behind. `python -m etl sync` starts it
first thing (`warm_up`); it converts a page before its first request, and
keeps pandas out (Arrow would import it on the first page, delaying the
sync's first pages and keeping its memory for good).

An invoice page with a long invoice (lines beyond the embedded first ones)
comes back unconverted: the fetch thread pages the rest of its lines and
converts it itself, as it does whenever the worker is not there (it could
not start, died, or took over ANSWER_SECONDS) or failed on a page (the fetch
thread then meets the same error where it handles errors).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from etl.sync_jobs import Page

# Arrow and the loader are imported where pages are converted, not above:
# `python -m etl sync` starts the worker (`warm_up`) before importing them.

ROOT = Path(__file__).resolve().parents[1]
LONG_INVOICE = "long invoice"  # the worker's answer for a page to finish on the fetch thread
FAILED = "failed"
ANSWER_SECONDS = 30  # a page takes milliseconds; a worker this late is stuck
MAX_FRAME = 1 << 31
PIPE_BYTES = 1 << 20  # Linux's default limit for a pipe's size (/proc/sys/fs/pipe-max-size)
SECRETS = ("STRIPE_API_KEY",)


def page_from_objects(table: str, objects: list[dict], has_more: bool, synced_at: dt.datetime,
                      api_version: str) -> Page:
    from etl.load import prepare_objects
    from etl.sync_jobs import Page

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
    """The worker process and its pipes; one page at a time, for any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worker: subprocess.Popen | None = None
        self._answers: int | None = None  # the pipe the worker answers on
        self._stopped = False
        self.lost = False  # the worker died or hung: pages are converted in this process

    def start(self) -> None:
        """Start the worker now (it takes a moment to import), if not yet started."""
        with self._lock:
            if self._worker is None and not self._stopped:
                spawned = _take_warm_worker() or _spawn()
                if spawned is None:
                    self._stopped = self.lost = True
                    return
                self._worker, self._answers = spawned
                # Dropped without stop() (say, a sync that raised): it still exits.
                weakref.finalize(self, _close_quietly, self._worker.stdin)

    def convert(self, table: str, body: bytes, synced_at: dt.datetime,
                api_version: str) -> Page | None:
        """Like `convert_body`, in the worker when there is one."""
        self.start()
        with self._lock:
            if self._worker is not None:
                try:
                    stdin, answers = self._worker.stdin, self._answers
                    assert stdin is not None and answers is not None, "set with the worker"
                    deadline = time.monotonic() + ANSWER_SECONDS
                    _write_all(stdin.fileno(), _frame((table, body, synced_at, api_version)), deadline)
                    answer = pickle.loads(_read_frame(answers, deadline))
                except Exception:  # died, hung, or garbled its answer: carry on here
                    answer = FAILED
                    self.lost = True
                    self._stop_worker()
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
        answers, self._answers = self._answers, None
        if worker is not None:
            _end(worker)
        if answers is not None:  # set and cleared with the worker
            os.close(answers)


def warm_up() -> None:
    """Start a worker for the next PageConverter: `python -m etl sync` calls this
    first, so the worker imports Arrow while the sync imports DuckDB, and is
    ready before the first pages come."""
    spawned = _spawn()
    if spawned is not None:
        with _WARM_LOCK:
            _WARM.append(spawned)


_WARM: list[tuple[subprocess.Popen, int]] = []
_WARM_LOCK = threading.Lock()


def discard_warm_workers() -> None:
    """End warmed-up workers no converter took (say, the sync stopped on a missing key)."""
    with _WARM_LOCK:
        warm, _WARM[:] = list(_WARM), []
    for worker, answers in warm:
        _end(worker)
        os.close(answers)


def _take_warm_worker() -> tuple[subprocess.Popen, int] | None:
    with _WARM_LOCK:
        while _WARM:
            worker, answers = _WARM.pop()
            if worker.poll() is None:
                return worker, answers
            _end(worker)  # died: the next one, or a new one
            os.close(answers)
    return None


def _spawn() -> tuple[subprocess.Popen, int] | None:
    """A worker process and the pipe it answers on; None if it cannot start.

    Answers come on a pipe of their own: nothing the worker or a library in
    it prints can get into one. It runs from the project, so no `etl/` of the
    current directory shadows ours.
    """
    answers, answers_end = os.pipe()
    _widen(answers_end)
    try:
        worker = subprocess.Popen(
            [sys.executable, "-m", "etl.convert", str(answers_end)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(answers_end,), bufsize=0, cwd=ROOT, env=_worker_env())
    except OSError:
        os.close(answers)
        return None
    finally:
        os.close(answers_end)  # the worker's now: its death ends our reads
    assert worker.stdin is not None  # stdin=PIPE
    _widen(worker.stdin.fileno())
    return worker, answers


def _end(worker: subprocess.Popen) -> None:
    _close_quietly(worker.stdin)  # it exits at the end of its input
    try:
        worker.wait(timeout=5)
    except subprocess.TimeoutExpired:  # hung
        worker.kill()
        worker.wait()


def _worker_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in SECRETS}


def _widen(fd: int) -> None:
    """A pipe that holds a whole page: one read or write a page, not one per 64 KB."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError):
        pass  # not Linux, or over the system's limit: smaller reads work too


def _close_quietly(stream) -> None:
    try:
        stream.close()
    except OSError:
        pass  # the worker has died already


def _frame(message) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("<Q", len(data)) + data


def _size(header: bytes) -> int:
    size, = struct.unpack("<Q", header)
    if size > MAX_FRAME:  # not a length we wrote: something else wrote to the pipe
        raise ValueError(f"the page converter sent a frame of {size} bytes")
    return size


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        _wait_until_ready(fd, deadline, write=True)
        view = view[os.write(fd, view):]


def _read_frame(fd: int, deadline: float) -> bytes:
    return _read_exactly(fd, _size(_read_exactly(fd, 8, deadline)), deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks = []
    while size:
        _wait_until_ready(fd, deadline, write=False)
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the page converter closed its pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _wait_until_ready(fd: int, deadline: float, write: bool) -> None:
    # poll, not select: a process with many files open (a dashboard) may have
    # descriptors past select's 1,024
    poller = select.poll()
    poller.register(fd, select.POLLOUT if write else select.POLLIN)
    if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
        raise TimeoutError(f"the page converter did not answer within {ANSWER_SECONDS} s")


def serve(answers_fd: int) -> None:
    """The worker: convert pages from standard input until it closes."""
    from etl.memory import flat_memory, without_pandas

    without_pandas()  # Arrow would import it on its first array made from a list

    requests = sys.stdin.buffer
    answers = os.fdopen(answers_fd, "wb")
    flat_memory()  # the same allocators as the sync process: flat RSS
    # Once through the conversion while the sync starts, not on its first page.
    page_from_objects("customers", [{"id": "cus_warm_up", "created": 0}], False,
                      dt.datetime(2000, 1, 1), "")
    while True:
        header = requests.read(8)
        if len(header) < 8:
            return  # the sync closed the pipe, or died
        table, body, synced_at, api_version = pickle.loads(requests.read(_size(header)))
        page: Page | str | None
        try:
            page = convert_body(table, body, synced_at, api_version)
        except Exception:  # the fetch thread converts it again and handles the error
            page = FAILED
        answers.write(_frame(LONG_INVOICE if page is None else page))
        answers.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
    # Skip the interpreter's teardown (Arrow's is slow): the sync waits for
    # this exit before publishing, and every answer is flushed already.
    os._exit(0)
