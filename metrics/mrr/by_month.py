"""MRR and ARR: by month, by day or week, and broken down by plan, interval, country."""
from __future__ import annotations

import pandas as pd

from metrics.common import frame, month_range, sql_date
from metrics.mrr.points import cursor_for, reported_points_sql
from metrics.params import Params
from metrics.registry import metric

MRR_COLUMNS = ["month", "currency", "mrr", "arr", "customers", "arpa"]


def _mrr_by(con, params: Params, dimension: str | None, columns: list[str]) -> pd.DataFrame:
    span = month_range(con, params)
    if span is None:
        return frame(con, "SELECT 1 WHERE false", columns)
    first, last = span
    cur = cursor_for(con, params, first, last)
    # points hold one row per customer and month (and dimension): count(*) counts customers
    sql = reported_points_sql(cur, params, last, "month", first, dimension) + f"""
SELECT period AS month, currency, dimension, sum(mrr) AS mrr, 12 * sum(mrr) AS arr,
       count(*) AS customers, sum(mrr) / count(*) AS arpa
FROM points
WHERE period BETWEEN {sql_date(first)} AND {sql_date(last)}
GROUP BY ALL ORDER BY month, currency, dimension"""
    result = cur.execute(sql).df()
    if dimension:
        result = result.rename(columns={"dimension": dimension})
    if result.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return result[columns].reset_index(drop=True)


@metric("mrr", "Monthly recurring revenue, ARR, active customers and ARPA at each month end",
        money=("mrr", "arr", "arpa"))
def mrr(con, params: Params) -> pd.DataFrame:
    return _mrr_by(con, params, None, MRR_COLUMNS)


@metric("mrr_by_plan", "MRR and customers at each month end by plan (product)",
        money=("mrr", "arr"))
def mrr_by_plan(con, params: Params) -> pd.DataFrame:
    result = _mrr_by(con, params, "product_id",
                     ["month", "currency", "product_id", "mrr", "arr", "customers"])
    names = dict(con.execute("SELECT id, name FROM products").fetchall())
    result.insert(3, "product_name", [names.get(p) for p in result["product_id"]])
    return result


@metric("mrr_by_interval", "MRR and customers at each month end by billing interval",
        money=("mrr", "arr"))
def mrr_by_interval(con, params: Params) -> pd.DataFrame:
    return _mrr_by(con, params, "interval", ["month", "currency", "interval", "mrr", "arr", "customers"])


@metric("mrr_by_country", "MRR and customers at each month end by customer country",
        money=("mrr", "arr"))
def mrr_by_country(con, params: Params) -> pd.DataFrame:
    return _mrr_by(con, params, "country", ["month", "currency", "country", "mrr", "arr", "customers"])
