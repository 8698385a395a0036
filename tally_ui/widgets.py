"""Small building blocks every page uses: a metric with its empty state, KPI cards, tables."""
from __future__ import annotations

import logging
import urllib.parse
from typing import Any

import pandas as pd
import streamlit as st

from metrics.common import MetricError
from metrics.currency import exponent, format_money, to_major
from metrics.params import Params
from tally_ui import published
from tally_ui.export import money_to_major

log = logging.getLogger("tally.dashboard")


def metric_frame(name: str, params: Params, *, empty: str | None = None) -> pd.DataFrame | None:
    """The metric's frame, or None after saying in one line why there is nothing."""
    try:
        frame = published.metric(name, params)
    except published.MetricUnavailable:
        st.info(f"The “{name}” metric is not available in this version of Tally.")
        return None
    except published.DatabaseUnreadable:
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
# Every money card uses one format, whole units ("5,119 USD", "124,728 USD"), so
# cards side by side read alike; from a million on, millions ("1.50M USD").
CARD_MILLIONS = 1_000_000


def card_money(value, currency: str) -> str:
    """Money on a KPI card: whole major units, millions shortened."""
    if value is None or pd.isna(value):
        return "—"
    major = to_major(round(float(value)), currency)
    if abs(major) >= CARD_MILLIONS:
        return f"{major / CARD_MILLIONS:,.2f}M {currency.upper()}"
    return f"{_no_negative_zero(round(major)):,} {currency.upper()}"


def percent(value, digits: int = 1) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def number(value, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{_no_negative_zero(round(float(value), digits)):,.{digits}f}"


def change(current, previous, kind: str, currency: str | None = None) -> str | None:
    """The delta shown under a KPI card, in the card's own unit; "0" (no sign) when it rounds to nothing."""
    if current is None or previous is None or pd.isna(current) or pd.isna(previous):
        return None
    diff = float(current) - float(previous)
    shown: float
    if kind == "money":
        shown, unit = round(to_major(round(diff), currency or "")), f" {(currency or '').upper()}"
        text = f"{abs(shown):,}"
    elif kind == "percent":
        shown, unit = round(diff * 100, 1), " pts"
        text = f"{abs(shown):.1f}"
    elif kind == "decimal":
        shown, unit = round(diff, 1), ""
        text = f"{abs(shown):,.1f}"
    else:
        shown, unit = round(diff), ""
        text = f"{abs(shown):,}"
    if shown == 0:
        return f"0{unit}"
    return f"{'+' if shown > 0 else '-'}{text}{unit}"


def _no_negative_zero(value):
    return 0 if value == 0 else value


def card(column, label: str, current, previous, kind: str, currency: str | None = None,
         help: str | None = None, inverse: bool = False) -> None:
    shown = {"money": lambda v: card_money(v, currency or ""), "percent": percent, "number": number,
             "decimal": lambda v: number(v, 1)}[kind](current)
    delta = change(current, previous, kind, currency)
    # A change that rounds to nothing is neither good nor bad: grey, not red or green.
    flat = delta is not None and delta.startswith("0")
    column.metric(label, shown, delta, border=True, help=help,
                  delta_color="off" if flat else ("inverse" if inverse else "normal"),
                  delta_arrow="off" if flat else "auto")


def table(frame: pd.DataFrame, money_columns=(), *, height: int | None = None, **kwargs) -> None:
    """A dataframe for people: money in major units, codes in words (exports are off; use Data & export).

    Only what is drawn changes: the frame itself (and every CSV) keeps its
    snake_case columns, Stripe's codes and raw values.
    """
    shown = with_customer_links(readable(money_to_major(frame, money_columns)))
    options: dict[str, Any] = {"hide_index": True, "width": "stretch",
                               "column_config": column_formats(shown, money_columns)}
    if height:
        options["height"] = height
    st.dataframe(money_per_currency(shown, money_columns), **options, **kwargs)


CUSTOMER_LINK = "customer_page"  # a drawn column only: CSVs keep customer_id alone


def customer_url(customer_id: str) -> str:
    """The page per customer, relative to the page showing the link (so a base path is kept)."""
    return "customer?id=" + urllib.parse.quote(str(customer_id), safe="")


def with_customer_links(frame: pd.DataFrame) -> pd.DataFrame:
    """Every table of customers links each one to its page, next to its id."""
    if "customer_id" not in frame or CUSTOMER_LINK in frame:
        return frame
    links = frame["customer_id"].map(lambda c: customer_url(c) if isinstance(c, str) and c else None)
    out = frame.copy()
    out.insert(out.columns.get_loc("customer_id") + 1, CUSTOMER_LINK, links)
    return out


RATE_HINTS = ("_rate", "retention", "nrr", "grr", "_churn", "gross_margin")
PERCENTAGE_COLUMNS = ("rate", "percentage")  # Stripe's tax rate percentage: 21.0 means 21%
ONE_DECIMAL = ("cac_payback_months", "ltv_to_cac")
# Columns holding Stripe's (or our) snake_case codes: shown in words.
CODE_COLUMNS = ("failure_code", "outcome_type", "outcome_reason", "reason", "status", "risk_level",
                "movement", "fraud_type", "kind", "billing_reason")
ACRONYMS = {"mrr": "MRR", "arr": "ARR", "arpa": "ARPA", "ltv": "LTV", "cac": "CAC", "nrr": "NRR",
            "grr": "GRR", "id": "ID", "fx": "FX", "url": "URL"}


def header(column) -> str:
    """A column name in words: "customer_end_mrr" -> "Customer end MRR"."""
    words = [ACRONYMS.get(w, w) for w in str(column).split("_") if w]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words) or str(column)


