"""Segments: filters and splits by the metadata founders keep on Stripe objects.

A condition is (object type, key, values): lines of customers, subscriptions
or products whose metadata `key` is one of `values` ("" = the key is not
set). Conditions on different keys all hold; values of one key are
alternatives. Metadata is read from each object's raw JSON at query time,
only for the ids a filter picks: a cast to MAP is ~0.3 s per 100,000 objects,
and MRR's stored lines carry the customer, subscription and product ids.

A split runs a metric once per value of the key (each a filter), so every
metric splits the same way and a segment's numbers are exactly what the same
filter shows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd

from metrics.common import MetricError, frame, sql_list, sql_text
from metrics.params import Condition, Params
from metrics.registry import metric

# Object type -> (table, the id column of an MRR line that names it).
OBJECTS = {"customer": ("customers", "customer_id"),
           "subscription": ("subscriptions", "subscription_id"),
           "product": ("products", "product_id")}
NOT_SET = ""  # the value of a key an object does not carry
NOT_SET_LABEL = "(not set)"
SEGMENTS_TABLE = "saved_segments"
MAX_NAME = 60


def metadata(alias: str = "") -> str:
    """An object's metadata as MAP(VARCHAR, VARCHAR) (Stripe's values are strings)."""
    raw = f"{alias}.raw" if alias else "raw"
    return f"CAST(json_extract({raw}, '$.metadata') AS MAP(VARCHAR, VARCHAR))"


def _ids_sql(condition: Condition) -> str:
    object_type, key, values = condition
    table = OBJECTS[object_type][0]
    value = f"{metadata()}[{sql_text(key)}]"
    tests = []
    if any(v != NOT_SET for v in values):
        tests.append(f"{value} IN {sql_list(v for v in values if v != NOT_SET)}")
    if NOT_SET in values:
        tests.append(f"{value} IS NULL")
    return f"SELECT id FROM {table} WHERE {' OR '.join(tests)}"


def where_sql(params: Params, alias: str = "v") -> str:
    """` AND ...` conditions on lines (`alias` has customer_id, subscription_id, product_id).

    Lines of a customer missing from `customers` (or a subscription or product)
    have no metadata: only a "not set" filter keeps them."""
    parts = []
    for condition in params.where:
        column = f"{alias}.{OBJECTS[condition[0]][1]}"
        picked = f"{column} IN ({_ids_sql(condition)})"
        if NOT_SET in condition[2]:
            table = OBJECTS[condition[0]][0]
            picked = f"({picked} OR {column} NOT IN (SELECT id FROM {table}) OR {column} IS NULL)"
        parts.append(picked)
    return "".join(f" AND {p}" for p in parts)


# --- what the data offers ----------------------------------------------------

SEGMENT_COLUMNS = ["object_type", "key", "value", "objects"]


@metric("segment_values", "Metadata keys on customers, subscriptions and products, with each "
        "value and how many objects carry it (most common first)")
def segment_values(con, params: Params) -> pd.DataFrame:
    parts = [f"""SELECT '{object_type}' AS object_type, e.key, e.value
                 FROM (SELECT unnest(map_entries({metadata()})) AS e FROM {table}
                       WHERE NOT coalesce(deleted, false))"""
             for object_type, (table, _) in OBJECTS.items()]
    sql = f"""
WITH pairs AS ({" UNION ALL ".join(parts)}),
counted AS (SELECT object_type, key, value, count(*) AS objects FROM pairs
            WHERE value IS NOT NULL AND value <> '' GROUP BY ALL)
