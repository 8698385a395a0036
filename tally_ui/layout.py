"""The top of every page: title, demo banner, freshness; None when there is no data."""
from __future__ import annotations

import streamlit as st

from metrics.params import Params
from tally_ui import banners, filters, published

FLASH = "_tally_flash"


def flash(message: str) -> None:
    """A success line shown once at the top of the page after the next rerun."""
    st.session_state[FLASH] = message


def header(title: str, caption: str | None = None) -> Params | None:
    st.title(title)
    if message := st.session_state.pop(FLASH, None):
        st.success(message)
    if caption:
        st.caption(caption)
    if not published.has_data():
        banners.no_data()
        return None
    banners.demo_banner()
    banners.freshness()
    return filters.current()


def pick_currency(frame, label: str = "Currency", key: str | None = None) -> str | None:
    """In native mode a page shows one currency at a time: the account's main one first."""
    present = set(frame["currency"].dropna()) if "currency" in frame else set()
    main = published.main_currencies()
    currencies = [c for c in main if c in present] + sorted(present - set(main))
    if len(currencies) <= 1:
        return currencies[0] if currencies else None
    return st.segmented_control(label, currencies, default=currencies[0], key=key,
                                format_func=str.upper) or currencies[0]

