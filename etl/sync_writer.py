"""The sync's writer: the only thread touching DuckDB while a sync runs.

It takes the pages the fetch threads queue (etl/fetcher.py) and writes them,
with each window's new cursor, in one transaction, so a run killed at any
moment resumes every window from its last committed page: no duplicates
(upserts), no gaps (cursors). When a type is fully listed it replays the
events (incremental runs), flags rows a full re-list no longer gave, and
moves the type's watermark. Used by `etl.sync.Sync` (it mixes this in).
"""
from __future__ import annotations

import datetime as dt
import queue
import time
from typing import Any, Callable

import orjson

from etl.client import (
    AuthError,
    BadRequest,
    NotAvailable,
    PermissionDenied,
    StripeHTTP,
    StripeSyncError,
    Unreachable,
)
from etl.fetcher import Fetcher, queued_size
from etl.load import OBJECT_TABLES, Prepared, combine, mark_deleted, prepare_objects, write_prepared
from etl.schema import API_VERSION
from etl.sync_jobs import Failure, Job, Page, Window, listings_of, utc_now

NOT_OFFERED = "not offered by this API (404); skipped"
# Stripe deletes no price (plans, the older API, it does): a price no list
# gives is an inline one, kept as retrieved (etl/referenced.py).
NEVER_DELETED = {"/v1/prices"}
EVENT_CHUNK = 1000
WRITE_PAGES = 64  # pages per transaction when they come fast (the queue holds 192)
WRITE_WAIT = 1.0  # seconds to wait for that many
MAX_WRITE_PAGES = 96  # and what queued meanwhile (say, during a checkpoint), up to this
# Arrow buffers of one transaction's pages: DuckDB holds them, and what it
# builds from them, until the commit (long invoices' pages are big).
WRITE_BYTES = 24 << 20


