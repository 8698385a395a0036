"""The fake account in memory: raw JSON bytes per object, indexed by `created`.

Each collection keeps its objects' keys `(created, id)` in one ascending list,
so a `created` window plus a cursor is two bisects and a page is a slice read
backwards (Stripe lists newest first; `id` breaks ties so pages are stable).
Objects are kept as the JSON bytes we serve, so a list response is a join of
byte strings, never a re-serialisation. Objects loaded from a JSONL file and
served unchanged are not copied at all: the collection maps the file and keeps
each object's span (the page cache holds the bytes once, for every process).
"""
from __future__ import annotations

import bisect
import mmap
from pathlib import Path
from typing import Callable, Iterable

import orjson

from fakestripe.resources import (
    BY_OBJECT,
    DERIVED_FILTERS,
    EMBEDDED_LINES,
    INLINE_FLAG,
    PRIVATE_PREFIX,
    RESOURCES,
    Resource,
)

Key = tuple[int, str]
Match = Callable[[tuple], bool]
Raw = bytes | int  # the JSON itself, or (offset << 32 | length) in the mapped file
PRIVATE_MARK = b'"' + PRIVATE_PREFIX.encode()  # a stored object that has keys of ours


def dumps(obj) -> bytes:
    """orjson bytes copied to their exact size: orjson's own result keeps its
    growth buffer (kilobytes per object), which for 200,000 objects is gigabytes."""
    return bytes(memoryview(orjson.dumps(obj)))


def without_private(value):
    """The object without our own `_tally...` keys, at any depth (they are never served)."""
    if isinstance(value, dict):
        return {k: without_private(v) for k, v in value.items()
                if not (isinstance(k, str) and k.startswith(PRIVATE_PREFIX))}
    if isinstance(value, list):
        return [without_private(v) for v in value]
    return value


