"""Run the MRR chain with the right range and, when asked, a reporting currency.

`reported_points` gives per-customer MRR at each period end in native
currencies, or converted (at the period's month rate) into `params.currency`.
Rates are registered on a private cursor, so concurrent dashboard sessions
sharing one connection do not see each other's tables.
"""
from __future__ import annotations

import datetime as dt

from metrics import fx
from metrics.common import add_months, sql_text
from metrics.mrr_sql import mrr_ctes
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


def reported_points_sql(params: Params, last: dt.date, grain: str = "month",
                        first: dt.date | None = None, dimension: str | None = None) -> str:
    """`WITH ... points(customer_id, currency, dimension, period, mrr)`."""
    chain = mrr_ctes(params, last, grain, first, dimension)
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
    first = con.execute("SELECT min(period_start)::DATE FROM invoice_lines").fetchone()[0]
    return first.replace(day=1) if first else None