class PageWriter:
    """The writing half of `etl.sync.Sync`: pages, checkpoints, finished types."""

    con: Any  # the working database (DuckDB)
    client: StripeHTTP
    fetcher: Fetcher
    progress: Callable[[str, int, bool], None]
    t0: float
    _states: Callable[[], dict[str, dict]]  # etl/sync_plan.py

    def _take_pages(self) -> list:
        """Pages for one transaction: WRITE_PAGES, waiting at most WRITE_WAIT
        seconds for them while the fetch threads are still at work, and any
        more already queued, up to MAX_WRITE_PAGES.

        A commit costs about the same for 1 page as for 50 (and DuckDB's writes
        do not grow much with the rows), so fewer, bigger transactions save
        most of the writer's CPU; a crash loses at most these pages' fetches.
        """
        try:
            items = [self.fetcher.take(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + WRITE_WAIT
        size = queued_size(items[-1])
        while len(items) < WRITE_PAGES and size < WRITE_BYTES:
            wait = deadline - time.monotonic()
            if wait <= 0 or not self.fetcher.fetching():
                break
            try:
                items.append(self.fetcher.take(timeout=min(wait, 0.05)))
            except queue.Empty:
                continue
            size += queued_size(items[-1])
        while len(items) < MAX_WRITE_PAGES and size < WRITE_BYTES:
            try:
                items.append(self.fetcher.take())
            except queue.Empty:
                break
            size += queued_size(items[-1])
        return items

    def _failed(self, job: Job, window: Window, failure: Failure) -> None:
        """A window's fetch stopped on an error: retry differently, skip the type, or fail it."""
        exc = failure.error
        if isinstance(exc, (AuthError, Unreachable)):
            raise exc
        if not job.running:
            return
        if isinstance(exc, (NotAvailable, BadRequest)) and failure.cursor \
                and not window.retried_cursor:
            # The cursor object may have been deleted since: re-read the window
            # from its start (upserts make the repeat harmless).
            window.cursor, window.retried_cursor, job.fresh = None, True, False
            self.fetcher.start(job, window)
        elif isinstance(exc, NotAvailable) and job.kind.fallback_path \
                and job.path != job.kind.fallback_path:
            job.path, job.created_filter, job.mode = job.kind.fallback_path, False, "full"
            job.fresh = False
            with self.fetcher.lock:
                job.windows = [Window()]
            self.fetcher.start(job, job.windows[0])
        elif isinstance(exc, NotAvailable):
            self._give_up(job, "skipped", NOT_OFFERED)
        elif isinstance(exc, PermissionDenied):
            self._give_up(job, "skipped", str(exc))
        elif isinstance(exc, StripeSyncError):
            self._give_up(job, "failed", str(exc))
        else:
            self._give_up(job, "failed", f"{type(exc).__name__}: {exc}")

    def _give_up(self, job: Job, status: str, note: str) -> None:
        job.status, job.note = status, self.client.scrub(note)
        self.progress(job.kind.name, job.fetched, True)
        if status == "skipped":
            # A failed job stays "running" in the database: the next run resumes it.
            self.con.begin()
            self._save_all([job])
            if note == NOT_OFFERED:  # the table's other listing may be waiting for this one
                self._mark_unlisted_once_all_relisted(job)
            self.con.commit()

    def _write(self, pages: list[tuple[Job, Window, Page]]) -> None:
        """Every page taken and its jobs' checkpoints in one transaction."""
        if not pages:
            return
        # One upsert per table, however many pages arrived: a MERGE costs
        # about the same for 100 rows as for 1,000.
        groups: dict[tuple[str, bool], list[Prepared]] = {}
        for job, _, page in pages:
            if page.rows is not None:
                groups.setdefault((job.kind.table, not job.fresh), []).append(page.rows)
        self.con.begin()
        try:
            for (_, upsert), parts in groups.items():
                combined = combine(parts)
                # Pages sharing an object (never expected of a fresh listing) upsert one by one.
                for rows in [combined] if combined else parts:
                    self._write_rows(rows, upsert or combined is None)
            for job, window, page in pages:
                job.fetched += page.count
                self._move_cursor(job, window, page)
            self._save_all(list({id(j): j for j, _, _ in pages}.values()))
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def _write_rows(self, rows: Prepared, upsert: bool = True) -> None:
        if rows.table == "invoices" and upsert:
            # The loader upserts lines; lines an invoice no longer has must go.
            for lines_table in ("invoice_lines", "invoice_line_taxes"):
                self.con.execute(f"DELETE FROM {lines_table} WHERE invoice_id IN "
                                 "(SELECT unnest(?::VARCHAR[]))", [rows.ids])
        write_prepared(self.con, rows, upsert=upsert)

    def _move_cursor(self, job: Job, window: Window, page: Page) -> None:
        with self.fetcher.lock:
            if page.has_more:
                window.cursor = page.last_id
            else:
                job.windows.remove(window)

    def _finish_job(self, job: Job) -> None:
        """The type is fully listed: events replayed, vanished rows flagged, watermark moved."""
        self.con.begin()
        try:
            if job.apply_events_since is not None:
                self._apply_events(job.apply_events_since)
            job.status = "done"
            job.seconds = time.monotonic() - self.t0
            self._save_watermark(job)
            if job.mode == "full":
                self._mark_unlisted_once_all_relisted(job)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        self.progress(job.kind.name, job.fetched, True)

    def _mark_unlisted_once_all_relisted(self, job: Job) -> None:
        """Flag rows no listing gave, once every listing of the table (prices have
        two, active and archived) re-listed everything in this run: one listing
        alone has not seen the other's rows. A listing this API does not offer
        (404) has nothing to wait for."""
        if not job.kind.relist_marks_deleted or job.path in NEVER_DELETED:
            return
        states = self._states()
        relisted = 0
        for kind in listings_of(job.kind.table):
            detail = (states.get(kind.name) or {}).get("detail") or {}
            if detail.get("run_id") != job.run_id:
                return
            if detail.get("status") == "done" and detail.get("mode") == "full":
                relisted += 1
            elif not (detail.get("status") == "skipped" and detail.get("note") == NOT_OFFERED):
                return
        if relisted:
            self._mark_unlisted(job)

    def _mark_unlisted(self, job: Job) -> None:
        started = dt.datetime.fromtimestamp(job.started_at, dt.UTC).replace(tzinfo=None)
        self.con.execute(f"UPDATE {job.kind.table} SET deleted = true "
                         "WHERE synced_at < ? AND NOT deleted", [started])

    def _apply_events(self, since: int) -> None:
        """Write the newest event snapshot of every object changed since `since`.

        An event's `data.object` is the object right after the change, so the
        newest one per object is its current state (or its deletion). Read in
        chunks from a second cursor: thirty days of events can be many.
        """
        reader = self.con.cursor()
        try:
            reader.execute("""
                SELECT raw FROM events
                WHERE epoch(created) >= ? AND object_id IS NOT NULL
                QUALIFY row_number() OVER (
                    PARTITION BY object_type, object_id
                    -- Events of one second have no reliable order (ids are not
                    -- sequential): a deletion ends the object's story, a
                    -- creation starts it.
                    ORDER BY created DESC,
                             CASE WHEN type LIKE '%.deleted' THEN 0
                                  WHEN type LIKE '%.created' THEN 2 ELSE 1 END,
                             id DESC) = 1""", [since])
            while chunk := reader.fetchmany(EVENT_CHUNK):
                self._apply_event_chunk([orjson.loads(raw) for (raw,) in chunk])
        finally:
            reader.close()

    def _apply_event_chunk(self, events: list[dict]) -> None:
        by_table: dict[tuple[str, str | None], list[dict]] = {}
        gone: dict[str, list[str]] = {}
        # Long invoices' lines, all paged at once (the writer waits for them);
        # an invoice whose lines answer 404 is gone from Stripe.
        invoices_gone = self.fetcher.complete_lines(
            [e["data"]["object"] for e in events
             if OBJECT_TABLES.get(e["data"]["object"].get("object")) == "invoices"])
        if invoices_gone:
            gone["invoices"] = sorted(invoices_gone)
        for event in events:
            obj = event["data"]["object"]
            table = OBJECT_TABLES.get(obj.get("object"))
            if not table or table == "events":
                continue
            if table == "invoices" and obj.get("id") in invoices_gone:
                continue
            by_table.setdefault((table, event.get("api_version")), []).append(obj)
            # `customer.subscription.deleted` is a cancellation, not a deletion.
            if str(event.get("type", "")).endswith(".deleted") and table != "subscriptions":
                gone.setdefault(table, []).append(obj["id"])
        synced_at = utc_now()
        for (table, version), objects in by_table.items():
            prepared = prepare_objects(table, objects, synced_at=synced_at, api_version=version or API_VERSION)
            if prepared is not None:  # None: no objects (never, as grouped here)
                self._write_rows(prepared)
        for table, ids in gone.items():
            mark_deleted(self.con, table, ids)

    def _save_all(self, jobs: list[Job]) -> None:
        """Checkpoint jobs in one statement (a statement costs ~10 ms, a row nothing)."""
        with self.fetcher.lock:  # a fetch thread may be splitting a window
            details = [orjson.dumps(j.detail()).decode() for j in jobs]
        self.con.execute("""
            INSERT INTO sync_state (object_type, backfill_done, detail)
            SELECT unnest(?::VARCHAR[]), false, unnest(?::VARCHAR[])::JSON
            ON CONFLICT (object_type) DO UPDATE SET detail = excluded.detail""",
                         [[j.kind.name for j in jobs], details])

    def _save_watermark(self, job: Job) -> None:
        """A finished job: the next run starts from when this one started."""
        self.con.execute("""
            INSERT INTO sync_state (object_type, backfill_done, last_created,
                                    last_event_created, last_success, detail)
            VALUES (?, true, ?, ?, ?, ?)
            ON CONFLICT (object_type) DO UPDATE SET
                backfill_done = true, last_created = excluded.last_created,
                last_event_created = excluded.last_event_created,
                last_success = excluded.last_success, detail = excluded.detail""",
                         [job.kind.name, int(job.started_at),
                          int(job.started_at) if job.kind.name == "events" else None,
                          utc_now(), orjson.dumps(job.detail()).decode()])
