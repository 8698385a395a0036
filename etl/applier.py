"""The updater's writer: applies queued webhook events and runs the scheduled sync.

One applier thread takes what is queued (etl/webhooks.py), GETs the current
state of every touched object by id (so delivery order, duplicates and stale
snapshots do not matter), writes it to the working copy and publishes; only
then does it move the queue's applied offset. The incremental sync runs every
`--every` minutes under the same writer lock, as the safety net.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb

from etl import store
from etl.client import BadRequest, NotAvailable, PermissionDenied, StripeHTTP, StripeSyncError, Unreachable
from etl.copies import TwoCopies
from etl.load import OBJECT_TABLES, load_mixed, mark_deleted
from etl.sync import run_sync
from etl.sync_jobs import OBJECT_TYPES, forget_fresh_listings, utc_now
from etl.webhooks import EventQueue

log = logging.getLogger("tally.updater")
RETRY_SECONDS = 5.0  # after Stripe or the working file was unavailable
FETCH_THREADS = 8  # GETs of one batch at once (the client keeps to the rate limit)
GONE = object()
# Objects another object's events stand for: a charge's refunds, an invoice's payments.
RELATED = {"charges": ("/v1/refunds", "charge"), "invoices": ("/v1/invoice_payments", "invoice")}
# Where to GET an object by id: the first listing of its table.
PATH_BY_TABLE: dict[str, str] = {}
for _kind in OBJECT_TYPES:
    PATH_BY_TABLE.setdefault(_kind.table, _kind.path)


class Updater:
    def __init__(self, db_path: str, client: StripeHTTP, secrets: list[str], every_minutes: float):
        self.db_path = db_path
        self.client = client
        self.secrets = secrets
        self.every = every_minutes * 60
        self.queue = EventQueue(db_path)
        self.copies = TwoCopies(db_path)
        self.writer = threading.Lock()  # one writer: the applier or the sync
        self.stopping = threading.Event()
        self.account = None
        self.health: dict[str, Any] = {
            "last_event": None, "last_sync": last_sync_run(db_path), "stripe": "not asked yet",
            "apply_error": None, "published_as": None, "write_seconds": None}

    # the applier thread
    def apply_forever(self) -> None:
        while not self.stopping.is_set():
            self.queue.arrived.clear()
            try:
                applied = self.apply_pending()
            except Exception as exc:  # noqa: BLE001 - the events wait; say why in /healthz
                self.health["apply_error"] = self.client.scrub(f"{type(exc).__name__}: {exc}")
                if isinstance(exc, Unreachable):
                    self.health["stripe"] = "unreachable: events wait"
                log.warning("events wait: %s", self.health["apply_error"])
                self.stopping.wait(RETRY_SECONDS)
                continue
            if not applied:
                self.queue.arrived.wait(1.0)

    def apply_pending(self) -> int:
        entries, offset = self.queue.pending()
        if not entries:
            return 0
        events: dict[str | None, tuple[dict, float]] = {}
        for entry in entries:
            event = entry.get("event") or {}
            events.setdefault(event.get("id"), (event, entry.get("received") or time.time()))
        touched = self._touched([e for e, _ in events.values()])
        objects, gone = self._current_states(touched)
        with self.writer:
            self._write(objects, gone)
        self.queue.mark_applied(offset)
        last, received = list(events.values())[-1]
        self.health["last_event"] = {"id": last.get("id"), "type": last.get("type"),
                                     "applied_at": _iso(time.time()),
                                     "lag_seconds": round(time.time() - received, 3)}
        self.health["stripe"], self.health["apply_error"] = "reachable", None
        return len(entries)

    @staticmethod
    def _touched(events: list[dict]) -> dict[tuple[str, str], bool]:
        """(table, id) of each object the events name, and whether one was a deletion."""
        touched: dict[tuple[str, str], bool] = {}
        for event in events:
            obj = (event.get("data") or {}).get("object") or {}
            table = OBJECT_TABLES.get(obj.get("object", ""))
            if not table or table == "events" or not obj.get("id") or table not in PATH_BY_TABLE:
                continue  # an event type we do not store: acknowledged and ignored
            deleted = str(event.get("type", "")).endswith(".deleted") and table != "subscriptions"
            key = (table, obj["id"])
            touched[key] = touched.get(key, False) or deleted
        return touched

    def _current_states(self, touched) -> tuple[list[dict], dict[str, list[str]]]:
        """GET each object now: its current state makes every delivery order right."""
        objects: list[dict] = []
        gone: dict[str, list[str]] = {}
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            answers = list(pool.map(self._current_state, touched.items()))
        for ((table, object_id), _), (state, related) in zip(touched.items(), answers):
            if state is GONE:
                gone.setdefault(table, []).append(object_id)
            elif isinstance(state, dict):  # the object now; None leaves it as is
                objects += [state, *related]
        return objects, gone

    def _current_state(self, item) -> tuple[dict | object | None, list[dict]]:
        """(the object now, or GONE, or None to leave as is; objects that change with it)."""
        (table, object_id), deleted = item
        try:
            obj = self.client.get(f"{PATH_BY_TABLE[table]}/{object_id}", label="updater").data
        except NotAvailable:
            # A 404 is a deletion only when Stripe said so, never a guess.
            return (GONE if deleted else None), []
        except (BadRequest, PermissionDenied) as exc:  # waiting would not help: the sync has the last word
            log.warning("skipped %s %s: %s", table, object_id, self.client.scrub(str(exc)))
            return None, []
        if obj.get("deleted"):
            return GONE, []
        if table == "invoices":
            try:
                self._complete_lines(obj)
            except NotAvailable:  # deleted between the two requests (a draft): as a 404 above
                return (GONE if deleted else None), []
        related = RELATED.get(table)
        if not related:
            return obj, []
        path, field = related  # a refund or a payment changes these too: their lists are short
        try:
            page = self.client.get(path, {field: object_id, "limit": 100}, label="updater").data
        except Unreachable:
            raise
        except StripeSyncError:  # not offered here, or failing: the object alone; the sync has the rest
            return obj, []
        return obj, list(page.get("data") or [])

    def _complete_lines(self, invoice: dict) -> None:
        lines = invoice.get("lines") or {}
        data = list(lines.get("data") or [])
        has_more = bool(lines.get("has_more"))
        while has_more:
            params = {"limit": 100, **({"starting_after": data[-1]["id"]} if data else {})}
            page = self.client.get(f"/v1/invoices/{invoice['id']}/lines", params,
                                   label="updater").data
            batch = page.get("data") or []
            data += batch
            has_more = bool(page.get("has_more")) and bool(batch)
        invoice["lines"] = {**lines, "data": data, "has_more": False}

    def _write(self, objects: list[dict], gone: dict[str, list[str]]) -> None:
        """Into the working file, then published (etl/copies.py: onto the standby copy)."""
        batch = functools.partial(write_batch, objects=objects, gone=gone, synced_at=utc_now())
        con = store.open_working(self.db_path)
        try:
            con.execute("BEGIN")
            batch(con)
            con.execute("COMMIT")
            self.copies.publish(con, batch)
        finally:
            con.close()
        self.health["published_as"] = self.copies.published_as
        self.health["write_seconds"] = self.copies.write_seconds

    # the sync thread
    def sync_forever(self) -> None:
        while not self.stopping.wait(self.every):
            self.sync_once()

    def sync_once(self) -> None:
        started = time.time()
        with self.writer:
            try:
                summary = run_sync(self.db_path, client=self.client)
                result = {"status": summary.status, "message": summary.message}
                self.health["stripe"] = "reachable"
            except StripeSyncError as exc:
                result = {"status": "failed", "message": self.client.scrub(str(exc))}
                if isinstance(exc, Unreachable):
                    self.health["stripe"] = "unreachable"
            except Exception as exc:  # noqa: BLE001 - one line; the next run tries again
                result = {"status": "failed",
                          "message": self.client.scrub(f"unexpected {type(exc).__name__}: {exc}")}
        self.health["last_sync"] = {"at": _iso(started), "seconds": round(time.time() - started, 2),
                                    **result}

    def healthz(self) -> dict:
        waiting = self.queue.waiting()
        return {"ok": self.health["apply_error"] is None, "events_waiting": waiting,
                "last_event": self.health["last_event"], "last_sync": self.health["last_sync"],
                "stripe": self.health["stripe"], "apply_error": self.health["apply_error"],
                # how the last batch was published: "standby" (cost of the batch) or "full copy"
                "published_as": self.health["published_as"],
                "write_seconds": self.health["write_seconds"], "db": self.db_path}

    def learn_account(self) -> None:
        """Our account id, so events of connected accounts are refused."""
        try:
            self.account = self.client.get("/v1/account", label="updater", max_retries=1).data.get("id")
        except Exception:  # noqa: BLE001 - unknown: then every event naming an account is refused
            self.account = None


def write_batch(con, objects: list[dict], gone: dict[str, list[str]], synced_at) -> None:
    """The objects' current states and deletions: the same on the working file
    and on each published copy (inside the caller's transaction)."""
    invoices = [o["id"] for o in objects if o.get("object") == "invoice"]
    for lines_table in ("invoice_lines", "invoice_line_taxes"):  # lines an invoice no longer has go
        con.execute(f"DELETE FROM {lines_table} WHERE invoice_id IN (SELECT unnest(?::VARCHAR[]))",
                    [invoices])
    load_mixed(con, objects, synced_at=synced_at)
    for table, ids in gone.items():
        mark_deleted(con, table, ids)
    forget_fresh_listings(con)  # a resumed backfill may list these objects again


def last_sync_run(db_path: str) -> dict | None:
    """The published database's newest sync, until this process runs one."""
    if store.published_version(db_path) is None:
        return None
    try:
        con = store.open_published(db_path)
        try:
            row = con.execute("SELECT started_at, status, message, mode FROM sync_runs "
                              "ORDER BY started_at DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return None
    if not row:
        return None
    return {"at": row[0].isoformat(timespec="seconds") + "Z", "status": row[1], "message": row[2],
            "mode": row[3]}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