def field_value(value) -> str | None:
    """A filterable field as Stripe's query string spells it."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


class Collection:
    """All objects of one type, newest-first pageable."""

    def __init__(self, resource: Resource):
        self.resource = resource
        self.raw: dict[str, Raw] = {}
        self.source: mmap.mmap | None = None  # the JSONL file the int spans point into
        self.created: dict[str, int] = {}
        self.fields: dict[str, tuple] = {}  # values of resource.filters, in order
        self.keys: list[Key] = []  # ascending (created, id)
        self.deleted: set[str] = set()
        self.unlisted: set[str] = set()  # inline prices: retrievable by id, in no list
        # invoices with more lines than they embed: all their lines, apart
        self.lines: dict[str, list[tuple[str, bytes]]] = {}
        self._indexes: dict[int, dict[str | None, list[Key]]] = {}

    def __len__(self) -> int:
        return len(self.raw)  # listed or not (inline prices)

    # --- writes ------------------------------------------------------------

    def load_file(self, path: Path) -> None:
        """Bulk insert a JSONL file, serving unchanged objects from the mapped file."""
        if path.stat().st_size == 0:
            return
        with open(path, "rb") as file:
            self.source = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self.load(read_jsonl_spans(path))

    def load(self, objects: Iterable[tuple[dict, Raw | None]]) -> None:
        """Bulk insert (object, its raw JSON or file span or None); one sort at the end."""
        for obj, raw in objects:
            self._forget(obj["id"], keep_key=False)
            self._remember(obj, raw)
        self.keys = sorted((self.created[i], i) for i in self.raw if i not in self.unlisted)
        self._indexes.clear()

    def upsert(self, obj: dict) -> None:
        self._forget(obj["id"])
        self._remember(obj, None)
        if obj["id"] not in self.unlisted:
            bisect.insort(self.keys, (self.created[obj["id"]], obj["id"]))
        self._indexes.clear()

    def delete(self, object_id: str) -> bool:
        if object_id not in self.raw:
            return False
        self._forget(object_id)
        self.deleted.add(object_id)
        self._indexes.clear()
        return True

    def _remember(self, obj: dict, raw: Raw | None) -> None:
        object_id = obj["id"]
        if raw is None or (isinstance(raw, bytes) and PRIVATE_MARK in raw):
            if obj.get(INLINE_FLAG):
                self.unlisted.add(object_id)
            obj, raw = without_private(obj), None
        if self.resource.object == "invoice":
            raw = self._split_invoice(obj, raw)
        self.raw[object_id] = raw if raw is not None else dumps(obj)
        self.created[object_id] = int(obj.get("created") or 0)
        self.fields[object_id] = tuple(field_value(self._filter_value(obj, f)) for f in self.resource.filters)
        self.deleted.discard(object_id)

    def _filter_value(self, obj: dict, name: str):
        derive = DERIVED_FILTERS.get((self.resource.object, name))
        return derive(obj) if derive else obj.get(name)

    def _forget(self, object_id: str, keep_key: bool = True) -> None:
        if object_id not in self.raw:
            return
        if keep_key:
            key = (self.created[object_id], object_id)
            at = bisect.bisect_left(self.keys, key)
            if at < len(self.keys) and self.keys[at] == key:
                del self.keys[at]
        for table in (self.raw, self.created, self.fields, self.lines):
            table.pop(object_id, None)
        self.unlisted.discard(object_id)

    def _split_invoice(self, invoice: dict, raw: Raw | None) -> Raw:
        """Serve the invoice with its first lines only; keep the rest apart."""
        lines = (invoice.get("lines") or {}).get("data") or []
        if len(lines) > EMBEDDED_LINES:
            self.lines[invoice["id"]] = [(line.get("id", ""), dumps(line)) for line in lines]
        embedded = {
            "object": "list",
            "data": lines[:EMBEDDED_LINES],
            "has_more": len(lines) > EMBEDDED_LINES,
            "total_count": len(lines),
            "url": f"/v1/invoices/{invoice['id']}/lines",
        }
        if raw is not None and invoice.get("lines") == embedded:
            return raw  # already as Stripe serves it
        return dumps(dict(invoice, lines=embedded))

    # --- reads -------------------------------------------------------------

    def raw_of(self, object_id: str) -> bytes:
        raw = self.raw[object_id]
        if isinstance(raw, bytes):
            return raw
        assert self.source is not None  # an int span only comes from a loaded file
        start = raw >> 32
        return self.source[start:start + (raw & 0xFFFFFFFF)]

    def key_of(self, object_id: str) -> Key | None:
        created = self.created.get(object_id)
        return None if created is None else (created, object_id)

    def candidates(self, field: str | None, value: str | None) -> list[Key]:
        """Keys to scan: all, or only those with `field == value` (indexed)."""
        if field is None:
            return self.keys
        position = self.resource.filters.index(field)
        index = self._indexes.get(position)
        if index is None:
            index = {}
            for key in self.keys:  # already ascending, so each bucket is too
                index.setdefault(self.fields[key[1]][position], []).append(key)
            self._indexes[position] = index
        return index.get(value, [])

    def page(self, keys: list[Key], low: int | None, high: int | None, limit: int,
             starting_after: Key | None = None, ending_before: Key | None = None,
             match: Match | None = None) -> tuple[list[bytes], bool]:
        """One newest-first page of `keys` with low <= created <= high."""
        start = 0 if low is None else bisect.bisect_left(keys, (low,))
        stop = len(keys) if high is None else bisect.bisect_left(keys, (high + 1,))
        if starting_after is not None:
            stop = min(stop, bisect.bisect_left(keys, starting_after))
        if ending_before is not None:
            start = max(start, bisect.bisect_right(keys, ending_before))
            # the `limit` objects just newer than the cursor, still newest first
            picked, more = self._walk(keys, range(start, stop), limit, match)
            return picked[::-1], more
        return self._walk(keys, range(stop - 1, start - 1, -1), limit, match)

    def _walk(self, keys, positions, limit, match) -> tuple[list[bytes], bool]:
        picked: list[bytes] = []
        for at in positions:
            object_id = keys[at][1]
            if match is not None and not match(self.fields[object_id]):
                continue
            if len(picked) == limit:
                return picked, True
            picked.append(self.raw_of(object_id))
        return picked, False

    def line_page(self, invoice_id: str, limit: int, starting_after: str | None,
                  ending_before: str | None) -> tuple[list[bytes], bool] | None:
        """A page of an invoice's lines, in the invoice's order; None if no such line."""
        lines = self.lines.get(invoice_id)
        if lines is None:  # all its lines are embedded in the invoice itself
            embedded = orjson.loads(self.raw_of(invoice_id))["lines"]["data"]
            lines = [(line.get("id", ""), dumps(line)) for line in embedded]
        ids = [line_id for line_id, _ in lines]
        start, stop = 0, len(lines)
        if starting_after is not None:
            if starting_after not in ids:
                return None
            start = ids.index(starting_after) + 1
        if ending_before is not None:
            if ending_before not in ids:
                return None
            stop = ids.index(ending_before)
            start = max(start, stop - limit)
            return [raw for _, raw in lines[start:stop]], start > 0
        return [raw for _, raw in lines[start:start + limit]], start + limit < stop


class Store:
    """The whole fake account: one collection per resource."""

    def __init__(self):
        self.collections = {r.table: Collection(r) for r in RESOURCES}

    @classmethod
    def from_dir(cls, data_dir: str | Path) -> "Store":
        """Load `<table>.jsonl` files; they are mapped, so they must not change while served."""
        store = cls()
        data_dir = Path(data_dir)
        for table, collection in store.collections.items():
            path = data_dir / f"{table}.jsonl"
            if not path.exists():
                continue
            try:
                collection.load_file(path)
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path.name} has a line that is not a JSON object with an id "
                                 f"({type(error).__name__})") from None
        return store

    def collection_for(self, obj: dict) -> Collection | None:
        resource = BY_OBJECT.get(str(obj.get("object")))
        return None if resource is None else self.collections[resource.table]

    def counts(self) -> dict[str, int]:
        return {table: len(c) for table, c in self.collections.items() if len(c)}


def read_jsonl(path: Path):
    """(object, its line's bytes) for each non-blank line of a JSONL file."""
    with open(path, "rb") as lines:
        for line in lines:
            line = line.strip()
            if line:
                yield orjson.loads(line), line


def read_jsonl_spans(path: Path):
    """(object, offset << 32 | length) for each non-blank line; reads, never maps,
    so loading does not pull the whole file into this process's memory."""
    offset = 0
    with open(path, "rb") as lines:
        for line in lines:
            if line.strip():
                # a line with keys of ours is served re-encoded without them, not from the file
                span = None if PRIVATE_MARK in line else offset << 32 | len(line.rstrip(b"\r\n"))
                yield orjson.loads(line), span
            offset += len(line)
