"""The latest refunds and disputes, one row each (the Refunds & disputes page's lists).

Totals per month are `payments` and `disputes_by_reason` (metrics/payments.py).
"""
from __future__ import annotations

import pandas as pd

from metrics.common import add_months, first_of_month, month_range, sql_date
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric

RECENT = 200
COLUMNS = ["created", "id", "charge_id", "customer_id", "amount", "currency", "status", "reason"]


def _newest(con, params: Params, table: str, where: str) -> pd.DataFrame:
    """The newest RECENT rows of refunds or disputes, with the charge's customer."""
    df = con.execute(f"""
        SELECT t.created, t.id, t.charge_id, c.customer_id, t.amount, t.currency, t.status, t.reason
        FROM {table} t LEFT JOIN charges c ON c.id = t.charge_id
        WHERE {where}
        ORDER BY t.created DESC LIMIT {RECENT}""").df()
    if not params.currency or df.empty:
        return df[COLUMNS]
    # In the reporting currency, each at its month's rate; one row each still.
    df = convert_frame(con, df, params, ["amount"], [c for c in COLUMNS if c != "amount"], "created")
    return df.sort_values("created", ascending=False)[COLUMNS].reset_index(drop=True)


@metric("recent_refunds", f"The newest {RECENT} refunds, whatever the date range and filters",
        money=("amount",))
def recent_refunds(con, params: Params) -> pd.DataFrame:
    # Whatever the range: a refund made today shows at once.
    return _newest(con, params, "refunds", "true")


@metric("recent_disputes", f"The newest {RECENT} disputes opened in the date range "
        "(plan, interval and country filters do not apply)", money=("amount",))
def recent_disputes(con, params: Params) -> pd.DataFrame:
    if params.end is not None:
        start, end = params.start or params.end, params.end
    else:
        span = month_range(con, params)
        if span is None:
            return _newest(con, params, "disputes", "true")
        start, end = span
    after = add_months(first_of_month(end), 1)
    return _newest(con, params, "disputes",
                   f"t.created >= {sql_date(first_of_month(start))} AND t.created < {sql_date(after)}")
