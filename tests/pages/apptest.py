"""Driving dashboard.py in-process with Streamlit's AppTest (tests and bench/dashboard.py)."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import streamlit as st
from streamlit.testing.v1 import AppTest

import tally_auth

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard.py"
PAGES = ["Overview", "MRR", "Customers & retention", "Forecast", "Payments", "Refunds & disputes",
         "Tax", "Acquisition", "Goals & annotations", "Data & export", "Sync"]
VIEWER = tally_auth.User("test viewer", None, "viewer")


def sign_in_as_viewer(monkeypatch) -> None:
    """AppTest has no localhost request, so no-auth mode would refuse it: sign in a viewer."""
    monkeypatch.setattr(tally_auth, "authenticate", lambda: VIEWER)


def open_app(query: dict | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(str(DASHBOARD), default_timeout=timeout)
    at.query_params.update(query or {})
    return at.run()


def goto(at: AppTest, title: str) -> AppTest:
    """Open a page registered with st.navigation by its title, as a click in the sidebar does:
    st.switch_page to its st.Page. (AppTest.switch_page opens file pages only; ours are functions.)"""
    found: list = []

    def switch(pages: list, chosen) -> None:
        matches = [page for page in pages if page.title == title]
        found.extend(matches)
        if matches and chosen.title != title:  # rerun on that page, filters (in the URL) kept
            st.switch_page(matches[0], query_params={key: st.query_params.get_all(key) for key in st.query_params})

    with _navigation_watched(switch):
        at.run()
    assert found, f"no page titled {title!r}"
    return at


def page_titles(at: AppTest) -> list[str]:
    """The titles st.navigation offers on a rerun of `at`: what the sidebar lists."""
    seen: list[str] = []
    with _navigation_watched(lambda pages, chosen: seen.extend(page.title for page in pages)):
        at.run()
    return seen


@contextmanager
def _navigation_watched(watch):
    """Call `watch(pages, chosen)` each time the dashboard has registered its pages with st.navigation."""
    navigation = st.navigation

    def watched(pages, *args, **kwargs):
        chosen = navigation(pages, *args, **kwargs)
        sections = pages.values() if isinstance(pages, dict) else [pages]
        watch([page for section in sections for page in section], chosen)
        return chosen

    with mock.patch.object(st, "navigation", watched):
        yield


def shown_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "info", "warning", "error", "success")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def cards(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def selected_end(at) -> dt.date:
    return at.selectbox(key="f_end").value


def shown_currency(at) -> str:
    """In native mode the Overview shows one currency (the account's main one by default)."""
    pickers = [w for w in at.segmented_control if w.key == "overview_currency"]
    if pickers:
        return pickers[0].value
    return cards(at)["MRR"][0].split()[-1].lower()  # only one currency in view: no picker
