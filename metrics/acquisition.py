"""Acquisition cost: marketing spend entered by the user, CAC, payback, LTV:CAC."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import pandas as pd

from metrics.churn import totals_with_lookback, with_ltv
from metrics.common import MetricError, ratio, sql_date
from metrics.currency import exponent
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric


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
    for month, _, currency, channel in clean:
        con.execute("DELETE FROM marketing_spend WHERE month = ? AND currency = ? "
                    "AND channel IS NOT DISTINCT FROM ?", [month, currency, channel])
    if clean:
        con.executemany("INSERT INTO marketing_spend VALUES (?, ?, ?, ?)", clean)
    return len(clean)


LTV_CAC_COLUMNS = ["month", "currency", "marketing_spend", "new_customers", "new_mrr", "cac",
                   "gross_margin", "cac_payback_months", "arpa", "ltv", "ltv_to_cac"]


def _spend(con, params: Params, first: dt.date, last: dt.date) -> pd.DataFrame:
    df = con.execute(f"""
        SELECT date_trunc('month', month)::DATE AS month, lower(currency) AS currency,
               sum(amount) AS marketing_spend
        FROM marketing_spend WHERE month BETWEEN {sql_date(first)} AND {sql_date(last)}
        GROUP BY ALL""").df()
    return convert_frame(con, df, params, ["marketing_spend"], ["month", "currency"])


@metric("ltv_cac", "Marketing spend, CAC, CAC payback (months) and LTV:CAC per month "
        "(extra gross_margin=0..1, default 1)",
        money=("marketing_spend", "new_mrr", "cac", "arpa", "ltv"))
def ltv_cac(con, params: Params) -> pd.DataFrame:
    margin = float(params.extra.get("gross_margin", 1.0))
    if not 0 < margin <= 1:
        raise MetricError("gross margin must be more than 0 and at most 1 (100%)")
    totals, span = totals_with_lookback(con, params)
    if totals is None or totals.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in LTV_CAC_COLUMNS})
    first, last = span
    new = with_ltv(totals, first)
    spend = _spend(con, params, first, last)
    spend["month"] = pd.to_datetime(spend["month"])
    new = new.rename(columns={"new": "new_mrr"})
    df = new[["month", "currency", "new_customers", "new_mrr", "arpa", "ltv"]].merge(
        spend, on=["month", "currency"], how="outer")
    df[["new_customers", "new_mrr"]] = df[["new_customers", "new_mrr"]].fillna(0)
    df["cac"] = ratio(df["marketing_spend"], df["new_customers"])
    df["gross_margin"] = margin
    df["cac_payback_months"] = ratio(df["cac"], ratio(df["new_mrr"], df["new_customers"]) * margin)
    df["ltv_to_cac"] = ratio(df["ltv"], df["cac"])
    return df.sort_values(["month", "currency"])[LTV_CAC_COLUMNS].reset_index(drop=True)
