"""Find customers by name, email or id (the Customers page's search box)."""
from __future__ import annotations

import pandas as pd

from metrics.params import Params
from metrics.registry import metric

COLUMNS = ["id", "name", "email", "country", "created"]


@metric("customer_search", "Customers (not deleted) whose id is extra text, or whose name or email "
        "contains it (any case); the newest 50")
def customer_search(con, params: Params) -> pd.DataFrame:
    text = str(params.extra.get("text") or "").strip()
    if not text:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    # contains(), not LIKE: % and _ in the search are plain text.
    return con.execute("""
        SELECT id, name, email, country, created FROM customers
        WHERE NOT coalesce(deleted, false)
          AND (id = ? OR contains(lower(name), ?) OR contains(lower(email), ?))
        ORDER BY created DESC LIMIT 50""", [text, text.lower(), text.lower()]).df()
