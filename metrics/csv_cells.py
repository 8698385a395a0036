"""CSV cells a spreadsheet cannot turn into formulas: one rule for every exporter.

A text cell starting with `=`, `+`, `-` or `@` runs as a formula when the CSV
is opened (a customer named `=HYPERLINK(...)` becomes a live link); spreadsheets
also skip leading spaces, tabs and line breaks before deciding, and some treat
a leading tab or carriage return itself as a formula start. Such text gets a
leading apostrophe, which spreadsheets show as plain text. Only `str` cells are
touched: numbers stay numbers, also inside mixed (object) columns.
"""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@")
CONTROL_STARTS = ("\t", "\r")
LEADING_BLANKS = " \t\r\n\v\f\u00a0"


def neutralise(value):
    """`value` with a leading apostrophe if it is text a spreadsheet would run; else unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith(CONTROL_STARTS) or value.lstrip(LEADING_BLANKS).startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_column(values: pd.Series) -> pd.Series:
    """A column with its text cells neutralised; numeric, date and boolean columns as they are."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    elif not (values.dtype == object or pd.api.types.is_string_dtype(values)):
        return values
    return values.map(neutralise)
