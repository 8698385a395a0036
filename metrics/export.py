"""A metric's frame as CSV or JSON: money in major units, months as YYYY-MM."""
from __future__ import annotations

import csv
import io
import math
from decimal import Decimal

import orjson
import pandas as pd

from metrics.csv_cells import neutralise
from metrics.currency import to_major
from metrics.registry import Metric

MONTH_COLUMNS = ("month", "cohort")
DATE_COLUMNS = ("date", "day", "week")


def _money(value, currency: str):
    """Minor units (possibly fractional: $10/week is 4333.33 cents) to major, rounded."""
    if value is None or pd.isna(value):
        return None
    return to_major(round(float(value), 6), currency)


def export_rows(metric: Metric, df: pd.DataFrame) -> tuple[list[str], list[list]]:
    """Header and rows with display values (Decimal money, YYYY-MM months)."""
    columns = list(df.columns)
    rows = []
    for record in df.itertuples(index=False):
        values = dict(zip(columns, record))
        row = []
        for name in columns:
            value = values[name]
            if name in metric.money_columns:
                row.append(_money(value, values.get("currency") or ""))
            elif name in MONTH_COLUMNS and not pd.isna(value):
                row.append(pd.Timestamp(value).strftime("%Y-%m"))
            elif name in DATE_COLUMNS and not pd.isna(value):
                row.append(pd.Timestamp(value).strftime("%Y-%m-%d"))
            elif isinstance(value, float):
                row.append(None if math.isnan(value) else round(value, 6))
            elif value is pd.NA or value is None or value is pd.NaT:  # NaT: a time never set
                row.append(None)
            else:
                row.append(value.item() if hasattr(value, "item") else value)
        rows.append(row)
    return columns, rows


def to_csv(metric: Metric, df: pd.DataFrame) -> str:
    columns, rows = export_rows(metric, df)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else neutralise(_plain(v)) for v in row])
    return out.getvalue()


def _plain(value):
    """A fraction as digits (0.00005), never in scientific notation (5e-05)."""
    if isinstance(value, float) and "e" in repr(value):
        return format(value, ".6f").rstrip("0").rstrip(".") or "0"
    return value


def to_json(metric: Metric, df: pd.DataFrame) -> str:
    columns, rows = export_rows(metric, df)
    records = [{c: (float(v) if isinstance(v, Decimal) else v) for c, v in zip(columns, row)}
               for row in rows]
    return orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n"
