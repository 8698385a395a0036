"""Annotations: a dated short note ("price change") that every time chart marks.

Entered in the dashboard, stored in the `annotations` table beside the synced
data (a sync never touches it). The text is checked here before it is stored:
it is shown in charts, tables and CSV exports, so it must be plain, short text
that no browser or spreadsheet would run.
"""
from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd

from metrics.common import MetricError, has_table
from metrics.params import Params
from metrics.registry import metric

MAX_TEXT = 200
MARKUP = "<>"
# A cell starting with one of these is a formula to a spreadsheet opening the CSV export.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ["annotation_id", "day", "text", "created_at", "created_by"]


# Metrics own this table: created with the first annotation, read as empty before.
ANNOTATIONS_DDL = """CREATE TABLE IF NOT EXISTS annotations (
    annotation_id VARCHAR, day DATE, text VARCHAR, created_at TIMESTAMP, created_by VARCHAR)"""


def clean_text(text) -> str:
    """The text to store, or MetricError saying in plain words what is wrong with it."""
    text = "" if text is None else str(text).strip()
    if not text:
        raise MetricError("Write a short text for the annotation, e.g. “price change”.")
    if len(text) > MAX_TEXT:
        raise MetricError(f"Keep the text to {MAX_TEXT} characters or fewer (this one has {len(text)}).")
    if any(c in text for c in MARKUP):
        raise MetricError("The text cannot contain < or >: it is shown as plain text, never as markup.")
    if text.startswith(FORMULA_START):
        raise MetricError("The text cannot start with =, +, -, or @: a spreadsheet opening the export "
                          "would run it as a formula.")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise MetricError("Keep the text on one line, without control characters.")
    return text


def clean_day(day) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(str(day).strip())
    except ValueError:
        raise MetricError("The date must look like 2026-03-15.") from None


def add_annotation(con, day, text, author: str) -> str:
    """Store one annotation (inside the caller's transaction); returns its id."""
    row = (f"note_{uuid.uuid4().hex[:12]}", clean_day(day), clean_text(text),
           dt.datetime.now(dt.UTC).replace(tzinfo=None), author)
    con.execute(ANNOTATIONS_DDL)
    con.execute("INSERT INTO annotations (annotation_id, day, text, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)", row)
    return row[0]


def delete_annotation(con, annotation_id: str) -> None:
    con.execute(ANNOTATIONS_DDL)
    gone = con.execute("DELETE FROM annotations WHERE annotation_id = ? RETURNING annotation_id",
                       [annotation_id]).fetchall()
    if not gone:
        raise MetricError("That annotation no longer exists (someone removed it already).")


@metric("annotations", "Dated notes shown as markers on every time chart (all of them; no filters apply)")
def annotation_list(con, params: Params) -> pd.DataFrame:
    """Every annotation, oldest first. Filters and ranges do not apply: a note is about the whole business."""
    if not has_table(con, "annotations"):  # no goal saved yet
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    return con.execute(f"SELECT {', '.join(COLUMNS)} FROM annotations "
                       "ORDER BY day, created_at, annotation_id").df()
