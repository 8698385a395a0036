"""Subscription invoices that failed their first payment attempt, and their recovery (dunning)."""
from __future__ import annotations

import pandas as pd

from metrics.cash import between, created_range, grain, kept, with_filters
from metrics.common import live_only, ratio
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric

SUBSCRIPTION_REASONS = "('subscription_create', 'subscription_cycle', 'subscription_update')"

RECOVERY_COLUMNS = ["currency", "failed_first_attempt", "recovered", "recovery_rate",
                    "failed_amount", "recovered_amount", "recovery_rate_amount",
                    "open_dunning", "open_dunning_amount"]


@metric("recovery",
        "Subscription invoices failing their first attempt, and how many were recovered (dunning)",
        money=("failed_amount", "recovered_amount", "open_dunning_amount"))
def recovery(con, params: Params) -> pd.DataFrame:
    g = grain(params)
    columns = [g] + RECOVERY_COLUMNS
    bounds = created_range(con, params, "invoices")
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    sql = f"""
WITH failed AS (
    SELECT * FROM invoices
    WHERE billing_reason IN {SUBSCRIPTION_REASONS} AND amount_due > 0
      AND status <> 'draft' AND {live_only('invoices')} AND {between('created', bounds)}
      AND (attempt_count > 1 OR (attempted AND status <> 'paid')) {kept(params, invoice='id')}
)
SELECT date_trunc('{g}', created)::DATE AS "{g}", lower(currency) AS currency,
       count(*) AS failed_first_attempt,
       count(*) FILTER (status = 'paid') AS recovered,
       sum(amount_due) AS failed_amount,
       coalesce(sum(amount_due) FILTER (status = 'paid'), 0) AS recovered_amount,
       count(*) FILTER (status = 'open') AS open_dunning,
       coalesce(sum(amount_remaining) FILTER (status = 'open'), 0) AS open_dunning_amount
FROM failed GROUP BY ALL ORDER BY 1, 2"""
    df = con.execute(with_filters(params, sql)).df()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    df = convert_frame(con, df, params, ["failed_amount", "recovered_amount", "open_dunning_amount"],
                       [g, "currency"], g)
    df["recovery_rate"] = ratio(df["recovered"], df["failed_first_attempt"])
    df["recovery_rate_amount"] = ratio(df["recovered_amount"], df["failed_amount"])
    return df[columns].reset_index(drop=True)
