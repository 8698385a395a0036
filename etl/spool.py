"""Objects waiting for the next sync: the admin write-back queue.

An admin action re-fetches what it changed and publishes it at once, but
DuckDB allows one writer: while a sync holds the working file, the objects are
appended here instead (`<db>.spool.jsonl`, one Stripe object per line, any
type). The sync loads the queue right after opening its working file, inside
its own transaction, and removes it after publishing. It renames the file
before reading, so lines appended meanwhile wait for the run after.
"""
from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import orjson

from etl.load import load_mixed

log = logging.getLogger("tally.spool")


def spool_path(db_path: str) -> str:
    return f"{db_path}.spool.jsonl"


def _loading_path(db_path: str) -> str:
    return f"{db_path}.spool.loading.jsonl"


@contextmanager
def _locked(db_path: str):
    """Appends (the dashboard) and the take-over (a sync) are separate processes."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{db_path}.spool.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def queue_objects(objects: list[dict], db_path: str) -> None:
    """Append whole lines and fsync: a crash loses at most a half line, never the file."""
    lines = b"".join(orjson.dumps(o) + b"\n" for o in objects)
    with _locked(db_path), open(spool_path(db_path), "ab") as spool:
        spool.write(lines)
        spool.flush()
        os.fsync(spool.fileno())


def load_spool(con, db_path: str) -> int:
    """Load queued objects into the writer's connection. Returns objects loaded.

    A spool left from a run that failed before `finish_spool` is loaded again
    (upserts make that harmless).
    """
    loading = _loading_path(db_path)
    with _locked(db_path):  # no append lands in a file already taken over
        if not os.path.exists(loading) and os.path.exists(spool_path(db_path)):
            os.replace(spool_path(db_path), loading)
    if not os.path.exists(loading):
        return 0
    with open(loading, "rb") as spool:
        objects = [o for o in (_parse(line) for line in spool if line.strip()) if o]
    load_mixed(con, objects)
    return len(objects)


def finish_spool(db_path: str) -> None:
    """After publishing: the loaded queue is in the published file now."""
    try:
        os.remove(_loading_path(db_path))
    except FileNotFoundError:
        pass


def _parse(line: bytes) -> dict | None:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # a line cut short by a crash mid-append
        log.warning("skipped an unreadable line in the admin spool")
        return None
