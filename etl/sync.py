"""Pull a Stripe account into DuckDB: full backfill first, then incremental.

How a run works:
- Each object type is a *job* made of `created` windows (etl/sync_jobs.py).
  Fetch threads (etl/fetcher.py) page the windows ahead of the writer; the
  main thread, the only one touching DuckDB, writes the pages it takes and
  each window's new cursor in one transaction. Kill the process at any moment
  and the next run resumes every window from its last committed page: no
  duplicates (upserts), no gaps (cursors).
- Later runs list what was created since the last run (with an overlap, since
  objects show up in lists a little after their `created`) and apply the
  newest `/v1/events` snapshot of every changed or deleted object. When the
  last successful run is older than Stripe's event retention, or on `--full`,
  everything is re-listed and rows no longer listed are marked deleted.
- The run ends with a subscription status snapshot, `tally_meta`, a
  `sync_runs` row and `etl.store.publish`.

APIs that lack `created` filters or whole object types (localstripe) still
sync: such types are re-listed in full each run, plans load as prices, and an
endpoint answering 404 is skipped with a note.
"""
from __future__ import annotations

import datetime as dt
import os
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import duckdb
import orjson

from etl import spool, store
from etl.client import (
    AuthError,
    BadRequest,
    NotAvailable,
    NotStripe,
    PermissionDenied,
    StripeHTTP,
    StripeSyncError,
    Unreachable,
)
from etl.fetcher import Fetcher
from etl.load import OBJECT_TABLES, Prepared, combine, connect, mark_deleted, prepare_objects, write_prepared
from etl.memory import flat_memory
from etl.referenced import KNOWN_PRICES, PricesById, fetch_referenced, named_prices
from etl.schema import API_VERSION
from etl.sync_jobs import (
    BY_NAME,
    OBJECT_TYPES,
    OVERLAP_SECONDS,
    Failure,
    Job,
    ObjectType,
    Page,
    Window,
    forget_fresh_listings,
    listings_of,
)

NOT_OFFERED = "not offered by this API (404); skipped"
# Stripe deletes no price (plans, the older API, it does): a price no list
# gives is an inline one, kept as retrieved (etl/referenced.py).
NEVER_DELETED = {"/v1/prices"}
EVENT_RETENTION_DAYS = 29  # Stripe keeps 30 days of events; keep a day of margin
# Fetch threads: ~100 req/s x up to ~0.6 s a page (latency, then the wait for the
# account's rate limit), and enough that the big types' windows can still split
# when some finish: with 40, a busy machine left one type trailing alone.
WORKERS = 64
PUBLISH_EVERY_SECONDS = 300
DUCKDB_MEMORY = "64MB"  # with the page converter's process, a sync stays under 400 MB
CHECKPOINT_EVERY = "1GB"  # of WAL; publishing (every PUBLISH_EVERY_SECONDS) checkpoints too
CHECKPOINT_EVERY_FRESH = "16MB"  # a backfill into empty tables: see Sync.run
EVENT_CHUNK = 1000
WRITE_PAGES = 64  # pages per transaction when they come fast (the queue holds 192)
WRITE_WAIT = 1.0  # seconds to wait for that many
MAX_WRITE_PAGES = 96  # and what queued meanwhile (say, during a checkpoint), up to this

Progress = Callable[[str, int, bool], None]


@dataclass
class Summary:
    run_id: str
    status: str  # ok, partial (some types not permitted), failed
    mode: str
    message: str
    jobs: dict[str, dict]
    requests: int
    retries: int
    seconds: float
    notes: list[str]

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "partial": 2}.get(self.status, 1)


# --- the run ---------------------------------------------------------------------

