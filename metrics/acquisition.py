"""Acquisition cost: CAC, payback and LTV:CAC from the marketing spend the user
entered (metrics/marketing_spend.py) and the new customers and MRR it bought."""
from __future__ import annotations

import pandas as pd

from metrics.churn import totals_with_lookback, with_ltv
from metrics.common import MetricError, ratio
from metrics.marketing_spend import spend_by_month
from metrics.params import Params
from metrics.registry import metric

LTV_CAC_COLUMNS = ["month", "currency", "marketing_spend", "new_customers", "new_mrr", "cac",
                   "gross_margin", "cac_payback_months", "arpa", "ltv", "ltv_to_cac"]


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
    spend = spend_by_month(con, params, first, last)
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
