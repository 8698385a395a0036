"""Small building blocks every page uses: a metric with its empty state, KPI cards, tables."""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from metrics.common import MetricError
from metrics.currency import exponent, format_money, to_major
from metrics.params import Params
from tally_ui import data
from tally_ui.export import money_to_major

log = logging.getLogger("tally.dashboard")


def metric_frame(name: str, params: Params, *, empty: str | None = None) -> pd.DataFrame | None:
    """The metric's frame, or None after saying in one line why there is nothing."""
    try:
        frame = data.metric(name, params)
    except data.MetricUnavailable:
        st.info(f"The “{name}” metric is not available in this version of Tally.")
        return None
    except data.DatabaseUnreadable:
        raise  # dashboard.py says it once for the whole page
    except MetricError as error:  # the metric's own plain explanation (bad range, missing input)
        st.warning(str(error))
        return None
    except Exception:  # noqa: BLE001 - the user gets one line; the log gets the details
        log.exception("metric %s failed", name)
        st.error(f"Could not compute “{name}” for this view. Try another date range or filter.")
        return None
    if frame is None or frame.empty:
        if empty:
            st.info(empty)
        return None
    return frame


def money(value, currency: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    return format_money(round(float(value)), currency)


# A card is a quarter of the page wide: "312,875.40 USD" or "1,496,739 USD" do not fit.
CARD_WHOLE_UNITS = 10_000  # from here on a card drops the cents: "312,875 USD"
CARD_MILLIONS = 1_000_000  # and from here shows millions: "1.50M USD"


def card_money(value, currency: str) -> str:
    """Money on a KPI card: exact for small amounts, shortened for large ones."""
    if value is None or pd.isna(value):
        return "—"
    major = to_major(round(float(value)), currency)
    if abs(major) >= CARD_MILLIONS:
        return f"{major / CARD_MILLIONS:,.2f}M {currency.upper()}"
    if abs(major) >= CARD_WHOLE_UNITS:
        return f"{major:,.0f} {currency.upper()}"
    return format_money(round(float(value)), currency)


def percent(value, digits: int = 1) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def number(value, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def change(current, previous, kind: str, currency: str | None = None) -> str | None:
    """The delta shown under a KPI card, in the card's own unit."""
    if current is None or previous is None or pd.isna(current) or pd.isna(previous):
        return None
    diff = float(current) - float(previous)
    if kind == "money":
        sign = "+" if diff >= 0 else "-"
        return f"{sign}{format_money(round(abs(diff)), currency)}"
    if kind == "percent":
        return f"{diff * 100:+.1f} pts"
    if kind == "decimal":
        return f"{diff:+,.1f}"
    return f"{diff:+,.0f}"


def card(column, label: str, current, previous, kind: str, currency: str | None = None,
         help: str | None = None, inverse: bool = False) -> None:
    shown = {"money": lambda v: card_money(v, currency), "percent": percent, "number": number,
             "decimal": lambda v: number(v, 1)}[kind](current)
    column.metric(label, shown, change(current, previous, kind, currency), border=True, help=help,
                  delta_color="inverse" if inverse else "normal")


def table(frame: pd.DataFrame, money_columns=(), *, height: int | None = None, **kwargs) -> None:
    """A dataframe with money in major units (exports are off; use Data & export)."""
    shown = money_to_major(frame, money_columns)
    options = {"hide_index": True, "width": "stretch", "column_config": column_formats(shown, money_columns)}
    if height:
        options["height"] = height
    st.dataframe(shown, **options, **kwargs)


RATE_HINTS = ("_rate", "retention", "nrr", "grr", "_churn")


def column_formats(frame: pd.DataFrame, money_columns=()) -> dict:
    """Readable headers; months as "Oct 2026", money with its currency's decimals, rates as %."""
    digits = max([exponent(c) for c in frame["currency"].dropna().unique()] or [2]) \
        if "currency" in frame else 2
    formats = {}
    for column in frame.columns:
        label = str(column).replace("_", " ")
        if column in ("month", "cohort"):
            formats[column] = st.column_config.DateColumn(label, format="MMM YYYY")
        elif column in money_columns:
            formats[column] = st.column_config.NumberColumn(label, format=f"%.{digits}f")
        elif any(hint in column for hint in RATE_HINTS) and pd.api.types.is_float_dtype(frame[column]):
            formats[column] = st.column_config.NumberColumn(label, format="percent")
        else:
            formats[column] = st.column_config.Column(label)
    return formats


def by_currency(frame: pd.DataFrame):
    """(currency, rows) pairs: cards and series are per currency in native mode."""
    if "currency" not in frame:
        return [(None, frame)]
    return [(c, frame[frame["currency"] == c]) for c in sorted(frame["currency"].dropna().unique())]


def last_two(frame: pd.DataFrame | None, column: str):
    """(value in the last month, value in the month before) of one currency's rows."""
    if frame is None or column not in frame or frame.empty:
        return None, None
    rows = frame.sort_values("month")[column].tolist()
    return rows[-1], (rows[-2] if len(rows) > 1 else None)


def of_currency(frame: pd.DataFrame | None, currency: str | None) -> pd.DataFrame | None:
    if frame is None or currency is None or "currency" not in frame:
        return frame
    return frame[frame["currency"] == currency]
