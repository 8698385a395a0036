"""First start: with no Stripe key and no database, generate the demo account."""
from __future__ import annotations

import logging
import os
import threading

import streamlit as st

from etl import store

log = logging.getLogger("tally.dashboard")
_generating = threading.Lock()


def needs_demo(db: str) -> bool:
    return not os.environ.get("STRIPE_API_KEY") and store.published_version(db) is None


def ensure_database(db: str) -> None:
    """Generate the demo database once (one session does it; others wait)."""
    if not needs_demo(db):
        return
    with _generating:
        if not needs_demo(db):  # another session finished it while we waited
            return
        bar = st.progress(0.0, text="Generating the demo account (first start only)…")
        try:
            from etl.demo import generate_database
            generate_database(db, progress=lambda done, total: bar.progress(
                min(1.0, done / max(total, 1)), text=f"Generating the demo account: {done:,} of {total:,} customers"))
        except Exception:  # noqa: BLE001 - one line for the user, details in the log
            log.exception("demo generation failed")
            st.error("Could not generate the demo account. Run `python -m etl demo` in a terminal to see why.")
        finally:
            bar.empty()
