"""The lines at the top of every page: demo banner, data freshness, empty account."""
from __future__ import annotations

import streamlit as st

from tally_ui import data

CONNECT_HINT = ("To see your own account, set `STRIPE_API_KEY` and run `.venv/bin/python -m etl sync` "
                "(or use the Sync page).")


def meta() -> dict[str, str]:
    try:
        frame = data.query("SELECT key, value FROM tally_meta")
    except Exception:  # noqa: BLE001 - an old file without the table: no meta
        return {}
    return dict(zip(frame["key"], frame["value"]))


def source() -> str:
    return meta().get("source", "unknown")


def demo_banner() -> None:
    if source() == "demo":
        st.warning(f"**Demo data.** These numbers come from a generated demo business. {CONNECT_HINT}",
                   icon=":material/science:")


def freshness() -> None:
    info = meta()
    last = info.get("last_sync_at") or info.get("generated_at") or "never"
    st.caption(f"Data as of {_short(last)} · source: {info.get('source', 'unknown')}")


def _short(stamp: str) -> str:
    # ISO timestamps read better to the minute, in UTC.
    return stamp.replace("T", " ")[:16] + " UTC" if stamp[:4].isdigit() else stamp


def no_data() -> None:
    st.info("No data yet. " + CONNECT_HINT)


def cash_filter_note(params) -> None:
    """Say how plan and interval filters reach charges, refunds and disputes (METRICS.md)."""
    if params.plans or params.intervals:
        st.caption("Charges, refunds and disputes count for a plan or interval through their invoice; "
                   "payments without an invoice are left out while such a filter is set.")
