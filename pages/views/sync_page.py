"""Sync: last sync status per object type, a button to run one, errors in plain words."""
from __future__ import annotations

import logging
import os
import threading

import streamlit as st

import tally_auth
from etl import store
from metrics.params import Params
from tally_admin.data_changes import AuditUnavailable, audited_change
from tally_ui import banners, layout, published, widgets

log = logging.getLogger("tally.dashboard")
_running = threading.Lock()  # one sync per dashboard process


def sync_page() -> None:
    layout.header("Sync", "Tally copies your Stripe account into a local database; the dashboard reads that copy.")
    if published.has_data():
        unknown_prices()
        status()
    run_controls()


def unknown_prices() -> None:
    """Invoice lines MRR cannot value (METRICS.md: reported, never dropped silently)."""
    from metrics.data_checks import summary
    try:
        lines = published.metric("unknown_price_lines", Params())
    except Exception as error:  # noqa: BLE001 - a failed check is one line, never a traceback
        log.exception("unknown price check failed")
        st.warning("Could not check for invoice lines with unknown prices: "
                   + ((str(error).strip().splitlines() or [""])[0]))
        return
    if lines.empty:
        return
    st.warning("Some invoice lines cannot be valued as the MRR rules say:\n\n"
               + "\n".join(f"- {line}" for line in summary(lines)))
    st.caption("Lines whose price is missing are left out of MRR; credits whose credited line is "
               "missing are valued by their price's interval. A full sync fetches what is missing. "
               "The lines: Data & export, metric `unknown_price_lines`.")


def status() -> None:
    st.subheader("Recent runs")
    runs = widgets.metric_frame("sync_runs", Params())
    if runs is None:
        source = banners.source()
        st.info("This database was generated as demo data; it has never been synced." if source == "demo"
                else "No sync has run yet.")
    else:
        widgets.table(runs)
    objects = widgets.metric_frame("sync_object_types", Params())
    if objects is not None:
        st.subheader("Object types")
        widgets.table(objects)


def api_key() -> str | None:
    return os.environ.get("STRIPE_API_KEY") or None


def run_controls() -> None:
    st.subheader("Run a sync")
    key = api_key()
    if not key:
        st.info("No Stripe key is set. Set `STRIPE_API_KEY` (a secret or restricted key) in the environment "
                "of the dashboard, then press the button here or run `.venv/bin/python -m etl sync`.")
        return
    writer = tally_auth.data_writer()
    if writer is None:
        st.caption(tally_auth.READ_ONLY_NOTE + " Syncs run on a schedule or from an admin's dashboard.")
        return
    full = st.checkbox("Full resync (re-read all history)", key="sync_full")
    if not st.button("Sync now", type="primary", key="sync_now"):
        return
    if not _running.acquire(blocking=False):
        st.warning("A sync started from the dashboard is already running.")
        return
    try:
        run(key, full, writer)
    finally:
        _running.release()


def run(key: str, full: bool, writer: tally_auth.User) -> None:
    from etl.client import StripeSyncError
    from etl.sync import OBJECT_TYPES, run_sync
    bar = st.progress(0.0, text="Starting the sync…")
    finished: set[str] = set()

    def progress(object_type: str, fetched: int, done: bool) -> None:
        if done:
            finished.add(object_type)
        bar.progress(min(1.0, len(finished) / len(OBJECT_TYPES)),
                     text=f"{object_type}: {fetched:,} fetched · {len(finished)} of {len(OBJECT_TYPES)} "
                          "object types done")

    try:
        summary = audited_change(
            writer.label, "full_resync" if full else "sync", "database", {"full": full},
            lambda: run_sync(store.db_path_from_env(), key, api_base=os.environ.get("STRIPE_API_BASE") or None,
                             full=full, progress=progress),
            outcome_of=lambda s: ("succeeded" if s.status == "ok" else s.status,
                                  plain_text(s.message or s.status, key)),
            redact=lambda text: plain_text(text, key))
    except (StripeSyncError, AuditUnavailable) as error:  # expected: one line, in the log too
        log.warning("sync from the dashboard failed: %s", plain_text(str(error), key))
        bar.empty()
        st.error(plain_error(error, key))
        return
    except Exception as error:  # noqa: BLE001 - a bug: the traceback goes to the log, one line to the page
        log.exception("sync failed")
        bar.empty()
        st.error(plain_error(error, key))
        return
    bar.empty()
    report(summary, key)


def report(summary, key: str) -> None:
    """The run's outcome in plain words; a successful run reloads the page on the new data."""
    lines = [plain_text(line, key) for line in [summary.message, *summary.notes] if line]
    if summary.status == "ok":
        fetched = sum(job.get("fetched", 0) for job in summary.jobs.values())
        layout.flash(f"Sync finished: {fetched:,} objects fetched in {summary.seconds:.0f} s.")
        st.rerun()
    elif summary.status == "partial":
        st.warning("Sync finished, but some object types could not be read:\n\n"
                   + "\n".join(f"- {line}" for line in lines))
    else:
        st.error("Sync failed: " + (lines[0] if lines else "see the dashboard's log for details."))


def plain_text(text: str, key: str) -> str:
    """One line, never the key."""
    line = (str(text).strip().splitlines() or [""])[0]
    return line.replace(key, "[key]") if key else line


def plain_error(error: Exception, key: str) -> str:
    text = plain_text(str(error), key)
    return f"Sync failed: {text}" if text else "Sync failed. The dashboard's log has the details."
