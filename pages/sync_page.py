"""Sync: last sync status per object type, a button to run one, errors in plain words."""
from __future__ import annotations

import logging
import os
import threading

import streamlit as st

from tally_ui import banners, data, layout, show

log = logging.getLogger("tally.dashboard")
_running = threading.Lock()  # one sync per dashboard process


def sync_page() -> None:
    layout.header("Sync", "Tally copies your Stripe account into a local database; the dashboard reads that copy.")
    if data.has_data():
        status()
    run_controls()


def status() -> None:
    runs = data.query("""
        SELECT started_at, finished_at, mode, status, message FROM sync_runs
        ORDER BY started_at DESC LIMIT 10""")
    st.subheader("Recent runs")
    if runs.empty:
        source = banners.source()
        st.info("This database was generated as demo data; it has never been synced." if source == "demo"
                else "No sync has run yet.")
    else:
        show.table(runs)
    objects = data.query("""
        SELECT object_type AS "object type", last_success AS "last success",
               backfill_done AS "history complete"
        FROM sync_state ORDER BY object_type""")
    if not objects.empty:
        st.subheader("Object types")
        show.table(objects)


def api_key() -> str | None:
    return os.environ.get("STRIPE_API_KEY") or None


def run_controls() -> None:
    st.subheader("Run a sync")
    key = api_key()
    if not key:
        st.info("No Stripe key is set. Set `STRIPE_API_KEY` (a secret or restricted key) in the environment "
                "of the dashboard, then press the button here or run `python -m etl sync`.")
        return
    full = st.checkbox("Full resync (re-read all history)", key="sync_full")
    if not st.button("Sync now", type="primary", key="sync_now"):
        return
    if not _running.acquire(blocking=False):
        st.warning("A sync started from the dashboard is already running.")
        return
    try:
        run(key, full)
    finally:
        _running.release()


def run(key: str, full: bool) -> None:
    bar = st.progress(0.0, text="Starting the sync…")
    seen: dict[str, bool] = {}

    def progress(object_type: str, fetched: int, done: bool) -> None:
        seen[object_type] = bool(done) or seen.get(object_type, False)
        finished = sum(seen.values())
        bar.progress(min(0.99, finished / max(len(seen) + 1, 1)),
                     text=f"{object_type}: {fetched:,} fetched ({finished} object types done)")

    try:
        from etl.sync import run_sync
        summary = run_sync(data.db_path(), key, api_base=os.environ.get("STRIPE_API_BASE") or None,
                           full=full, progress=progress)
    except Exception as error:  # noqa: BLE001 - the user gets one plain line
        log.exception("sync failed")
        bar.empty()
        st.error(plain_error(error, key))
        return
    bar.progress(1.0, text="Sync finished.")
    layout.flash(f"Sync finished. {summary_line(summary)}")
    st.rerun()


def plain_error(error: Exception, key: str) -> str:
    """The error's own first line, never the key; a generic line when it has none."""
    text = (str(error).strip().splitlines() or [""])[0]
    if key:
        text = text.replace(key, "[key]")
    return f"Sync failed: {text}" if text else "Sync failed. The dashboard's log has the details."


def summary_line(summary) -> str:
    if isinstance(summary, dict):
        fetched = summary.get("fetched") or summary.get("objects")
        if isinstance(fetched, dict):
            fetched = sum(v for v in fetched.values() if isinstance(v, int))
        if isinstance(fetched, int):
            return f"{fetched:,} objects fetched."
    return ""
