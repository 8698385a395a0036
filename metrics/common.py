"""Small helpers every metric module shares: errors, ranges, SQL literals."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.params import Params

DEFAULT_MONTHS = 12  # the default range: METRICS.md "Ranges, filters and exports"


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


def as_of(con) -> dt.date:
    """When the data was taken: the newest sync's time (`last_sync_at`), the demo's
    clock (`generated_at`); for a file no sync finished, its newest invoice or charge."""
    stamps = dict(con.execute("""SELECT key, value FROM tally_meta
                                 WHERE key IN ('last_sync_at', 'generated_at')""").fetchall()
                  if has_table(con, "tally_meta") else [])
    for key in ("last_sync_at", "generated_at"):
        try:
            return dt.datetime.fromisoformat(stamps.get(key) or "").date()
        except ValueError:
            continue
    newest = con.execute("""SELECT greatest((SELECT max(created) FROM invoices),
                                            (SELECT max(created) FROM charges))::DATE""").fetchall()[0][0]
    return newest or dt.datetime.now(dt.UTC).date()


def has_table(con, name: str) -> bool:
    """Whether the database has this table (tables metrics own appear when first written)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
                            "AND database_name = current_database()", [name]).fetchall()[0][0])


def data_months(con) -> tuple[dt.date, dt.date] | None:
    """First month with a billed period, and the last month worth showing: the
    month of "as of", never cut at the month of the newest invoice (an annual
    plan billed in March still has MRR, or churns, in the months after)."""
    first = con.execute("SELECT min(period_start)::DATE FROM invoice_lines").fetchall()[0][0]
    if first is None:
        return None
    return first_of_month(first), max(first_of_month(as_of(con)), first_of_month(first))


def default_months(con) -> tuple[dt.date, dt.date]:
    """METRICS.md's default range: the 12 months ending with the last complete
    month before "as of" (a month still running would show half its renewals as churn)."""
    end = add_months(first_of_month(as_of(con)), -1)
    return add_months(end, -(DEFAULT_MONTHS - 1)), end


def month_range(con, params: Params) -> tuple[dt.date, dt.date] | None:
    """(first, last) month to report: the parameters, else the default range
    (12 months up to the given end, or up to the last complete month), within the data."""
    span = data_months(con)
    if span is None:
        return None
    end = first_of_month(params.end) if params.end else default_months(con)[1]
    if end < span[0] and not params.end:  # billing began in the running month
        end = span[1]
    start = (first_of_month(params.start) if params.start
             else max(add_months(end, -(DEFAULT_MONTHS - 1)), span[0]))
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
