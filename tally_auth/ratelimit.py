"""Failed sign-ins are limited per user name, across every session of the process.

After `FREE_FAILURES` failures a name is locked for a delay that doubles with
each further failure (capped), so guessing a password from many browser tabs
is no faster than from one. A successful sign-in clears the record.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 3600.0


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0


class LoginLimiter:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}

    def seconds_locked(self, name: str) -> float:
        """How long `name` must still wait before trying again (0 when free)."""
        with self._lock:
            record = self._records.get(_key(name))
            if record is None:
                return 0.0
            return max(0.0, record.locked_until - self._clock())

    def failed(self, name: str) -> None:
        with self._lock:
            record = self._records.setdefault(_key(name), _Record())
            record.failures += 1
            extra = record.failures - FREE_FAILURES
            if extra >= 0:
                delay = min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** extra)
                record.locked_until = self._clock() + delay

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._records.pop(_key(name), None)


def _key(name: str) -> str:
    return (name or "").strip().lower()


LIMITER = LoginLimiter()
