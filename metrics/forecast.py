"""A 12-month MRR projection, labelled as such, with a best/worst band.

Each projected month: MRR x (1 - contraction rate - churn rate) + new +
expansion + reactivation, using the trailing 6 months' averages (amounts for
inflows, rates of start MRR for outflows), minus the MRR of subscriptions
already scheduled to cancel that month (`cancel_at` / `cancel_at_period_end`).
The band replays the best and the worst trailing month (by net growth rate).
"""
from __future__ import annotations

import pandas as pd

from metrics.common import add_months, frame, month_range, ratio, sql_date, sql_text
from metrics.movements import mrr_movements
from metrics.mrr.points import chain_sql, cursor_for
from metrics.params import Params
from metrics.registry import metric

FORECAST_COLUMNS = ["month", "currency", "kind", "mrr", "low", "high", "scheduled_churn"]
HORIZON = 12
TRAILING = 6


def _scheduled(con, params: Params, last) -> pd.DataFrame:
    """MRR at the end of `last` of subscriptions set to end in a later month."""
    cur = cursor_for(con, params, last, last)
    factor = "f.factor" if params.currency else "1"
    fx_join = (f"JOIN fx_factors f ON f.currency = sp.currency AND f.month = {sql_date(last)}"
               if params.currency else "")
    currency = sql_text(params.currency.lower()) if params.currency else "sp.currency"
    sql = chain_sql(cur, params, last, "month", last) + f""",
ending AS (
    SELECT id, coalesce(cancel_at, CASE WHEN cancel_at_period_end THEN current_period_end END) AS ends
    FROM subscriptions WHERE ended_at IS NULL
)
SELECT {currency} AS currency,
       greatest(date_trunc('month', e.ends)::DATE, {sql_date(add_months(last, 1))}) AS month,
       sum(sp.mrr * {factor}) AS scheduled_churn
FROM sub_points sp JOIN ending e ON e.id = sp.subscription_id {fx_join}
WHERE sp.period = {sql_date(last)} AND e.ends >= {sql_date(add_months(last, 1))}
GROUP BY ALL"""
    return frame(cur, sql, ["currency", "month", "scheduled_churn"])


def _trailing(moves: pd.DataFrame) -> pd.DataFrame:
    moves = moves.copy()
    moves["inflow"] = moves["new"] + moves["expansion"] + moves["reactivation"]
    moves["outflow_rate"] = ratio(moves["contraction"] + moves["churn"], moves["start_mrr"]).fillna(0)
    moves["growth"] = ratio(moves["inflow"], moves["start_mrr"]).fillna(0) - moves["outflow_rate"]
    return moves


def _project(start_mrr: float, inflow: float, outflow_rate: float, scheduled: list[float]) -> list[float]:
    values, mrr = [], start_mrr
    for month in range(HORIZON):
        mrr = max(mrr * (1 - outflow_rate) + inflow - scheduled[month], 0.0)
        values.append(mrr)
    return values


@metric("forecast", "12-month MRR projection from the trailing 6 months, with a best/worst band",
        money=("mrr", "low", "high", "scheduled_churn"))
def forecast(con, params: Params) -> pd.DataFrame:
    span = month_range(con, params)
    if span is None:
        return frame(con, "SELECT 1 WHERE false", FORECAST_COLUMNS)
    last = span[1]
    trailing = Params(**{**params.__dict__, "start": add_months(last, -(TRAILING - 1)), "end": last})
    moves = mrr_movements(con, trailing)
    scheduled = _scheduled(con, params, last)
    rows = []
    for currency, group in moves.groupby("currency"):
        group = _trailing(group.sort_values("month"))
        end_mrr = float(group["end_mrr"].iloc[-1])
        months = [add_months(last, k) for k in range(1, HORIZON + 1)]
        planned = scheduled[scheduled["currency"] == currency]
        per_month = dict(zip(pd.to_datetime(planned["month"]).dt.date, planned["scheduled_churn"]))
        cancels = [float(per_month.get(m, 0.0)) for m in months]
        best, worst = group.loc[group["growth"].idxmax()], group.loc[group["growth"].idxmin()]
        middle = _project(end_mrr, group["inflow"].mean(), group["outflow_rate"].mean(), cancels)
        high = _project(end_mrr, best["inflow"], best["outflow_rate"], cancels)
        low = _project(end_mrr, worst["inflow"], worst["outflow_rate"], cancels)
        rows.append((last, currency, "actual", end_mrr, end_mrr, end_mrr, 0.0))
        rows += [(m, currency, "projection", mid, lo, hi, c)
                 for m, mid, lo, hi, c in zip(months, middle, low, high, cancels)]
    df = pd.DataFrame(rows, columns=FORECAST_COLUMNS)
    df["month"] = pd.to_datetime(df["month"])
    return df
