"""Tax collected on paid invoices, by tax rate and paid month."""
from __future__ import annotations

import pandas as pd

from metrics.cash import between, created_range, grain, kept, with_filters
from metrics.common import frame, live_only
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric

TAX_COLUMNS = ["currency", "tax_rate_id", "jurisdiction", "country", "state", "rate",
               "tax_collected", "taxable_amount"]


@metric("tax", "Tax collected on paid invoices by tax rate (jurisdiction, country, rate) and paid month",
        money=("tax_collected", "taxable_amount"))
def tax(con, params: Params) -> pd.DataFrame:
    g = grain(params)
    columns = [g] + TAX_COLUMNS
    bounds = created_range(con, params, "invoices", "coalesce(paid_at, created)")
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    sql = f"""
SELECT date_trunc('{g}', coalesce(i.paid_at, i.created))::DATE AS "{g}",
       lower(coalesce(t.currency, i.currency)) AS currency, t.tax_rate_id,
       r.jurisdiction, r.country, r.state, r.percentage AS rate,
       sum(t.amount) AS tax_collected, sum(t.taxable_amount) AS taxable_amount
FROM invoice_line_taxes t
JOIN invoices i ON i.id = t.invoice_id
LEFT JOIN tax_rates r ON r.id = t.tax_rate_id
WHERE i.status = 'paid' AND {live_only('invoices', 'i')}
  AND {between('coalesce(i.paid_at, i.created)', bounds)} {kept(params, invoice='i.id')}
GROUP BY ALL ORDER BY 1, 2, tax_collected DESC"""
    df = frame(con, with_filters(params, sql), columns)
    return convert_frame(con, df, params, ["tax_collected", "taxable_amount"],
                         [g, "currency", "tax_rate_id", "jurisdiction", "country", "state", "rate"], g)
