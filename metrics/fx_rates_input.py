"""Exchange rates the user enters (table `fx_rates`): its definition, checks and writes.

Metrics own this table (Stripe knows nothing of it): it is created the first
time rates are saved, and a database without it reads as "no rates entered"
(metrics/fx.py then uses the shipped defaults).

Convention (metrics/fx.py): 1 major unit of `currency` = `rate` major units of
`reporting_currency`, from `month` on (no month: every month without a dated row).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.common import has_table
from metrics.params import Params
from metrics.registry import metric

COLUMNS = ["month", "currency", "reporting_currency", "rate"]

FX_RATES_DDL = """CREATE TABLE IF NOT EXISTS fx_rates (
    month DATE, currency VARCHAR, reporting_currency VARCHAR, rate DOUBLE)"""

# The same columns with no rows, for a database where no rate was ever saved.
NO_RATES = "SELECT NULL::DATE AS month, NULL::VARCHAR AS currency, NULL::VARCHAR AS reporting_currency, " \
           "NULL::DOUBLE AS rate WHERE false"


def ensure_table(con) -> None:
    con.execute(FX_RATES_DDL)


@metric("exchange_rates", "The exchange rates entered on the Data & export page "
        "(1 unit of currency = rate units of reporting_currency from month on; no month: always)")
def exchange_rates(con, params: Params) -> pd.DataFrame:
    """Every entered row, whatever the range and filters (the editor shows them all)."""
    table = "fx_rates" if has_table(con, "fx_rates") else f"({NO_RATES})"
    return con.execute(f"""SELECT month, currency, reporting_currency, rate FROM {table}
                           ORDER BY currency, reporting_currency, month NULLS FIRST""").df()


def reporting_currencies(con) -> list[str]:
    """The reporting currencies the entered rates convert to."""
    if not has_table(con, "fx_rates"):
        return []
    return [row[0] for row in con.execute("""SELECT DISTINCT lower(reporting_currency) FROM fx_rates
                                             WHERE reporting_currency IS NOT NULL ORDER BY 1""").fetchall()]


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
    ensure_table(con)
    con.execute("DELETE FROM fx_rates")
    if rows:
        con.executemany("INSERT INTO fx_rates (month, currency, reporting_currency, rate) VALUES (?, ?, ?, ?)",
                        rows)
