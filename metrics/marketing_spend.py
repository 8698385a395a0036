"""Marketing spend the user enters (table `marketing_spend`): definition, checks, writes, rows.

Stripe does not know what a business spends on marketing, so metrics own this
table: it is created the first time spend is saved (the demo generator writes
its own with the same columns), and a database without it reads as no spend.
Amounts are integer minor units of the row's currency.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import pandas as pd

from metrics.common import MetricError, has_table, sql_date
from metrics.currency import exponent
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric

MARKETING_SPEND_DDL = """CREATE TABLE IF NOT EXISTS marketing_spend (
    month DATE, amount BIGINT, currency VARCHAR, channel VARCHAR)"""
# The same columns with no rows, for a database where no spend was ever saved.
NO_SPEND = "(SELECT NULL::DATE AS month, NULL::BIGINT AS amount, NULL::VARCHAR AS currency, " \
           "NULL::VARCHAR AS channel WHERE false)"


def ensure_table(con) -> None:
    con.execute(MARKETING_SPEND_DDL)


def _table(con) -> str:
    return "marketing_spend" if has_table(con, "marketing_spend") else NO_SPEND


@metric("marketing_spend", "Every marketing spend row entered (month, amount, currency, channel), "
        "newest month first, whatever the range", money=("amount",))
def marketing_spend(con, params: Params) -> pd.DataFrame:
    df = con.execute(f"""SELECT month, amount, lower(currency) AS currency, channel FROM {_table(con)}
                         ORDER BY month DESC, channel""").df()
    if not params.currency or df.empty:
        return df
    df = convert_frame(con, df, params, ["amount"], ["month", "currency", "channel"])
    return df.sort_values(["month", "channel"], ascending=[False, True])[
        ["month", "amount", "currency", "channel"]].reset_index(drop=True)


def spend_by_month(con, params: Params, first: dt.date, last: dt.date) -> pd.DataFrame:
    """(month, currency, marketing_spend) from `first` to `last`, in params.currency when set."""
    df = con.execute(f"""
        SELECT date_trunc('month', month)::DATE AS month, lower(currency) AS currency,
               sum(amount) AS marketing_spend
        FROM {_table(con)} WHERE month BETWEEN {sql_date(first)} AND {sql_date(last)}
        GROUP BY ALL""").df()
    return convert_frame(con, df, params, ["marketing_spend"], ["month", "currency"])


def _spend_row(number: int, row: dict) -> tuple:
    where = f"marketing spend row {number}"
    try:
        month = row["month"]
        if isinstance(month, str):
            month = dt.datetime.strptime(month.strip()[:7], "%Y-%m").date()
        elif isinstance(month, dt.datetime):
            month = month.date()
        month = month.replace(day=1)
    except (KeyError, ValueError, TypeError, AttributeError):
        raise MetricError(f"{where}: month must be YYYY-MM") from None
    currency = str(row.get("currency") or "").strip().lower()
    if len(currency) != 3 or not currency.isalpha():
        raise MetricError(f"{where}: currency must be a 3-letter code like usd")
    try:
        major = Decimal(str(row.get("amount")).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise MetricError(f"{where}: amount must be a number") from None
    if not major.is_finite() or major < 0:
        raise MetricError(f"{where}: amount must be a number, 0 or more")
    minor = int((major * (Decimal(10) ** exponent(currency))).to_integral_value())
    channel = row.get("channel")
    channel = None if channel is None or pd.isna(channel) or not str(channel).strip() else str(channel).strip()
    return month, minor, currency, channel


def save_marketing_spend(con, rows) -> int:
    """Store spend rows (month YYYY-MM, amount in major units, currency, optional channel).

    A row replaces an earlier one for the same month, currency and channel, so
    uploading a corrected CSV twice is harmless. Validates every row before writing
    anything; raises MetricError naming the first bad row. Returns rows written.
    """
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    clean = [_spend_row(n, dict(r)) for n, r in enumerate(rows, start=1)]
    ensure_table(con)
    for month, _, currency, channel in clean:
        con.execute("DELETE FROM marketing_spend WHERE month = ? AND currency = ? "
                    "AND channel IS NOT DISTINCT FROM ?", [month, currency, channel])
    if clean:
        con.executemany("INSERT INTO marketing_spend VALUES (?, ?, ?, ?)", clean)
    return len(clean)
