"""CSV exports that a spreadsheet cannot turn into formulas.

A cell starting with `=`, `+`, `-` or `@` (or a tab / carriage return, which
some spreadsheets skip before parsing) is run as a formula when the CSV is
opened: a customer named `=HYPERLINK(...)` would become a live link. Such text
cells get a leading apostrophe, which spreadsheets show as plain text.
Numbers stay numbers: only text is neutralised.
"""
from __future__ import annotations

import pandas as pd

from metrics.currency import exponent

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def money_to_major(frame: pd.DataFrame, money_columns) -> pd.DataFrame:
    """Minor units -> major units per row's currency (JPY stays as is)."""
    present = [c for c in money_columns if c in frame.columns]
    if not present or frame.empty:
        return frame
    out = frame.copy()
    if "currency" in out.columns:
        scale = out["currency"].map(lambda c: 10 ** exponent(c or ""))
    else:
        scale = 100
    for column in present:
        out[column] = pd.to_numeric(out[column], errors="coerce") / scale
    return out


def csv_bytes(frame: pd.DataFrame, money_columns=()) -> bytes:
    """The frame as UTF-8 CSV: money in major units, text cells neutralised."""
    out = money_to_major(frame, money_columns).copy()
    for column in out.columns:
        if _is_text(out[column]):
            out[column] = neutralise_column(out[column])
    return out.to_csv(index=False).encode("utf-8")


def neutralise_column(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    risky = text.str.startswith(FORMULA_STARTS).fillna(False).astype(bool)
    if not risky.any():
        return values
    return values.where(~risky, "'" + text)


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)
