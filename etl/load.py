"""Write Stripe objects into DuckDB: Arrow batches upserted with MERGE.

The live sync and the demo generator both call `load_objects`; neither the
tables nor the metrics can tell where an object came from. The caller owns the
transaction, so a sync can write a page and its checkpoint atomically.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from etl.schedule_phases import phase_item_rows, replace_phase_items
from etl.schema import API_VERSION, TABLES, Table, create_tables

if TYPE_CHECKING:
    import duckdb

ARROW_TYPES = {
    "VARCHAR": pa.string(), "JSON": pa.string(), "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us"),
}
RAW_JSON = pa.json_(pa.string())
# Which table a list of objects belongs to, by the API's `object` value.
# Plans (the pre-Prices API, which localstripe speaks) load as prices.
OBJECT_TABLES = {t.object: t.name for t in TABLES.values()} | {"plan": "prices"}


def connect(db_path: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    import duckdb  # here, not above: the sync's page converter needs no DuckDB (etl/convert.py)

    con = duckdb.connect(db_path, read_only=read_only)
    if not read_only:
        create_tables(con)
    return con


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _arrow_value(sql_type: str, value):
    if value is None:
        return None
    if sql_type == "TIMESTAMP":
        return int(value) * 1_000_000
    if sql_type == "BIGINT":
        return int(value)
    if sql_type == "DOUBLE":
        return float(value)
    if sql_type == "BOOLEAN":
        return bool(value)
    if sql_type == "VARCHAR" and not isinstance(value, str):
        return str(value)
    return value


def _read_column(column, objects: list[dict]) -> list:
    """The column's raw values; plain field reads (most columns) without a call per object."""
    keys = getattr(column.read, "keys", None)
    if not keys:
        return [column.read(o) for o in objects]
    values = [o.get(keys[0]) for o in objects]
    for key in keys[1:]:  # nested: anything but an object along the way reads as None
        values = [v.get(key) if isinstance(v, dict) else None for v in values]
    return values


def _column_array(column, objects: list[dict]) -> pa.Array:
    """Arrow converts the usual values (int, str, bool) itself; anything it refuses
    (a bool for a number, a number for a string...) goes through `_arrow_value`."""
    values = _read_column(column, objects)
    try:
        if column.sql_type == "TIMESTAMP":
            seconds = pa.array(values, pa.int64())
            return pc.multiply_checked(seconds, 1_000_000).cast(pa.timestamp("us"))
        return pa.array(values, ARROW_TYPES[column.sql_type])
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        values = [_arrow_value(column.sql_type, v) for v in values]
        if column.sql_type == "TIMESTAMP":
            return pa.array(values, pa.int64()).cast(pa.timestamp("us"))
        return pa.array(values, ARROW_TYPES[column.sql_type])


def rows_to_arrow(table: Table, objects: list[dict], synced_at: dt.datetime,
                  api_version: str | None) -> pa.Table:
    """Typed columns plus bookkeeping for each object, newest duplicate kept."""
    newest: dict[tuple, dict] = {}
    for obj in objects:  # later objects win: callers pass oldest first
        newest[tuple(obj.get(k) for k in table.key)] = obj
    objects = list(newest.values())
    arrays = {column.name: _column_array(column, objects) for column in table.columns}
    synced_us = int(synced_at.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)
    arrays["livemode"] = pa.array([bool(o.get("livemode", False)) for o in objects], pa.bool_())
    arrays["deleted"] = pa.array([bool(o.get("deleted", False)) for o in objects], pa.bool_())
    arrays["api_version"] = pa.array([api_version] * len(objects), pa.string())
    arrays["synced_at"] = pa.array([synced_us] * len(objects), pa.int64()).cast(pa.timestamp("us"))
    # Arrow's JSON type: DuckDB takes it as JSON without parsing it again (orjson wrote it).
    arrays["raw"] = pa.array([orjson.dumps(o).decode() for o in objects], RAW_JSON)
    return pa.table(arrays)


def merge(con, table: Table, batch: pa.Table, upsert: bool = True) -> None:
    """Upsert by key: delete the batch's keys, insert the batch (one transaction).

    Not `MERGE INTO`: with the tables unindexed it builds its hash join over
    the whole target, so its cost grows with the table (seconds per batch at
    tens of thousands of rows under a memory limit); this stays flat.
    `upsert=False` only inserts: for writers that know the keys are new.
    """
    if batch.num_rows == 0:
        return
    on = " AND ".join(f't."{k}" = s."{k}"' for k in table.key)
    con.register("_tally_batch", batch)
    try:
        if upsert:
            con.execute(f"DELETE FROM {table.name} AS t USING _tally_batch AS s WHERE {on}")
        con.execute(f"INSERT INTO {table.name} BY NAME SELECT * FROM _tally_batch")
    finally:
        con.unregister("_tally_batch")


