"""Invoice lines MRR cannot value as METRICS.md says: reported, never dropped silently.

A line that looks counted (open or paid invoice, part of a subscription) but
whose price the database lacks cannot be valued: its interval and usage type
are the price's. It is left out of MRR and listed here, with the MRR it would
carry estimated from its own period (one period taken as one month's worth:
net x 30.4375 days / period). A credit proration whose credited line is
missing is counted (its full period falls back to rules 2 and 3) and listed
too. The CLI prints a summary on stderr and the Sync page shows it.
"""
from __future__ import annotations

import pandas as pd

from metrics.common import live_only
from metrics.currency import format_money
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric

COLUMNS = ["month", "invoice_id", "line_id", "price_id", "currency", "problem", "estimated_mrr"]
# problem -> what the summary calls such lines
PROBLEMS = {"unknown_price": "invoice lines with unknown prices",
            "no_price": "invoice lines with unknown prices",
            "credited_line_missing": "proration credits whose credited line is missing"}
MONTH_SECONDS = 2629800  # 365.25 / 12 days

SQL = f"""
WITH lines AS (
    SELECT l.invoice_id, l.id AS line_id, l.price_id, l.period_start, l.period_end,
           lower(coalesce(l.currency, i.currency)) AS currency,
           coalesce(l.amount, 0) - coalesce(l.discount_amount, 0)
               - coalesce(l.inclusive_tax_amount, 0) AS net,
           CASE WHEN l.price_interval IS NOT NULL THEN NULL  -- old shapes embed the price
                WHEN l.price_id IS NULL AND coalesce(l.kind, 'subscription') = 'subscription'
                    THEN 'no_price'
                WHEN l.price_id IS NOT NULL AND p.id IS NULL THEN 'unknown_price'
                WHEN coalesce(l.proration, false) AND l.credited_line_id IS NOT NULL
                     AND r.id IS NULL THEN 'credited_line_missing' END AS problem
    FROM invoice_lines l
    JOIN invoices i ON i.id = l.invoice_id
    LEFT JOIN prices p ON p.id = l.price_id
    LEFT JOIN invoice_lines r ON r.invoice_id = l.credited_invoice_id AND r.id = l.credited_line_id
    WHERE i.status IN ('open', 'paid') AND {live_only('invoices', 'i')}
      AND l.subscription_id IS NOT NULL
)
SELECT date_trunc('month', period_start)::DATE AS month, invoice_id, line_id, price_id,
       currency, problem,
       CASE WHEN period_end > period_start
            THEN net * {MONTH_SECONDS}.0 / (epoch(period_end) - epoch(period_start))
            ELSE net END AS estimated_mrr
FROM lines WHERE problem IS NOT NULL
ORDER BY month, invoice_id, line_id"""


@metric("unknown_price_lines",
        "Invoice lines MRR cannot value (price missing from the database, or a credit's "
        "credited line missing), with the MRR each would carry", money=("estimated_mrr",))
def unknown_price_lines(con, params: Params) -> pd.DataFrame:
    df = con.execute(SQL).df()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    df = df[COLUMNS]
    keys = [c for c in COLUMNS if c != "estimated_mrr"]
    return convert_frame(con, df, params, ["estimated_mrr"], keys)[COLUMNS].reset_index(drop=True)


def summary(df: pd.DataFrame) -> list[str]:
    """One line per kind of problem and currency, for people (CLI stderr, Sync page)."""
    lines = []
    for (kind, currency), group in df.groupby([df["problem"].map(PROBLEMS), "currency"],
                                              dropna=False, sort=True):
        months = sorted(pd.to_datetime(group["month"]).dt.strftime("%Y-%m").unique())
        span = months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"
        affected = format_money(group["estimated_mrr"].abs().sum(), str(currency or ""))
        lines.append(f"{len(group):,} {kind} (affecting about {affected} of MRR in {span})"
                     " — run a full sync")
    return lines


def warnings(con) -> list[str]:
    """The summary for a database, natively per currency."""
    df = unknown_price_lines(con, Params())
    return summary(df) if not df.empty else []