def run_sync(db_path: str | None = None, api_key: str | None = None, api_base: str | None = None,
             full: bool = False, progress: Progress | None = None, *,
             client: StripeHTTP | None = None, workers: int = WORKERS) -> Summary:
    """Sync the account behind `api_key` into `db_path` and publish it.

    `progress(object_type, fetched_so_far, done)` is called from this thread
    after every committed page. Raises StripeSyncError (one clear line) when
    the run cannot even start or must stop (bad key, unreachable API, locked
    working file); other problems are reported in the returned Summary.
    """
    db_path = store.db_path_from_env(db_path)
    client = client or StripeHTTP(api_key or "", api_base)
    flat_memory()
    # DuckDB's file lock stops a second process; this stops a second thread
    # (say, two clicks on the dashboard's Sync button).
    lock = _RUNNING.setdefault(os.path.abspath(db_path), threading.Lock())
    if not lock.acquire(blocking=False):
        raise StripeSyncError(f"A sync of {db_path} is already running; wait for it to finish.")
    try:
        con = _open_working(db_path, client.mode)
        try:
            _load_admin_queue(con, db_path)
            summary = Sync(con, db_path, client, full, progress or _no_progress, workers).run()
        finally:
            con.close()
        if summary.status != "failed":  # published: the queue is in the file now
            spool.finish_spool(db_path)
        return summary
    finally:
        lock.release()


_RUNNING: dict[str, threading.Lock] = {}


def sync_running(db_path: str) -> bool:
    """A sync of `db_path` is running in this process (say, from the dashboard)."""
    lock = _RUNNING.get(os.path.abspath(store.db_path_from_env(db_path)))
    return bool(lock and lock.locked())


def _load_admin_queue(con, db_path: str) -> None:
    """Objects an admin action changed while a sync held the working file."""
    con.execute("BEGIN")
    if spool.load_spool(con, db_path):
        forget_fresh_listings(con)  # a resumed backfill may list these objects again
    con.execute("COMMIT")


def _no_progress(name: str, fetched: int, done: bool) -> None:
    pass


def _open_working(db_path: str, mode: str):
    try:
        con = store.open_working(db_path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StripeSyncError(f"Another sync or demo is writing {store.working_path(db_path)}; "
                                  "wait for it to finish and run sync again.") from None
        raise StripeSyncError(f"Cannot open {store.working_path(db_path)}: {exc}") from None
    _bound_memory(con)
    source = con.execute("SELECT value FROM tally_meta WHERE key = 'source'").fetchone()
    if source and source[0] != mode:
        # Demo data or the other mode's account: start from an empty database,
        # never mix two accounts. Publishing replaces the old copy.
        con.close()
        for suffix in ("", ".wal"):
            path = store.working_path(db_path) + suffix
            if os.path.exists(path):
                os.remove(path)
        con = connect(store.working_path(db_path))
        _bound_memory(con)
    return con


def _bound_memory(con) -> None:
    # Peak memory must not grow with the account: let DuckDB spill instead.
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute("SET preserve_insertion_order = false")
    # One thread: the writer's statements are small, and DuckDB's workers
    # would take CPU from the fetch threads and a local API (publishing resets it).
    con.execute("SET threads = 1")
    # An automatic checkpoint (every 16 MB of WAL by default) rewrites the
    # tables' changed row groups: dozens of them cost a full sync about a
    # third of its CPU. Publishing checkpoints anyway, so let the WAL grow.
    con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_EVERY}'")


