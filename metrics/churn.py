"""Customer and revenue churn, NRR/GRR (monthly and 12-month), LTV and cohorts."""
from __future__ import annotations

import pandas as pd

from metrics.common import add_months, frame, month_range, ratio, sql_date
from metrics.movements import customer_movements_sql, movements_cursor
from metrics.params import Params
from metrics.points import cursor_for, full_history_first, reported_points_sql
from metrics.registry import metric

CHURN_COLUMNS = ["month", "currency", "start_customers", "churned_customers", "logo_churn_rate",
                 "start_mrr", "churn", "contraction", "expansion", "reactivation",
                 "gross_mrr_churn", "net_mrr_churn", "nrr", "grr", "nrr_12m", "grr_12m"]


def _twelve_month_sql(params: Params, first, last) -> str:
    """Customers positive 12 months before M: their MRR then and at M (capped for GRR).

    In a reporting currency both ends are valued at M's rate, so a rate change
    does not read as retention.
    """
    factor = "f.factor" if params.currency else "1"
    fx_join = ("JOIN fx_factors f ON f.currency = b.currency "
               "AND f.month = (b.period + INTERVAL 12 MONTH)::DATE" if params.currency else "")
    currency = f"'{params.currency.lower()}'" if params.currency else "b.currency"
    return f""",
twelve AS (
    SELECT (b.period + INTERVAL 12 MONTH)::DATE AS month, {currency} AS currency,
           sum(b.mrr * {factor}) AS base,
           sum(coalesce(n.mrr, 0) * {factor}) AS kept,
           sum(least(coalesce(n.mrr, 0), b.mrr) * {factor}) AS kept_capped
    FROM customer_points b
    LEFT JOIN customer_points n ON n.customer_id = b.customer_id AND n.currency = b.currency
     AND n.period = (b.period + INTERVAL 12 MONTH)::DATE
    {fx_join}
    WHERE (b.period + INTERVAL 12 MONTH)::DATE BETWEEN {sql_date(first)} AND {sql_date(last)}
    GROUP BY ALL
)"""


@metric("churn", "Logo churn, gross and net MRR churn, NRR and GRR (monthly and 12-month)",
        money=("start_mrr", "churn", "contraction", "expansion", "reactivation"))
def churn(con, params: Params) -> pd.DataFrame:
    ready = movements_cursor(con, params)
    if ready is None:
        return frame(con, "SELECT 1 WHERE false", CHURN_COLUMNS)
    cur, first, last = ready
    sql = customer_movements_sql(params, last) + _twelve_month_sql(params, first, last) + f""",
monthly AS (
    SELECT month, currency,
           count(*) FILTER (start_mrr > 0) AS start_customers,
           count(*) FILTER (movement = 'churn') AS churned_customers,
           sum(start_mrr) AS start_mrr, sum(churn) AS churn, sum(contraction) AS contraction,
           sum(expansion) AS expansion, sum(reactivation) AS reactivation
    FROM customer_movements
    WHERE month BETWEEN {sql_date(first)} AND {sql_date(last)}
    GROUP BY month, currency
)
SELECT m.*, t.base, t.kept, t.kept_capped
FROM monthly m LEFT JOIN twelve t USING (month, currency)
ORDER BY month, currency"""
    df = cur.execute(sql).df()
    if df.empty:
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


def ltv_frame(con, params: Params) -> pd.DataFrame:
    """LTV(M) = ARPA(end M) / mean logo churn rate over M-6..M-1 (empty when 0)."""
    from metrics.mrr import mrr  # late import: mrr registers on import too

    span = month_range(con, params)
    if span is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in LTV_COLUMNS})
    first, last = span
    earlier = Params(**{**params.__dict__, "start": add_months(first, -6), "end": last})
    rates = churn(con, earlier)[["month", "currency", "logo_churn_rate"]]
    arpa = mrr(con, Params(**{**params.__dict__, "start": first, "end": last}))
    rows = []
    for currency, group in rates.groupby("currency"):
        series = group.set_index(pd.to_datetime(group["month"]))["logo_churn_rate"].astype(float)
        months = pd.date_range(add_months(first, -6), last, freq="MS")
        series = series.reindex(months)
        mean = series.shift(1).rolling(6, min_periods=1).mean()
        rows += [(month, currency, value) for month, value in mean.items()]
    means = pd.DataFrame(rows, columns=["month", "currency", "mean_logo_churn_6m"])
    arpa = arpa.assign(month=pd.to_datetime(arpa["month"]))
    df = arpa[["month", "currency", "arpa"]].merge(means, on=["month", "currency"], how="left")
    df["ltv"] = ratio(df["arpa"], df["mean_logo_churn_6m"])
    return df[LTV_COLUMNS].reset_index(drop=True)


@metric("ltv", "Customer lifetime value: ARPA / mean logo churn of the 6 months before",
        money=("arpa", "ltv"))
def ltv(con, params: Params) -> pd.DataFrame:
    return ltv_frame(con, params)


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
    sql = reported_points_sql(params, last) + f""",
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