def code_words(value):
    """A Stripe code in words ("insufficient_funds" -> "Insufficient funds"); other values as they are."""
    if isinstance(value, str) and value and all(c.islower() or c.isdigit() or c == "_" for c in value):
        return value.replace("_", " ").capitalize()
    return value


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Display values: codes in words, missing text blank, percentages with their sign."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in PERCENTAGE_COLUMNS and pd.api.types.is_numeric_dtype(values):
            out[column] = values.map(lambda v: "" if pd.isna(v) else f"{float(v):g}%")
        elif pd.api.types.infer_dtype(values, skipna=True) == "string":  # text only: a date or bool stays typed
            text = values.astype(object).where(values.notna(), "")
            out[column] = text.map(code_words) if column in CODE_COLUMNS else text
    return out


def _money_digits(frame: pd.DataFrame) -> list[int]:
    if "currency" not in frame:
        return [2]
    return sorted({exponent(c) for c in frame["currency"].dropna().unique()}) or [2]


# A pandas Styler costs about 0.35 s per 1,000 rows on every rerun: bigger mixed-currency
# tables get their money rounded per row and the browser's own number format instead.
STYLED_ROWS = 500


def money_per_currency(frame: pd.DataFrame, money_columns=()):
    """With currencies of different decimals in one table, each row rounded to its own currency."""
    money = [c for c in money_columns if c in frame]
    if len(_money_digits(frame)) < 2 or not money:
        return frame
    if len(frame) > STYLED_ROWS:
        rounded = frame.copy()
        digits = frame["currency"].map(lambda c: exponent(c or ""))
        for column in money:
            rounded[column] = [v if pd.isna(v) else round(v, d) for v, d in zip(frame[column], digits)]
        return rounded
    styler = frame.style
    for currency in frame["currency"].dropna().unique():
        rows = frame.index[frame["currency"] == currency]
        styler = styler.format(f"{{:,.{exponent(currency)}f}}", subset=pd.IndexSlice[rows, money], na_rep="")
    return styler


def column_formats(frame: pd.DataFrame, money_columns=()) -> dict:
    """Headers in words; months as "Oct 2026", money with its currency's decimals, rates as %."""
    digits = _money_digits(frame)
    formats = {}
    for column in frame.columns:
        label = header(column)
        values = frame[column]
        if column in ("month", "cohort"):
            formats[column] = st.column_config.DateColumn(label, format="MMM YYYY")
        elif column == CUSTOMER_LINK:
            formats[column] = st.column_config.LinkColumn("Customer page", display_text="Open")
        elif column in money_columns:
            # One currency's decimals for the whole column; else money_per_currency rounds each row.
            formats[column] = st.column_config.NumberColumn(label, format=(
                f"%,.{digits[0]}f" if len(digits) == 1 else None if len(frame) <= STYLED_ROWS else "localized"))
        elif any(hint in column for hint in RATE_HINTS) and pd.api.types.is_float_dtype(values):
            formats[column] = st.column_config.NumberColumn(label, format="percent")
        elif column in ONE_DECIMAL and pd.api.types.is_float_dtype(values):
            formats[column] = st.column_config.NumberColumn(label, format="%,.1f")
        elif pd.api.types.is_float_dtype(values):
            formats[column] = st.column_config.NumberColumn(label, format="%,.2f")
        elif pd.api.types.is_integer_dtype(values):
            formats[column] = st.column_config.NumberColumn(label, format="%,d")
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