class Sync:
    def __init__(self, con, db_path: str, client: StripeHTTP, full: bool, progress: Progress,
                 workers: int):
        self.con = con
        self.db_path = db_path
        self.client = client
        self.full = full
        self.progress = progress
        self.fetcher = Fetcher(client, workers, _utc_now)
        self.prices_by_id = PricesById(client)
        self.notes: list[str] = []
        self.t0 = time.monotonic()
        self.last_publish = self.t0

    def run(self) -> Summary:
        # The page converter takes a moment to import: start it before planning.
        self.fetcher.converter.start()
        try:
            return self._run()
        finally:
            self.fetcher.stop()  # already stopped before publishing, unless planning failed
            self.prices_by_id.stop()

    def _run(self) -> Summary:
        started = _utc_now()
        self._interrupt_old_runs()
        jobs, run_id, mode = self._plan()
        if any(j.fresh for j in jobs):
            # Only inserts: a checkpoint writes just the rows added since the
            # last one, so checkpointing as the backfill goes costs little and
            # leaves the publish at the end with little to write.
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_EVERY_FRESH}'")
        self.con.execute("INSERT INTO sync_runs VALUES (?, ?, NULL, ?, ?, 'running', NULL, NULL)",
                         [run_id, started, self.client.mode, mode])
        try:
            # A job listing everything learns it from its first page (etl/fetcher.py).
            self._probe_created_filters([j for j in jobs if j.running and not _lists_all(j)])
            self._fetch_and_write(jobs)
            self._fetch_referenced(jobs)
        except (AuthError, Unreachable) as exc:
            self.fetcher.stop()
            self._finish_run(run_id, "failed", str(exc), jobs, mode)
            raise
        finally:
            self.fetcher.stop()
            self.prices_by_id.stop()
        if self.fetcher.converter.lost:
            self.notes.append("The page converter process was not there or stopped; this "
                              "sync converted pages itself, more slowly.")
        if jobs and all(j.status == "skipped" and j.note == NOT_OFFERED for j in jobs):
            message = (f"{self.client.base} is not the Stripe API: it answered 404 (not found) for "
                       "every Stripe object type; check STRIPE_API_BASE.")
            self._finish_run(run_id, "failed", message, jobs, mode)
            raise NotStripe(message)
        status, message = self._outcome(jobs, mode)
        if status != "failed":
            self._record_success()
        return self._finish_run(run_id, status, message, jobs, mode)

    def _fetch_referenced(self, jobs: list[Job]) -> None:
        """Prices no list gives (inline ones) and their products, by id."""
        catalog = [j for j in jobs if j.kind.table in ("prices", "products")]
        if not all(j.status == "done" or j.note == NOT_OFFERED for j in catalog):
            return  # a listing to resume first, or a key that may not read prices
        self.notes += fetch_referenced(self.con, self.client, self._prices_path(jobs), _utc_now(),
                                       self.prices_by_id)

    def _retrieve_named_prices(self, jobs: list[Job], pages: list[tuple[Job, Window, Page]]) -> None:
        """Prices the pages just written name, retrieved by id while the lists go on
        (once the price lists are done: they tell which prices no list gives)."""
        by_id = self.prices_by_id
        for job, _, page in pages:
            if job.kind.table in ("subscriptions", "invoices") and page.rows is not None:
                by_id.offer(named_prices(page.rows))
        if not by_id.started and all(j.status == "done" or j.note == NOT_OFFERED
                                     for j in jobs if j.kind.table == "prices"):
            by_id.start(self._prices_path(jobs),
                        [row[0] for row in self.con.execute(KNOWN_PRICES).fetchall()])
        if by_id.started:
            by_id.write(self.con, _utc_now())

    def _prices_path(self, jobs: list[Job]) -> str:
        """Where prices are retrieved: /v1/plans where the API lists only plans."""
        path = next((j.path for j in jobs if j.kind.name == "prices"), None)
        if path is None:  # listed in an earlier run
            path = ((self._states().get("prices") or {}).get("detail") or {}).get("path")
        return "/v1/plans" if path == "/v1/plans" else "/v1/prices"

    # --- planning -----------------------------------------------------------

    def _states(self) -> dict[str, dict]:
        rows = self.con.execute(
            "SELECT object_type, backfill_done, last_created, last_success, detail FROM sync_state"
        ).fetchall()
        return {r[0]: {"backfill_done": r[1], "last_created": r[2], "last_success": r[3],
                       "detail": orjson.loads(r[4]) if r[4] else None} for r in rows}

    def _plan(self) -> tuple[list[Job], str, str]:
        states = self._states()
        unfinished = {n: s["detail"] for n, s in states.items()
                      if s["detail"] and s["detail"].get("status") == "running"}
        if unfinished and not (self.full and any(d["mode"] != "full" for d in unfinished.values())):
            return self._resume(unfinished)
        return self._new_plan(states)

    def _resume(self, unfinished) -> tuple[list[Job], str, str]:
        run_id = next(iter(unfinished.values()))["run_id"]
        jobs = [Job.from_detail(BY_NAME[n], d) for n, d in unfinished.items() if n in BY_NAME]
        mode = "full" if any(j.mode == "full" for j in jobs) else "incremental"
        if any(j.fetched or any(w.cursor for w in j.windows) for j in jobs):  # else nothing to resume
            self.notes.append(f"Resuming an interrupted sync ({len(jobs)} object types left).")
        return jobs, run_id, mode

    def _new_plan(self, states) -> tuple[list[Job], str, str]:
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        events = states.get("events") or {}
        mode = "incremental"
        if self.full or not events.get("backfill_done") or events.get("last_success") is None:
            mode = "full"
        elif _utc_now() - events["last_success"] > dt.timedelta(days=EVENT_RETENTION_DAYS):
            days = (_utc_now() - events["last_success"]).days
            mode = "full"
            self.notes.append(f"The last successful sync was {days} days ago, beyond Stripe's "
                              "30-day event history: re-listing everything.")
        jobs = [self._new_job(kind, states.get(kind.name) or {}, run_id, mode, now)
                for kind in OBJECT_TYPES]
        self.con.begin()
        self._save_all(jobs)
        self.con.commit()
        return jobs, run_id, mode

    def _new_job(self, kind: ObjectType, state: dict, run_id: str, mode: str, now: float) -> Job:
        old = state.get("detail") or {}
        created_filter = True if old.get("created_filter") else None  # unknown: probe again
        if mode == "full" or not state.get("backfill_done") or state.get("last_created") is None:
            # Fresh only in a full run: an incremental run replays events,
            # which may write objects this listing will meet again.
            # Two listings of one table may meet the same object (a price archived
            # between them): only a table's single listing may skip the upsert.
            fresh = mode == "full" and len(listings_of(kind.table)) == 1 and self._empty(kind.table)
            return Job(kind, run_id, "full", now, kind.path, [Window()], created_filter,
                       fresh=fresh)
        since = int(state["last_created"]) - kind.overlap
        job = Job(kind, run_id, "incremental", now, kind.path, [Window(lo=since)], created_filter)
        if kind.name == "events":
            job.apply_events_since = int(state["last_created"]) - OVERLAP_SECONDS
        return job

    def _empty(self, table: str) -> bool:
        """No rows in the table or the tables its objects' children go to."""
        children = {"invoices": ["invoice_lines", "invoice_line_taxes"],
                    "subscriptions": ["subscription_items"]}.get(table, [])
        return not any(self.con.execute(f"SELECT EXISTS (FROM {name})").fetchone()[0]
                       for name in [table, *children])

    def _probe_created_filters(self, jobs: list[Job]) -> None:
        """Does each list accept `created` filters? (localstripe's mostly do not.)"""
        unknown = [j for j in jobs if j.created_filter is None]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(self._probe, unknown))
        for job, accepted in zip(unknown, answers):
            job.created_filter = accepted
            if not accepted:
                # Without filters, "created since" is impossible: list everything.
                job.mode = "full"
                job.windows = [Window(cursor=w.cursor) if w.lo is None and w.hi is None else Window()
                               for w in job.windows[:1]]

    def _probe(self, job: Job) -> bool:
        params = {"limit": 1, "created[gte]": 0, **job.kind.params}
        try:
            self.client.get(job.path, params, label=job.kind.name, max_retries=2)
            return True
        except (AuthError, Unreachable):
            raise
        except StripeSyncError:
            return False

    # --- fetching and writing --------------------------------------------------

    def _fetch_and_write(self, jobs: list[Job]) -> None:
        """Start every window's fetch thread; write pages as they come until all are done."""
        for job in jobs:
            if job.running and not job.windows:
                self._finish_job(job)
            for window in list(job.windows):
                self.fetcher.start(job, window)
        metrics_imported = False
        while self.fetcher.busy():
            if not metrics_imported and not self.fetcher.fetching():
                _import_metrics_meanwhile()
                metrics_imported = True
            items = self._take_pages()
            pages = [(job, window, page) for job, window, page in items
                     if isinstance(page, Page) and job.running]
            self._write(pages)
            self._retrieve_named_prices(jobs, pages)
            for job, window, failure in items:
                if isinstance(failure, Failure):
                    self._failed(job, window, failure)
            for job in {id(j): j for j, _, _ in pages}.values():
                self.progress(job.kind.name, job.fetched, False)
                if job.running and not job.windows:
                    self._finish_job(job)
            self._maybe_publish()

    def _take_pages(self) -> list:
        """Pages for one transaction: WRITE_PAGES, waiting at most WRITE_WAIT
        seconds for them while the fetch threads are still at work, and any
        more already queued, up to MAX_WRITE_PAGES.

        A commit costs about the same for 1 page as for 50 (and DuckDB's writes
        do not grow much with the rows), so fewer, bigger transactions save
        most of the writer's CPU; a crash loses at most these pages' fetches.
        """
        try:
            items = [self.fetcher.pages.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + WRITE_WAIT
        while len(items) < WRITE_PAGES:
            wait = deadline - time.monotonic()
            if wait <= 0 or not self.fetcher.fetching():
                break
            try:
                items.append(self.fetcher.pages.get(timeout=min(wait, 0.05)))
            except queue.Empty:
                continue
        while len(items) < MAX_WRITE_PAGES:
            try:
                items.append(self.fetcher.pages.get_nowait())
            except queue.Empty:
                break
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

    # --- finishing -----------------------------------------------------------------

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
        synced_at = _utc_now()
        for (table, version), objects in by_table.items():
            self._write_rows(prepare_objects(table, objects, synced_at=synced_at,
                                             api_version=version or API_VERSION))
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
                          _utc_now(), orjson.dumps(job.detail()).decode()])

    def _maybe_publish(self) -> None:
        # Long backfills: let the dashboard see progress every few minutes.
        if time.monotonic() - self.last_publish > PUBLISH_EVERY_SECONDS:
            store.publish(self.con, self.db_path)
            self.last_publish = time.monotonic()

    def _outcome(self, jobs: list[Job], mode: str) -> tuple[str, str]:
        failed = [j for j in jobs if j.status == "failed"]
        denied = [j for j in jobs if j.status == "skipped" and "403" in (j.note or "")]
        if failed:
            names = ", ".join(j.kind.name for j in failed)
            return "failed", f"Sync failed for {names}: {failed[0].note} Run sync again to resume."
        if denied:
            names = ", ".join(j.kind.name for j in denied)
            return "partial", f"Synced, except {names}: {denied[0].note}"
        return "ok", f"{mode.capitalize()} sync finished."

    def _record_success(self) -> None:
        """Subscription status history, where the data came from, when it was fresh."""
        now = _utc_now()
        self.con.begin()
        self.con.execute("DELETE FROM subscription_snapshots WHERE snapshot_date = ?", [now.date()])
        self.con.execute("""
            INSERT INTO subscription_snapshots
            SELECT ?::DATE, id, customer_id, status, cancel_at_period_end
            FROM subscriptions WHERE NOT deleted""", [now.date()])
        for key, value in (("source", self.client.mode), ("last_sync_at", now.isoformat())):
            self.con.execute("INSERT OR REPLACE INTO tally_meta VALUES (?, ?)", [key, value])
        self.con.commit()

    def _interrupt_old_runs(self) -> None:
        self.con.execute("UPDATE sync_runs SET status = 'interrupted' WHERE status = 'running'")

    def _finish_run(self, run_id: str, status: str, message: str, jobs: list[Job],
                    mode: str) -> Summary:
        per_job = {j.kind.name: {"status": j.status, "mode": j.mode, "fetched": j.fetched,
                                 "written": j.fetched, "seconds": round(j.seconds, 2),
                                 "note": j.note, **self.client.stats.get(j.kind.name, {})}
                   for j in jobs}
        summary = Summary(run_id, status, mode, message, per_job, self.client.total("requests"),
                          self.client.total("retries"), time.monotonic() - self.t0, self.notes)
        stats = {"jobs": per_job, "requests": summary.requests, "retries": summary.retries,
                 "seconds": round(summary.seconds, 2), "notes": self.notes}
        self.con.execute("""UPDATE sync_runs SET finished_at = ?, status = ?, message = ?, stats = ?
                            WHERE run_id = ? AND status = 'running'""",
                         [_utc_now(), status, message, orjson.dumps(stats).decode(), run_id])
        if status != "failed":
            self.con.execute("RESET threads")  # the MRR stages and checkpoint use every core
            store.publish(self.con, self.db_path)
        return summary


def _import_metrics_meanwhile() -> None:
    """Publishing needs the metrics (and pandas, ~0.3 s to import): import them
    while the last pages are written. Not sooner: while fetching, the import's
    hold on the interpreter delayed requests (a run importing 2 s in was slower)."""
    threading.Thread(target=_import_metrics, daemon=True, name="tally-import-metrics").start()


def _import_metrics() -> None:
    try:
        import metrics.mrr.refresh_stages  # noqa: F401
    except Exception:
        pass  # publishing imports it again, and reports what is wrong


def _lists_all(job: Job) -> bool:
    """Its windows have no `created` bounds: whether the API filters by `created`
    only decides whether they may split."""
    return all(w.lo is None and w.hi is None for w in job.windows)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
