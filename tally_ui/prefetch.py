"""Compute the other pages' metrics in the background, so switching pages is instant.

After a page has rendered, a daemon thread fills the metric cache for every
page's default view with the same controls (date range, currency, filters).
It runs once per (published version, controls); a new publish starts over.
On a 2-core machine it competes with the next page for CPU only while the
user reads the current one. TALLY_PREFETCH=0 turns it off (tests, benchmarks).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading

from metrics.params import Params
from tally_ui import data

log = logging.getLogger("tally.dashboard")
_started: set[tuple] = set()
_lock = threading.Lock()

# What each page asks for first, in the order people usually click through.
PAGE_METRICS = [
    "mrr", "mrr_movements", "churn", "payments",  # Overview
    "mrr_by_plan", "drilldown",  # MRR (default split, last month's drill-down)
    "cohorts", "ltv", "trial_conversion",  # Customers & retention
    "forecast",
    "payment_failures", "recovery", "fraud", "disputes_by_reason", "early_fraud_warnings",
    "tax", "ltv_cac",
]


def enabled() -> bool:
    return os.environ.get("TALLY_PREFETCH", "1") != "0"


def jobs(params: Params) -> list[tuple[str, Params]]:
    month = dataclasses.replace(params, extra={"month": params.end})
    return [("mrr_drilldown", month) if name == "drilldown" else (name, params) for name in PAGE_METRICS]


def start(params: Params) -> threading.Thread | None:
    """Start filling the cache for these controls, unless that already happened."""
    db, version = data.db_path(), data.version()
    key = (db, version, data.params_key(params))
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
            data.cached_metric(db, version, name, job_params)
        except Exception:  # noqa: BLE001 - the page itself will show the problem in one line
            log.debug("prefetch of %s failed", name, exc_info=True)
