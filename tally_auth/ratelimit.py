"""Failed sign-ins are limited per user name and per client, across every session of the process.

After `FREE_FAILURES` failures a name is locked for a delay that doubles with
each further failure (capped), so guessing a password from many browser tabs
is no faster than from one. One client (an address) gets `CLIENT_FREE_FAILURES`
across all names before it is locked itself, so one visitor cannot lock out
every name. A successful sign-in clears the name's record.

A try is counted as a failure *before* its password is checked (`reserve`), in
one step under the lock with the check of the lock itself: parallel sessions
cannot all slip in before the first failure is recorded.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

FREE_FAILURES = 5
CLIENT_FREE_FAILURES = 10
FIRST_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 3600.0


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0

    def count_failure(self, free: int, now: float) -> None:
        self.failures += 1
        extra = self.failures - free
        if extra >= 0:
            self.locked_until = now + min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** extra)


@dataclass(frozen=True)
class Verdict:
    wait: float  # seconds before a try is allowed; 0: this try may check its password
    by_client: bool = False  # the client, not the name, is locked


class LoginLimiter:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._clients: dict[str, _Record] = {}

    def seconds_locked(self, name: str) -> float:
        """How long `name` must still wait before trying again (0 when free)."""
        with self._lock:
            record = self._records.get(_key(name))
            if record is None:
                return 0.0
            return max(0.0, record.locked_until - self._clock())

    def reserve(self, name: str, client: str | None = None) -> Verdict:
        """Take a try for `name` from `client`, counted as a failure until `succeeded`.

        A refused try (locked name or client) is not counted.
        """
        with self._lock:
            now = self._clock()
            record = self._records.setdefault(_key(name), _Record())
            visitor = self._clients.setdefault(client, _Record()) if client else None
            if visitor is not None and visitor.locked_until > now:
                return Verdict(visitor.locked_until - now, by_client=True)
            if record.locked_until > now:
                return Verdict(record.locked_until - now)
            record.count_failure(FREE_FAILURES, now)
            if visitor is not None:
                visitor.count_failure(CLIENT_FREE_FAILURES, now)
            return Verdict(0.0)

    def failed(self, name: str, client: str | None = None) -> None:
        """Count a failure without a try (what `reserve` counts up front)."""
        with self._lock:
            now = self._clock()
            self._records.setdefault(_key(name), _Record()).count_failure(FREE_FAILURES, now)
            if client:
                self._clients.setdefault(client, _Record()).count_failure(CLIENT_FREE_FAILURES, now)

    def succeeded(self, name: str, client: str | None = None) -> None:
        """The reserved try was right: clear the name, and take back the client's reserved failure."""
        with self._lock:
            self._records.pop(_key(name), None)
            visitor = self._clients.get(client) if client else None
            if visitor is not None:
                visitor.failures = max(0, visitor.failures - 1)
                if visitor.failures < CLIENT_FREE_FAILURES:
                    visitor.locked_until = 0.0


def _key(name: str) -> str:
    return (name or "").strip().lower()


LIMITER = LoginLimiter()
