"""First start: with no Stripe key and no database, generate the demo account."""
from __future__ import annotations

import logging

import streamlit as st

from etl import store
from tally_ui import published

log = logging.getLogger("tally.dashboard")


def ensure_database() -> None:
    """Generate the demo account when it is what the dashboard shows and it is missing."""
    db = published.db_path()
    if store.published_version(db) is not None:
        _upgrade(db)
        return
    if db != published.demo_db_path():
        return
    from etl.demo import ensure_demo_database
    try:
        with st.spinner("Generating the demo account (first start only, a few seconds)…"):
            ensure_demo_database(db)  # a file lock makes other sessions wait for it
    except Exception:  # noqa: BLE001 - one line for the user, details in the log
        log.exception("demo generation failed")
        st.error("Could not generate the demo account. Run `.venv/bin/python -m etl demo` in a terminal to see why.")


_CHECKED: set[tuple] = set()  # (file, published version) already found current: once per publish


def _upgrade(db: str) -> None:
    """A file from an older Tally gets this one's tables and columns before any page reads it."""
    key = (db, store.published_version(db))
    if key in _CHECKED:
        return
    _CHECKED.add(key)
    try:
        if store.upgrade_published(db):
            log.info("upgraded %s to this version's tables", db)
    except Exception as error:  # noqa: BLE001 - a damaged file is reported where pages read it
        log.debug("could not upgrade %s: %s", db, error)
