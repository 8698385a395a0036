"""Exchange rates the user edits (fx_rates), checked before they are saved.

Convention (metrics/fx.py): 1 major unit of `currency` = `rate` major units of
`reporting_currency`, from `month` on (no month: every month without a dated row).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

COLUMNS = ["month", "currency", "reporting_currency", "rate"]


def clean_rates(frame: pd.DataFrame) -> list[tuple]:
    """Rows to store; ValueError naming the first bad row in plain words."""
    rows = []
    for number, row in enumerate(frame[COLUMNS].itertuples(index=False), start=1):
        if all(pd.isna(v) or v == "" for v in row):
            continue  # an empty row the editor added
        currency, reporting = _code(row.currency, number), _code(row.reporting_currency, number)
        try:
            rate = float(row.rate)
        except (TypeError, ValueError):
            rate = float("nan")
        if not rate > 0:
            raise ValueError(f"Row {number}: the rate must be a number above 0.")
        if currency == reporting:
            raise ValueError(f"Row {number}: a currency needs no rate to itself.")
        rows.append((_month(row.month, number), currency, reporting, rate))
    return rows


def _code(value, number: int) -> str:
    code = "" if value is None or pd.isna(value) else str(value).strip().lower()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"Row {number}: currencies are 3-letter codes like usd or eur.")
    return code


def _month(value, number: int) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
        return None
    try:
        if isinstance(value, str):
            return dt.datetime.strptime(value.strip()[:7], "%Y-%m").date()
        return pd.Timestamp(value).date().replace(day=1)
    except ValueError as error:
        raise ValueError(f"Row {number}: the month must be a date like 2026-01.") from error


def replace_rates(con, rows: list[tuple]) -> None:
    """The edited table replaces the stored one (inside the caller's transaction)."""
    con.execute("DELETE FROM fx_rates")
    if rows:
        con.executemany("INSERT INTO fx_rates (month, currency, reporting_currency, rate) VALUES (?, ?, ?, ?)",
                        rows)
