"""Driving dashboard.py in-process with Streamlit's AppTest (tests and bench/dashboard.py)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from streamlit.testing.v1 import AppTest

import tally_auth

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard.py"
PAGES = ["Overview", "MRR", "Customers & retention", "Forecast", "Payments", "Refunds & disputes",
         "Tax", "Acquisition", "Data & export", "Sync"]
VIEWER = tally_auth.User("test viewer", None, "viewer")


def sign_in_as_viewer(monkeypatch) -> None:
    """AppTest has no localhost request, so no-auth mode would refuse it: sign in a viewer."""
    monkeypatch.setattr(tally_auth, "authenticate", lambda: VIEWER)


def open_app(query: dict | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(str(DASHBOARD), default_timeout=timeout)
    at.query_params.update(query or {})
    return at.run()


def goto(at: AppTest, title: str) -> AppTest:
    """Open a page registered with st.navigation by its title (pages are functions, not files)."""
    matches = [h for h, info in at._registered_pages.items() if info.get("page_name") == title]
    assert matches, f"no page titled {title!r}"
    at._page_hash = matches[0]
    return at.run()


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
