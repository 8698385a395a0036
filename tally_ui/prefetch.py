"""Compute metrics in the background, so pages open warm.

- After a page has rendered, a daemon thread fills the metric cache for every
  page's default view with the same controls (date range, currency, filters).
- A watcher notices a newly published database (a sync, a demo) and fills the
  cache for the default view before anyone asks: the morning visit after the
  nightly sync is warm.
Each (published version, controls) is computed once. TALLY_PREFETCH=0 turns
both off; under AppTest they are off unless TALLY_PREFETCH=1.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time

from etl import store
from metrics.params import Params
from tally_ui import filters, published

log = logging.getLogger("tally.dashboard")
_started: set[tuple] = set()
_lock = threading.Lock()
WATCH_SECONDS = 10
_watcher: list[threading.Thread] = []

# What each page asks for first, in the order people usually click through.
PAGE_METRICS = [
    "mrr", "mrr_movements", "churn", "payments",  # Overview
    "mrr_by_plan", "drilldown",  # MRR (default split, last month's drill-down)
    "cohorts", "ltv", "trial_conversion",  # Customers & retention
    "forecast",
    "payment_failures", "recovery", "fraud", "disputes_by_reason", "early_fraud_warnings",
    "tax", "ltv_cac",
]
# Read with no controls by every page: annotations mark every time chart, goals the MRR charts.
WHOLE_BUSINESS = ["annotations", "goal_progress", "goals"]


def enabled() -> bool:
    """On in a dashboard server; in-process AppTest runs only when TALLY_PREFETCH=1 asks.

    AppTest runs many apps with their own databases in one process (a test
    suite): a background thread there would work on whichever database is next.
    """
    setting = os.environ.get("TALLY_PREFETCH", "")
    return setting == "1" or (setting != "0" and _in_server())


def _in_server() -> bool:
    from streamlit.runtime import Runtime
    return Runtime.exists() and type(Runtime.instance()) is Runtime  # AppTest uses a stand-in


# The lists and inputs pages show whatever the controls (cheap, but a page should not wait for them).
UNRANGED_METRICS = ["recent_refunds", "marketing_spend", "exchange_rates", "table_rows",
                    "sync_runs", "sync_object_types", "unknown_price_lines"]
# What the sidebar's segment controls read on every page, whatever the controls.
SIDEBAR_METRICS = ["segment_values", "saved_segments"]


def jobs(params: Params) -> list[tuple[str, Params]]:
    month = dataclasses.replace(params, extra={"month": params.end})
    ranged = [("mrr_drilldown", month) if name == "drilldown" else (name, params) for name in PAGE_METRICS]
    disputes = ("recent_disputes", Params(start=params.start or params.end, end=params.end))  # refunds page
    whole = [(name, Params()) for name in SIDEBAR_METRICS + WHOLE_BUSINESS + UNRANGED_METRICS]
    return whole + ranged + [disputes]


def start(params: Params) -> threading.Thread | None:
    """Start filling the cache for these controls, unless that already happened."""
    db, version = published.db_path(), published.version()
    key = (db, version, published.params_key(params))
    if not enabled() or version is None or params.end is None:
        return None
    with _lock:
        if key in _started:
            return None
        _started.add(key)
    thread = threading.Thread(target=_fill, args=(db, version, params), name="tally-prefetch", daemon=True)
    thread.start()
    return thread


def _fill(db: str, version, params: Params) -> None:
    for name, job_params in jobs(params):
        try:
            published.cached_metric(db, version, name, job_params)
        except Exception:  # noqa: BLE001 - the page itself will show the problem in one line
            log.debug("prefetch of %s failed", name, exc_info=True)


def warm_default_view() -> None:
    """Fill the cache for what a visitor with a plain URL sees (in this thread)."""
    db, version = published.db_path(), published.version()
    params = filters.default_params()
    key = (db, version, published.params_key(params))
    with _lock:
        if key in _started:
            return
        _started.add(key)
    _fill(db, version, params)


def watch() -> None:
    """Start the publish watcher once per dashboard server process (never under AppTest)."""
    with _lock:
        if _watcher or not enabled() or not _in_server():
            return
        _watcher.append(threading.Thread(target=_watch, name="tally-publish-watch", daemon=True))
    _watcher[0].start()


def _watch() -> None:
    seen = None
    while enabled():
        current = store.published_version(published.db_path())
        if current is not None and current != seen:
            seen = current
            try:
                warm_default_view()
            except Exception:  # noqa: BLE001 - a page will show the problem; keep watching
                log.debug("warming the default view failed", exc_info=True)
        time.sleep(WATCH_SECONDS)
    with _lock:
        _watcher.clear()
