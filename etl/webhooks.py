"""Stripe webhook deliveries: checking one (signature, mode, account), and the
durable queue of accepted events the updater applies (etl/applier.py)."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import orjson
import stripe

BATCH = 500  # events per apply-and-publish


# --- the durable queue -------------------------------------------------------------

class EventQueue:
    """Accepted events, one JSON line each, in `<db>.webhooks.jsonl`; the byte
    offset applied so far in `<db>.webhooks.done`."""

    def __init__(self, db_path: str):
        self.path = f"{db_path}.webhooks.jsonl"
        self.done_path = f"{db_path}.webhooks.done"
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._drop_cut_line()

    def _drop_cut_line(self) -> None:
        """An append cut short by a crash was never answered 200: drop it, or the
        next event would be glued to it and lost."""
        try:
            with open(self.path, "rb+") as queue:
                data = queue.read()
                if data and not data.endswith(b"\n"):
                    queue.truncate(data.rfind(b"\n") + 1)
        except FileNotFoundError:
            pass

    def append(self, event: dict) -> None:
        line = orjson.dumps({"received": time.time(), "event": event}) + b"\n"
        with self.lock, open(self.path, "ab") as queue:
            queue.write(line)
            queue.flush()
            os.fsync(queue.fileno())
        self.arrived.set()

    def applied_offset(self) -> int:
        try:
            offset = int(Path(self.done_path).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0
        return offset if offset <= _size(self.path) else 0  # the queue was emptied: read it all

    def pending(self, limit: int = BATCH) -> tuple[list[dict], int]:
        """Up to `limit` queued entries not yet applied, and the offset after them."""
        offset = self.applied_offset()
        entries = []
        try:
            with open(self.path, "rb") as queue:
                queue.seek(offset)
                for line in queue:
                    if not line.endswith(b"\n"):
                        break  # an append cut short by a crash: never acknowledged
                    offset += len(line)
                    try:
                        entries.append(orjson.loads(line))
                    except orjson.JSONDecodeError:
                        continue
                    if len(entries) >= limit:
                        break
        except FileNotFoundError:
            pass
        return entries, offset

    def waiting(self) -> int:
        offset = self.applied_offset()
        try:
            with open(self.path, "rb") as queue:
                queue.seek(offset)
                return sum(1 for line in queue if line.endswith(b"\n"))
        except FileNotFoundError:
            return 0

    def mark_applied(self, offset: int) -> None:
        """Move the applied offset; once everything is applied, start an empty queue."""
        with self.lock:
            empty = offset >= _size(self.path)
            # Offset 0 before emptying: a crash between the two applies the
            # events again (harmless), never skips new ones.
            self._save_offset(0 if empty else offset)
            if empty:
                with open(self.path, "wb") as queue:
                    os.fsync(queue.fileno())

    def _save_offset(self, offset: int) -> None:
        tmp = f"{self.done_path}.tmp"
        with open(tmp, "w") as done:
            done.write(str(offset))
            done.flush()
            os.fsync(done.fileno())
        os.replace(tmp, self.done_path)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


# --- checking a delivery --------------------------------------------------------------

def webhook_secrets(raw: str | None = None) -> list[str]:
    raw = os.environ.get("STRIPE_WEBHOOK_SECRET", "") if raw is None else raw
    return [s.strip() for s in raw.split(",") if s.strip()]


def verified(payload: bytes, header: str | None, secrets: list[str]) -> bool:
    text = payload.decode("utf-8", errors="replace")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret,
                                                  stripe.Webhook.DEFAULT_TOLERANCE)
            return True
        except stripe.SignatureVerificationError:
            continue
    return False


def foreign(event: dict, mode: str, account: str | None) -> str | None:
    """Why an event belongs to another account or mode, or None when it is ours."""
    if bool(event.get("livemode")) != (mode == "live"):
        return "an event of the other mode (live/test)"
    other = event.get("account")
    if other and other != account:
        return "an event of another account"
    return None
