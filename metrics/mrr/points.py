"""Run the MRR chain with the right range and, when asked, a reporting currency.

`reported_points` gives per-customer MRR at each period end in native
currencies, or converted (at the period's month rate) into `params.currency`.
Rates are registered on a private cursor, so concurrent dashboard sessions
sharing one connection do not see each other's tables.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics import fx
from metrics.common import add_months, sql_date, sql_text
from metrics.mrr import stage_cache, stored_stages
from metrics.mrr.chain_sql import mrr_ctes, native_movements_ctes
from metrics.params import Params


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def cursor_for(con, params: Params, first: dt.date, last: dt.date):
    """A cursor with `fx_factors(currency, month, factor)` when converting."""
    cur = con.cursor()
    if params.currency:
        currencies = [r[0] for r in cur.execute(
            "SELECT DISTINCT lower(currency) FROM invoices WHERE currency IS NOT NULL").fetchall()]
        rates = fx.factors(cur, currencies, months_between(add_months(first, -1), last),
                           params.currency.lower())
        cur.register("fx_factors", rates)
    return cur


def chain_sql(cur, params: Params, last: dt.date, grain: str = "month",
              first: dt.date | None = None, dimension: str | None = None,
              movements: bool = False) -> str:
    """`WITH valued, sub_points, customer_points[, native_movements]`.

    Month ends come from the cache when the database is a file (its tables are
    registered on `cur`, or stored in the database); otherwise the query
    computes them, from the stored valued lines when they match the database. Cached tables hold
    full history up to at least `last`: they are cut at `last` here, and callers
    filter the start.
    """
    cached = (stage_cache.monthly_tables(cur, params, last, dimension, movements)
              if grain == "month" else None)
    if cached is None:
        chain = mrr_ctes(params, last, grain, first, dimension, stored_stages.valued_cte(cur, params))
        return chain + native_movements_ctes(last) if movements else chain
    source = {name: stage_cache.stage(cur, cached, name)
              for name in ("valued", "sub_points", "customer_points", "native_movements")
              if name in cached}
    chain = (f"WITH valued AS (SELECT * FROM {source['valued']}),\n"
             f"sub_points AS (SELECT * FROM {source['sub_points']} WHERE period <= {sql_date(last)}),\n"
             f"customer_points AS (SELECT * FROM {source['customer_points']} "
             f"WHERE period <= {sql_date(last)})")
    if movements:
        chain += (f",\nnative_movements AS (SELECT * FROM {source['native_movements']} "
                  f"WHERE month <= {sql_date(last)})")
    return chain


def reported_points_sql(cur, params: Params, last: dt.date, grain: str = "month",
                        first: dt.date | None = None, dimension: str | None = None) -> str:
    """`WITH ... points(customer_id, currency, dimension, period, mrr)`."""
    chain = chain_sql(cur, params, last, grain, first, dimension)
    if not params.currency:
        return chain + ",\npoints AS (SELECT * FROM customer_points)"
    return chain + f""",
points AS (
    SELECT cp.customer_id, {sql_text(params.currency.lower())} AS currency, cp.dimension,
           cp.period, sum(cp.mrr * f.factor) AS mrr
    FROM customer_points cp
    JOIN fx_factors f ON f.currency = cp.currency
     AND f.month = date_trunc('month', cp.period)::DATE
    GROUP BY ALL
)"""


def full_history_first(con) -> dt.date | None:
    first = con.execute("SELECT min(period_start)::DATE FROM invoice_lines").fetchall()[0][0]
    return first.replace(day=1) if first else None


def convert_frame(con, df, params: Params, money: list[str], keys: list[str],
                  month_column: str = "month"):
    """Convert native money columns of `df` to params.currency and re-sum by `keys`.

    For cash metrics (charges, refunds, tax...): each amount at its month's rate.
    Count columns (everything numeric that is not money) are summed as they are.
    """
    if not params.currency or df.empty:
        return df
    months = sorted({m.replace(day=1) for m in pd.to_datetime(df[month_column]).dt.date})
    rates = fx.factors(con, sorted(df["currency"].unique()), months, params.currency.lower())
    rates["month"] = pd.to_datetime(rates["month"])
    df = df.assign(_month=pd.to_datetime(df[month_column]).dt.to_period("M").dt.to_timestamp())
    df = df.merge(rates.rename(columns={"month": "_month"}), on=["currency", "_month"])
    for column in money:
        df[column] = df[column].astype(float) * df["factor"]
    df["currency"] = params.currency.lower()
    numeric = [c for c in df.columns if c not in keys and c not in ("_month", "factor")
               and pd.api.types.is_numeric_dtype(df[c])]
    return df.groupby(keys, as_index=False, dropna=False)[numeric].sum()
