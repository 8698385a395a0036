"""Fetch threads: each pages one `created` window to its end, ahead of the writer.

Pages go, converted to Arrow, into a bounded queue that the single writer
thread drains; the queue's bound keeps memory flat however big the account.
While a window still has more pages and threads are idle, it keeps about ten
pages' worth of its remaining `created` range and hands the older rest to a
new thread (which splits again): big object types are fetched by several threads, so latency is hidden
and Stripe's per-endpoint limit, not our round trips, sets the pace.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

from etl.client import StripeHTTP
from etl.load import prepare_objects
from etl.schema import API_VERSION
from etl.sync_jobs import Failure, Job, Page, Window

PAGE_SIZE = 100
WINDOWS_PER_TYPE = 8  # enough to reach 25 req/s per endpoint at ~150 ms latency
CHUNK_PAGES = 40
QUEUE_PAGES = 64  # ~0.3 MB each: a bound on memory, room for a slow commit


class Fetcher:
    def __init__(self, client: StripeHTTP, workers: int, utc_now):
        self.client = client
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tally-fetch")
        self.pages: queue.Queue = queue.Queue(maxsize=QUEUE_PAGES)
        self.lock = threading.Lock()  # guards `active` and every job's window list
        self.active = 0
        self.stopping = threading.Event()
        self.utc_now = utc_now

    def start(self, job: Job, window: Window) -> None:
        with self.lock:
            self.active += 1
        self.pool.submit(self._page_through, job, window)

    def busy(self) -> bool:
        """Fetching, or pages not yet taken: safe end test once both are false."""
        with self.lock:
            return self.active > 0 or not self.pages.empty()

    def fetching(self) -> bool:
        """Some thread may still queue a page."""
        with self.lock:
            return self.active > 0

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _page_through(self, job: Job, window: Window) -> None:
        cursor = window.cursor
        try:
            while job.running and not self.stopping.is_set():
                page = self.fetch_page(job, window.lo, window.hi, cursor)
                split = self._maybe_split(job, window, page) if page.has_more else None
                self._put((job, window, page))
                if split:
                    self.start(job, split)
                if not page.has_more:
                    break
                cursor = page.last_id
        except BaseException as exc:  # the writer decides what an error means
            self._put((job, window, Failure(exc, cursor)))
        finally:
            with self.lock:
                self.active -= 1

    def _put(self, item) -> None:
        while not self.stopping.is_set():
            try:
                self.pages.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def fetch_page(self, job: Job, lo: int | None, hi: int | None, cursor: str | None) -> Page:
        params = {"limit": PAGE_SIZE, **job.kind.params}
        if lo is not None:
            params["created[gte]"] = lo
        if hi is not None:
            params["created[lt]"] = hi
        if cursor:
            params["starting_after"] = cursor
        resp = self.client.get(job.path, params, label=job.kind.name)
        objects = resp.data.get("data") or []
        if job.kind.name == "invoices":
            for invoice in objects:
                self.complete_lines(invoice, job.kind.name)
        rows = prepare_objects(job.kind.name, objects, synced_at=self.utc_now(),
                               api_version=resp.api_version or API_VERSION)
        return Page(len(objects), objects[-1]["id"] if objects else None,
                    bool(resp.data.get("has_more")) and bool(objects), rows,
                    [o.get("created") or 0 for o in objects])

    def complete_lines(self, invoice: dict, label: str) -> None:
        """Invoices embed only their first lines: page the rest into the invoice."""
        lines = invoice.get("lines")
        if not isinstance(lines, dict) or not lines.get("has_more"):
            return
        data = list(lines.get("data") or [])
        has_more = True
        while has_more:
            params = {"limit": PAGE_SIZE}
            if data:
                params["starting_after"] = data[-1]["id"]
            resp = self.client.get(f"/v1/invoices/{invoice['id']}/lines", params, label=label)
            batch = resp.data.get("data") or []
            data += batch
            has_more = bool(resp.data.get("has_more")) and bool(batch)
        invoice["lines"] = {**lines, "data": data, "has_more": False}

    def _maybe_split(self, job: Job, window: Window, page: Page) -> Window | None:
        """Hand the older half of the window's remaining range to another thread.

        Done under the lock, so a checkpoint never sees one half without the other.
        """
        created = page.created
        newest_first = all(a >= b for a, b in zip(created, created[1:]))
        with self.lock:
            if not (job.created_filter and newest_first and len(job.windows) < WINDOWS_PER_TYPE
                    and self.active < self.workers):
                return None
            lo, oldest = window.lo or 0, min(created)
            # Keep about CHUNK_PAGES more pages here (judging by this page's
            # density), hand off everything older; that part splits again.
            span = max(1, max(created) - oldest)
            mid = max(oldest - CHUNK_PAGES * span, (lo + oldest) // 2)
            if not lo < mid < oldest:
                return None
            split = Window(lo=window.lo, hi=mid)
            job.windows.append(split)
            window.lo = mid
            return split
