"""Customer and revenue churn, NRR/GRR (monthly and 12-month), LTV and cohorts."""
from __future__ import annotations

import pandas as pd

from metrics.common import add_months, frame, month_range, ratio, sql_date
from metrics.movements import movement_totals
from metrics.mrr.points import cursor_for, full_history_first, reported_points_sql
from metrics.params import Params
from metrics.registry import metric

CHURN_COLUMNS = ["month", "currency", "start_customers", "churned_customers", "logo_churn_rate",
                 "start_mrr", "churn", "contraction", "expansion", "reactivation",
                 "gross_mrr_churn", "net_mrr_churn", "nrr", "grr", "nrr_12m", "grr_12m"]


@metric("churn", "Logo churn, gross and net MRR churn, NRR and GRR (monthly and 12-month)",
        money=("start_mrr", "churn", "contraction", "expansion", "reactivation"))
def churn(con, params: Params) -> pd.DataFrame:
    df = movement_totals(con, params)
    if df is None or df.empty:
        return frame(con, "SELECT 1 WHERE false", CHURN_COLUMNS)
    start = df["start_mrr"]
    df["logo_churn_rate"] = ratio(df["churned_customers"], df["start_customers"])
    df["gross_mrr_churn"] = ratio(df["churn"] + df["contraction"], start)
    df["net_mrr_churn"] = ratio(df["churn"] + df["contraction"] - df["expansion"]
                                - df["reactivation"], start)
    df["nrr"] = ratio(start - df["churn"] - df["contraction"] + df["expansion"], start)
    df["grr"] = ratio(start - df["churn"] - df["contraction"], start)
    df["nrr_12m"] = ratio(df["kept"], df["base"])
    df["grr_12m"] = ratio(df["kept_capped"], df["base"])
    return df[CHURN_COLUMNS].reset_index(drop=True)


LTV_COLUMNS = ["month", "currency", "arpa", "mean_logo_churn_6m", "ltv"]
LOOKBACK = 6


def with_ltv(totals: pd.DataFrame, first) -> pd.DataFrame:
    """Add arpa, mean_logo_churn_6m and ltv to movement totals that start
    LOOKBACK months before `first`; keep months from `first` on.

    LTV(M) = ARPA(end M) / mean logo churn rate over M-6..M-1, empty when that
    mean is 0 (months without customers at their start have no rate and are skipped).
    """
    parts = []
    for _, group in totals.groupby("currency"):
        group = group.assign(month=pd.to_datetime(group["month"])).set_index("month").sort_index()
        months = pd.date_range(group.index.min(), group.index.max(), freq="MS")
        group = group.reindex(months)
        group["currency"] = group["currency"].ffill()
        rate = ratio(group["churned_customers"], group["start_customers"])
        group["mean_logo_churn_6m"] = rate.shift(1).rolling(LOOKBACK, min_periods=1).mean()
        group["arpa"] = ratio(group["end_mrr"], group["end_customers"])
        group["ltv"] = ratio(group["arpa"], group["mean_logo_churn_6m"])
        parts.append(group.rename_axis("month").reset_index())
    if not parts:
        return totals.assign(arpa=[], mean_logo_churn_6m=[], ltv=[])
    df = pd.concat(parts, ignore_index=True)
    df = df[(df["month"] >= pd.Timestamp(first)) & df["end_customers"].notna()]
    return df.sort_values(["month", "currency"]).reset_index(drop=True)


def totals_with_lookback(con, params: Params):
    """Movement totals from LOOKBACK months before the range, and the range (first, last)."""
    span = month_range(con, params)
    if span is None:
        return None, None
    earlier = Params(**{**params.__dict__, "start": add_months(span[0], -LOOKBACK), "end": span[1]})
    return movement_totals(con, earlier), span


@metric("ltv", "Customer lifetime value: ARPA / mean logo churn of the 6 months before",
        money=("arpa", "ltv"))
def ltv(con, params: Params) -> pd.DataFrame:
    totals, span = totals_with_lookback(con, params)
    if totals is None or totals.empty:
        return frame(con, "SELECT 1 WHERE false", LTV_COLUMNS)
    return with_ltv(totals, span[0])[LTV_COLUMNS]


COHORT_COLUMNS = ["cohort", "currency", "months_since", "customers", "active_customers",
                  "logo_retention", "cohort_mrr", "mrr", "revenue_retention"]


@metric("cohorts", "Logo and revenue retention by cohort (month of first MRR) and months since",
        money=("cohort_mrr", "mrr"))
def cohorts(con, params: Params) -> pd.DataFrame:
    span = month_range(con, params)
    if span is None:
        return frame(con, "SELECT 1 WHERE false", COHORT_COLUMNS)
    first, last = span
    cur = cursor_for(con, params, full_history_first(con) or first, last)
    sql = reported_points_sql(cur, params, last) + f""",
firsts AS (
    SELECT customer_id, currency, min(period) AS cohort FROM points GROUP BY ALL
),
base AS (
    SELECT f.cohort, f.currency, count(*) AS customers, sum(p.mrr) AS cohort_mrr
    FROM firsts f JOIN points p ON p.customer_id = f.customer_id
     AND p.currency = f.currency AND p.period = f.cohort
    GROUP BY ALL
),
later AS (
    SELECT f.cohort, f.currency, datediff('month', f.cohort, p.period) AS months_since,
           count(*) AS active_customers, sum(p.mrr) AS mrr
    FROM firsts f JOIN points p ON p.customer_id = f.customer_id AND p.currency = f.currency
    WHERE f.cohort BETWEEN {sql_date(first)} AND {sql_date(last)}
    GROUP BY ALL
)
SELECT l.cohort, l.currency, l.months_since, b.customers, l.active_customers,
       l.active_customers / b.customers AS logo_retention, b.cohort_mrr, l.mrr,
       l.mrr / b.cohort_mrr AS revenue_retention
FROM later l JOIN base b USING (cohort, currency)
ORDER BY cohort, currency, months_since"""
    return frame(cur, sql, COHORT_COLUMNS)
