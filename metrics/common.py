"""Small helpers every metric module shares: errors, ranges, SQL literals."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.params import Params


class MetricError(Exception):
    """A problem the user can fix (bad parameter, missing rate): shown as one line."""


def sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values) -> str:
    return "(" + ", ".join(sql_text(v) for v in values) + ")"


def sql_date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def this_month() -> dt.date:
    return first_of_month(dt.datetime.now(dt.UTC).date())


def live_only(table: str, alias: str | None = None) -> str:
    """Live objects when the account has any, otherwise test objects (a test key's sync).

    Why: METRICS.md counts livemode objects only, and test-mode objects only
    when the database was filled with a test key.
    """
    return (f"{alias or table}.livemode = (SELECT coalesce(bool_or(livemode), false) "
            f"FROM {table}) AND NOT coalesce({alias or table}.deleted, false)")


def data_months(con) -> tuple[dt.date, dt.date] | None:
    """First month with a billed period, and the last month worth showing.

    The last month is the month of the newest invoice, never after this month:
    annual plans paid in advance cover future months the other plans have not
    reached yet.
    """
    first, newest = con.execute("""
        SELECT (SELECT min(period_start)::DATE FROM invoice_lines),
               (SELECT max(created)::DATE FROM invoices)""").fetchall()[0]
    if first is None or newest is None:
        return None
    return first_of_month(first), min(first_of_month(newest), this_month())


def month_range(con, params: Params) -> tuple[dt.date, dt.date] | None:
    """(first, last) month to report: the parameters, or the data's own span."""
    span = data_months(con)
    start = first_of_month(params.start) if params.start else (span[0] if span else None)
    end = first_of_month(params.end) if params.end else (span[1] if span else None)
    if start is None or end is None:
        return None
    if start > end:
        raise MetricError(f"start {start:%Y-%m} is after end {end:%Y-%m}")
    return start, end


def frame(con, sql: str, columns: list[str]) -> pd.DataFrame:
    """Run SQL and return a frame with exactly `columns` (empty frame keeps them)."""
    result = con.execute(sql).df()
    if result.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return result[columns].reset_index(drop=True)


def ratio(numerator, denominator):
    """numerator / denominator, empty (NaN) when the denominator is 0."""
    numerator = pd.to_numeric(numerator, errors="coerce").astype("float64")
    denominator = pd.to_numeric(denominator, errors="coerce").astype("float64")
    return (numerator / denominator.where(denominator != 0)).astype("float64")
