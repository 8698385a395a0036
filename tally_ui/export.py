"""CSV exports that a spreadsheet cannot turn into formulas.

Text cells that would run as formulas get a leading apostrophe (the rule lives
in metrics.csv_cells, shared with the metrics CLI export); numbers stay numbers.
A metric's CSV is the CLI's own (`metrics.export.to_csv`), byte for byte.
"""
from __future__ import annotations

import pandas as pd

from metrics.csv_cells import neutralise_column
from metrics.currency import exponent


def money_to_major(frame: pd.DataFrame, money_columns) -> pd.DataFrame:
    """Minor units -> major units per row's currency (JPY stays as is)."""
    present = [c for c in money_columns if c in frame.columns]
    if not present or frame.empty:
        return frame
    out = frame.copy()
    if "currency" in out.columns:
        scale = out["currency"].map(lambda c: 10 ** exponent(c or ""))
    else:
        scale = 100
    for column in present:
        out[column] = pd.to_numeric(out[column], errors="coerce") / scale
    return out


def csv_bytes(frame: pd.DataFrame, money_columns=()) -> bytes:
    """The frame as UTF-8 CSV: money in major units, text cells neutralised."""
    out = money_to_major(frame, money_columns).copy()
    for column in out.columns:
        out[column] = neutralise_column(out[column])
    return out.to_csv(index=False).encode("utf-8")


def metric_csv(name: str, frame: pd.DataFrame) -> bytes:
    """A metric's CSV exactly as `python -m metrics export NAME` writes it for the same
    parameters: YYYY-MM months, money rounded to the currency's exponent, rates to 6 decimals."""
    from metrics.export import to_csv
    from metrics.registry import METRICS
    return to_csv(METRICS[name], frame).encode("utf-8")