def load_objects(con, table_name: str, objects: Iterable[dict], *,
                 synced_at: dt.datetime | None = None,
                 api_version: str | None = API_VERSION,
                 invoice_id: str | None = None) -> int:
    """Upsert objects of one type (and their embedded children). Returns rows written.

    `invoice_id` is for lines paged from `/v1/invoices/{id}/lines`, which in
    older shapes do not name their invoice.
    """
    prepared = prepare_objects(table_name, objects, synced_at=synced_at,
                               api_version=api_version, invoice_id=invoice_id)
    return write_prepared(con, prepared) if prepared else 0


@dataclass
class Prepared:
    """Rows of one object type and their children, converted and ready to upsert.

    Building these needs no connection (nor DuckDB), so the sync converts
    pages in a worker process while its writer thread is inside DuckDB.
    """
    table: str
    rows: pa.Table
    ids: list  # keys of the objects, in order
    count: int  # objects given (before duplicates were dropped)
    items: pa.Table | None = None  # subscriptions: their items replace the old set
    lines: "Prepared | None" = None  # invoices: their embedded lines
    line_keys: pa.Table | None = None  # invoice_lines: whose taxes are replaced
    line_taxes: pa.Table | None = None
    phase_items: pa.Table | None = None  # subscription schedules: their phases' items, replaced

    @property
    def nbytes(self) -> int:
        """Memory its Arrow buffers take (what the sync's queue bounds)."""
        tables = (self.rows, self.items, self.line_keys, self.line_taxes, self.phase_items)
        return sum(t.nbytes for t in tables if t is not None) + (self.lines.nbytes if self.lines else 0)


def prepare_objects(table_name: str, objects: Iterable[dict], *,
                    synced_at: dt.datetime | None = None,
                    api_version: str | None = API_VERSION,
                    invoice_id: str | None = None) -> Prepared | None:
    """The Arrow rows `load_objects` would write; None for no objects."""
    table = TABLES[table_name]
    objects = list(objects)
    if not objects:
        return None
    synced_at = synced_at or _utc_now()
    if table_name == "invoice_lines":
        objects = [_with_invoice(line, invoice_id or line.get("invoice")) for line in objects]
    prepared = Prepared(table_name, rows_to_arrow(table, objects, synced_at, api_version),
                        [tuple(o.get(k) for k in table.key) if len(table.key) > 1 else o.get("id")
                         for o in objects], len(objects))
    if table_name == "subscriptions":
        prepared.items = _subscription_items(objects, synced_at, api_version)
    elif table_name == "invoices":
        lines = [_with_invoice(line, inv["id"]) for inv in objects
                 for line in ((inv.get("lines") or {}).get("data") or [])]
        prepared.lines = prepare_objects("invoice_lines", lines, synced_at=synced_at,
                                         api_version=api_version)
    elif table_name == "invoice_lines":
        prepared.line_keys, prepared.line_taxes = _line_tax_rows(objects)
    elif table_name == "subscription_schedules":
        prepared.phase_items = phase_item_rows(objects)
    return prepared


def write_prepared(con, prepared: Prepared, *, upsert: bool = True) -> int:
    """Upsert prepared rows and children (the caller owns the transaction).

    `upsert=False` skips looking for the keys' old rows (and their children):
    only for objects known to be new, e.g. a demo or a backfill into empty
    tables. Deleting by key scans the table, so at millions of rows the
    inserts alone are several times cheaper.
    """
    merge(con, TABLES[prepared.table], prepared.rows, upsert)
    if prepared.items is not None:
        if upsert:
            con.execute("DELETE FROM subscription_items WHERE subscription_id IN "
                        "(SELECT unnest(?::VARCHAR[]))", [prepared.ids])
        merge(con, TABLES["subscription_items"], prepared.items, upsert)
    if prepared.lines is not None:
        write_prepared(con, prepared.lines, upsert=upsert)
    if prepared.line_keys is not None:
        _replace_line_taxes(con, prepared.line_keys, prepared.line_taxes, upsert)
    if prepared.phase_items is not None:
        replace_phase_items(con, prepared.ids, prepared.phase_items, upsert)
    return prepared.count


