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

Here: the run, from opening the working file to publishing it. Planning is in
etl/sync_plan.py, the writer in etl/sync_writer.py, the prices no list gives
in etl/referenced.py.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

import duckdb
import orjson

from etl import spool, store
from etl.client import AuthError, NotStripe, StripeHTTP, StripeSyncError, Unreachable
from etl.fetcher import Fetcher, queued_size
from etl.load import connect
from etl.memory import flat_memory, give_back
from etl.referenced import KNOWN_PRICES, PricesById, fetch_referenced, named_prices
from etl.sync_jobs import OBJECT_TYPES, Failure, Job, Page, Window, forget_fresh_listings, utc_now
from etl.sync_plan import SyncPlan, lists_all
from etl.sync_writer import MAX_WRITE_PAGES, NOT_OFFERED, PageWriter

# Fetch threads: ~100 req/s x up to ~0.6 s a page (latency, then the wait for the
# account's rate limit), and enough that the big types' windows can still split
# when some finish: with fewer, on a busy machine one type may trail alone.
WORKERS = 64
PUBLISH_EVERY_SECONDS = 300
DUCKDB_MEMORY = "32MB"  # with the page converter's process, a sync stays under 400 MB
CHECKPOINT_EVERY = "1GB"  # of WAL; publishing (every PUBLISH_EVERY_SECONDS) checkpoints too
CHECKPOINT_EVERY_FRESH = "16MB"  # a backfill into empty tables: see Sync.run
GIVE_BACK_AFTER = 4 << 20  # bytes of pages written, after which freed heap goes back to the system

__all__ = ["MAX_WRITE_PAGES", "OBJECT_TYPES", "Summary", "run_sync", "sync_running"]

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


class Sync(SyncPlan, PageWriter):
    """One run: plan (etl/sync_plan.py), fetch and write (etl/sync_writer.py), finish."""

    def __init__(self, con, db_path: str, client: StripeHTTP, full: bool, progress: Progress,
                 workers: int):
        self.con = con
        self.db_path = db_path
        self.client = client
        self.full = full
        self.progress = progress
        self.fetcher = Fetcher(client, workers, utc_now)
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
        started = utc_now()
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
            self._probe_created_filters([j for j in jobs if j.running and not lists_all(j)])
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
        self.notes += fetch_referenced(self.con, self.client, self._prices_path(jobs), utc_now(),
                                       self.prices_by_id)

    def _offer_named_prices(self, pages: list[tuple[Job, Window, Page]]) -> None:
        """The prices the pages about to be written name: once retrieving, they
        are asked at once instead of after the pages' transaction, so the
        retrieve endpoint (which sets the pace where inline prices are many)
        starts sooner and never waits on a commit."""
        for job, _, page in pages:
            if job.kind.table in ("subscriptions", "invoices") and page.rows is not None:
                self.prices_by_id.offer(named_prices(page.rows))

    def _retrieve_named_prices(self, jobs: list[Job]) -> None:
        """Prices the pages name, retrieved by id while the lists go on (once the
        price lists are done: they tell which prices no list gives)."""
        by_id = self.prices_by_id
        if not by_id.started and all(j.status == "done" or j.note == NOT_OFFERED
                                     for j in jobs if j.kind.table == "prices"):
            by_id.start(self._prices_path(jobs),
                        [row[0] for row in self.con.execute(KNOWN_PRICES).fetchall()])
        if by_id.started:
            by_id.write(self.con, utc_now())

    def _prices_path(self, jobs: list[Job]) -> str:
        """Where prices are retrieved: /v1/plans where the API lists only plans."""
        path = next((j.path for j in jobs if j.kind.name == "prices"), None)
        if path is None:  # listed in an earlier run
            path = ((self._states().get("prices") or {}).get("detail") or {}).get("path")
        return "/v1/plans" if path == "/v1/plans" else "/v1/prices"

    # --- fetching and writing --------------------------------------------------

    def _fetch_and_write(self, jobs: list[Job]) -> None:
        """Start every window's fetch thread; write pages as they come until all are done."""
        for job in jobs:
            if job.running and not job.windows:
                self._finish_job(job)
            for window in list(job.windows):
                self.fetcher.start(job, window)
        while self.fetcher.busy():
            items = self._take_pages()
            pages = [(job, window, page) for job, window, page in items
                     if isinstance(page, Page) and job.running]
            self._offer_named_prices(pages)
            self._write(pages)
            for job, window, failure in items:
                if isinstance(failure, Failure):
                    self._failed(job, window, failure)
            for job in {id(j): j for j, _, _ in pages}.values():
                self.progress(job.kind.name, job.fetched, False)
                if job.running and not job.windows:
                    self._finish_job(job)
            self._retrieve_named_prices(jobs)  # the price lists may have just finished
            self._maybe_publish()
            if sum(map(queued_size, items)) > GIVE_BACK_AFTER:
                items = pages = []
                give_back()

    # --- finishing -----------------------------------------------------------------

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
        now = utc_now()
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
                         [utc_now(), status, message, orjson.dumps(stats).decode(), run_id])
        if status != "failed":
            self.con.execute("RESET threads")  # the checkpoint uses every core
            store.publish(self.con, self.db_path)
        return summary