SELECT *, sum(objects) OVER (PARTITION BY object_type, key) AS key_objects FROM counted
ORDER BY array_position(['customer', 'subscription', 'product'], object_type),
         key_objects DESC, key, objects DESC, value"""
    return frame(con, sql, SEGMENT_COLUMNS)


def values_of(con, object_type: str, key: str) -> list[str]:
    """The values of one key, most common first (one key: cheaper than segment_values)."""
    rows = con.execute(f"""
        SELECT value FROM (SELECT {metadata()}[?] AS value FROM {OBJECTS[object_type][0]}
                           WHERE NOT coalesce(deleted, false))
        WHERE value IS NOT NULL AND value <> '' GROUP BY value ORDER BY count(*) DESC, value""",
                       [key]).fetchall()
    return [row[0] for row in rows]


# --- splitting ------------------------------------------------------------------

def split(con, function, params: Params) -> pd.DataFrame:
    """`function` once per value of params.split_by (and once for "not set"),
    stacked with a `segment` column after the month (or first)."""
    if params.split_by is None:
        return function(con, params)
    object_type, key = params.split_by
    parts = []
    for value in values_of(con, object_type, key) + [NOT_SET]:
        narrowed = _with_condition(params, (object_type, key, (value,)))
        part = function(con, dataclasses.replace(narrowed, split_by=None))
        if part.empty:
            continue
        position = list(part.columns).index("month") + 1 if "month" in part.columns else 0
        part.insert(position, "segment", value or NOT_SET_LABEL)
        parts.append(part)
    if not parts:
        empty = function(con, dataclasses.replace(params, split_by=None))
        empty.insert(0, "segment", pd.Series(dtype="object"))
        return empty
    return pd.concat(parts, ignore_index=True)


def _with_condition(params: Params, condition: Condition) -> Params:
    """A split value on top of the filters; a filter on the same key keeps only
    the values both allow (so the split of a filtered view adds up to it)."""
    object_type, key, values = condition
    kept = []
    for other in params.where:
        if other[:2] == (object_type, key):
            values = tuple(v for v in values if v in other[2])
        else:
            kept.append(other)
    if not values:
        values = ("\0none",)  # no object carries this value: an empty segment
    return dataclasses.replace(params, where=tuple(kept) + ((object_type, key, values),))


# --- text forms: CLI --where, the URL, saved segments -----------------------

def parse_target(text: str) -> tuple[str, str]:
    """`customer.key`, `subscription.key`, `product.key` or a bare key (a customer's)."""
    text = text.strip()
    head, dot, rest = text.partition(".")
    object_type, key = (head, rest) if dot and head in OBJECTS else ("customer", text)
    if not key.strip():
        raise MetricError(f"bad metadata key {text!r}: use key, customer.key, subscription.key "
                          "or product.key")
    return object_type, key.strip()


def parse_where(texts) -> tuple[Condition, ...]:
    """`[customer.|subscription.|product.]key=value` items; values of one key combine."""
    merged: dict[tuple[str, str], list[str]] = {}
    for text in texts:
        target, equals, value = text.partition("=")
        if not equals or not value.strip():
            raise MetricError(f"bad --where {text!r}: use key=value, e.g. channel=partner or "
                              "subscription.tier=gold")
        values = merged.setdefault(parse_target(target), [])
        if value.strip() not in values:
            values.append(value.strip())
    return tuple((o, k, tuple(v)) for (o, k), v in merged.items())


def where_texts(where: tuple[Condition, ...]) -> list[str]:
    """The inverse of parse_where: one `object.key=value` per value."""
    return [f"{o}.{k}={v}" for o, k, values in where for v in values]


def describe(where: tuple[Condition, ...]) -> str:
    return "; ".join(f"{o} {k} = {' or '.join(v or NOT_SET_LABEL for v in values)}"
                     for o, k, values in where)


# --- saved segments ---------------------------------------------------------------

SEGMENTS_DDL = f"""CREATE TABLE IF NOT EXISTS {SEGMENTS_TABLE} (
    name VARCHAR PRIMARY KEY, conditions JSON, saved_at TIMESTAMP, saved_by VARCHAR)"""


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValueError("Give the segment a name.")
    if len(name) > MAX_NAME:
        raise ValueError(f"A segment name has at most {MAX_NAME} characters.")
    if name[0] in "=+-@" or any(c in name for c in "<>"):
        raise ValueError("A segment name cannot start with = + - @ or contain < or >.")
    return name


def save_segment(con, name: str, where: tuple[Condition, ...], saved_by: str = "") -> None:
    """Store (or replace) a named segment; called inside a dashboard write."""
    if not where:
        raise ValueError("Choose at least one metadata filter to save as a segment.")
    con.execute(SEGMENTS_DDL)
    con.execute(f"INSERT OR REPLACE INTO {SEGMENTS_TABLE} VALUES (?, ?, ?, ?)",
                [clean_name(name), json.dumps(where_texts(where)),
                 dt.datetime.now(dt.UTC).replace(tzinfo=None), saved_by])


@metric("saved_segments", "Segments saved under a name in the dashboard, with their metadata filters")
def saved_segments(con, params: Params) -> pd.DataFrame:
    columns = ["name", "conditions", "saved_at", "saved_by"]
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                         [SEGMENTS_TABLE]).fetchall()[0][0]
    if not exists:
        return frame(con, "SELECT 1 WHERE false", columns)
    return frame(con, f"SELECT name, conditions::VARCHAR AS conditions, saved_at, saved_by "
                      f"FROM {SEGMENTS_TABLE} ORDER BY lower(name)", columns)


def saved_where(conditions: str) -> tuple[Condition, ...]:
    """A saved segment's `conditions` column back as Params.where."""
    return parse_where(json.loads(conditions))