def combine(parts: list[Prepared]) -> Prepared | None:
    """Several prepared pages of one table as one upsert; None if they share a key."""
    parts = [p for p in parts if p is not None]
    if len(parts) <= 1:
        return parts[0] if parts else None
    ids = [i for p in parts for i in p.ids]
    if len(set(ids)) != len(ids) or len({p.table for p in parts}) != 1:
        return None
    lines = [p.lines for p in parts if p.lines is not None]
    combined = Prepared(parts[0].table, pa.concat_tables([p.rows for p in parts]), ids,
                        sum(p.count for p in parts))
    if parts[0].items is not None:
        combined.items = pa.concat_tables([p.items for p in parts])
    if lines:
        combined.lines = combine(lines)
        if combined.lines is None:
            return None
    if parts[0].line_keys is not None:
        combined.line_keys = pa.concat_tables([p.line_keys for p in parts])
        combined.line_taxes = pa.concat_tables([p.line_taxes for p in parts])
    if parts[0].phase_items is not None:
        combined.phase_items = pa.concat_tables([p.phase_items for p in parts])
    return combined


def load_mixed(con, objects: Iterable[dict], **kwargs) -> int:
    """Upsert objects of any types, routed by their `object` field."""
    by_table: dict[str, list[dict]] = {}
    for obj in objects:
        table_name = OBJECT_TABLES.get(obj.get("object", ""))
        if table_name:
            by_table.setdefault(table_name, []).append(obj)
    return sum(load_objects(con, name, objs, **kwargs) for name, objs in by_table.items())


def mark_deleted(con, table_name: str, ids: list[str]) -> None:
    """Objects deleted in Stripe stay in the table, flagged."""
    if ids:
        con.execute(f"UPDATE {TABLES[table_name].name} SET deleted = true WHERE id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [ids])


def _with_invoice(line: dict, invoice_id: str | None) -> dict:
    if line.get("invoice") or not invoice_id:
        return line
    return {**line, "invoice": invoice_id}


def _subscription_items(subscriptions: list[dict], synced_at, api_version) -> pa.Table:
    # A subscription's items are replaced as a set: removed items disappear.
    items = []
    for sub in subscriptions:
        for item in ((sub.get("items") or {}).get("data") or []):
            item = dict(item)
            item.setdefault("subscription", sub["id"])
            items.append(item)
    return rows_to_arrow(TABLES["subscription_items"], items, synced_at, api_version)


LINE_TAX_SCHEMA = pa.schema([
    ("invoice_id", pa.string()), ("line_id", pa.string()), ("tax_rate_id", pa.string()),
    ("amount", pa.int64()), ("taxable_amount", pa.int64()), ("inclusive", pa.bool_()),
    ("currency", pa.string())])


def _line_tax_rows(lines: list[dict]) -> tuple[pa.Table, pa.Table]:
    """The lines' keys (their old taxes go) and their tax rows (which replace them)."""
    rows: dict[str, list] = {name: [] for name in LINE_TAX_SCHEMA.names}
    for line in lines:
        for tax in _line_taxes(line):
            rows["invoice_id"].append(line["invoice"])
            rows["line_id"].append(line["id"])
            rows["currency"].append(line.get("currency"))
            for key in ("tax_rate_id", "amount", "taxable_amount", "inclusive"):
                rows[key].append(tax[key])
    keys = pa.table({"invoice_id": pa.array([line["invoice"] for line in lines], pa.string()),
                     "line_id": pa.array([line["id"] for line in lines], pa.string())})
    return keys, pa.table(rows, schema=LINE_TAX_SCHEMA)


def _replace_line_taxes(con, keys: pa.Table, taxes: pa.Table, upsert: bool = True) -> None:
    if upsert:
        con.register("_tally_line_keys", keys)
        try:
            con.execute("""DELETE FROM invoice_line_taxes t USING _tally_line_keys k
                           WHERE t.invoice_id = k.invoice_id AND t.line_id = k.line_id""")
        finally:
            con.unregister("_tally_line_keys")
    if taxes.num_rows:
        con.register("_tally_line_taxes", taxes)
        try:
            con.execute("INSERT INTO invoice_line_taxes BY NAME SELECT * FROM _tally_line_taxes")
        finally:
            con.unregister("_tally_line_taxes")


def _line_taxes(line: dict):
    """Current shape `taxes[]` (tax_rate_details) or older `tax_amounts[]`."""
    for tax in line.get("taxes") or []:
        rate = (tax.get("tax_rate_details") or {}).get("tax_rate")
        yield {"tax_rate_id": rate.get("id") if isinstance(rate, dict) else rate,
               "amount": int(tax.get("amount") or 0),
               "taxable_amount": tax.get("taxable_amount"),
               "inclusive": tax.get("tax_behavior") == "inclusive"}
    if line.get("taxes") is None:
        for tax in line.get("tax_amounts") or []:
            rate = tax.get("tax_rate")
            yield {"tax_rate_id": rate.get("id") if isinstance(rate, dict) else rate,
                   "amount": int(tax.get("amount") or 0),
                   "taxable_amount": tax.get("taxable_amount"),
                   "inclusive": bool(tax.get("inclusive"))}

