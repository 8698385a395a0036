"""The lines at the top of every page: demo banner, data freshness, empty account."""
from __future__ import annotations

import time

import streamlit as st

from etl import store
from tally_ui import published

CONNECT_HINT = ("To see your own account, set `STRIPE_API_KEY` and run `.venv/bin/python -m etl sync` "
                "(or use the Sync page).")


def meta() -> dict[str, str]:
    try:
        frame = published.query("SELECT key, value FROM tally_meta")
    except Exception:  # noqa: BLE001 - an old file without the table: no meta
        return {}
    return dict(zip(frame["key"], frame["value"]))


def source() -> str:
    return meta().get("source", "unknown")


def demo_banner() -> None:
    if source() == "demo":
        st.warning(f"**Demo data.** These numbers come from a generated demo business. {CONNECT_HINT}",
                   icon=":material/science:")


FOLLOW_SECONDS = 5  # how often an open page looks for newly published data


def freshness() -> None:
    _freshness(published.version())


@st.fragment(run_every=FOLLOW_SECONDS)
def _freshness(shown) -> None:
    """The freshness line, redrawn every few seconds; when the updater (or a sync)
    published a new copy, the whole page reruns: filters live in the URL and the
    session, so the user keeps them."""
    if store.published_version(published.db_path()) != shown:
        st.rerun(scope="app")
    info = meta()
    last = info.get("last_sync_at") or info.get("generated_at") or "never"
    updated = _ago(shown[1] / 1e9) if shown else "updated: never"  # the published copy's mtime
    st.caption(f"Data as of {_short(last)} · {updated} · source: {info.get('source', 'unknown')}")


def _ago(published: float) -> str:
    """"updated N s ago" from when the shown copy was published (epoch seconds)."""
    seconds = max(0, int(time.time() - published))
    if seconds < 120:
        return f"updated {seconds} s ago"
    if seconds < 7200:
        return f"updated {seconds // 60} min ago"
    if seconds < 172800:
        return f"updated {seconds // 3600} h ago"
    return f"updated {seconds // 86400} days ago"


def _short(stamp: str) -> str:
    # ISO timestamps read better to the minute, in UTC.
    return stamp.replace("T", " ")[:16] + " UTC" if stamp[:4].isdigit() else stamp


def no_data() -> None:
    st.info("No data yet. " + CONNECT_HINT)


def cash_filter_note(params) -> None:
    """Say how plan, interval and metadata filters reach charges, refunds and disputes (METRICS.md)."""
    if params.plans or params.intervals or params.where:
        st.caption("Charges, refunds and disputes count for a plan, interval or metadata segment through "
                   "their invoice; payments without an invoice are left out while such a filter is set.")
