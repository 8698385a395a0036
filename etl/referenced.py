"""Prices and products that no list gives, fetched by id.

`GET /v1/prices` lists active prices only (the sync lists `active=false` too)
and never inline prices, the ones created with `price_data`: Stripe serves
those by id only. So every price that a subscription item or an invoice line
names and the database lacks is retrieved by id, and every product such a
price or line names.

Those retrieves start while invoices and subscriptions are still listed: the
writer hands `PricesById` the price ids of every page before committing it,
and once the price lists are done (only they tell an inline price from a
listed one) each unknown id is retrieved at once, on `GET /v1/prices/{id}`'s
own rate limit.
Left for after the lists: ids no listed page named (objects events brought,
pages of a run that was killed) and the products, which are few.

A price stored once is not asked again: Stripe never deletes a price (only
plans), so a full re-list leaves unlisted prices alone. A price that answers
404 is recorded in `missing_prices` (`missing_products` likewise; the metrics
report the lines that use it) and asked again only when an object synced later
names it. Other errors leave it for the next run. Either way one line in the
sync's notes, never a traceback.
"""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable
from urllib.parse import quote

import pyarrow.compute as pc

from etl.client import NotAvailable, StripeHTTP, StripeSyncError
from etl.load import Prepared, prepare_objects, write_prepared
from etl.schema import API_VERSION

THREADS = 8  # a retrieve endpoint's 25 req/s at ~150 ms latency needs ~4 in flight
CHUNK = 500  # ids fetched, then written in one transaction: a killed run keeps the rest
SHOWN_IDS = 5  # in a note; the table has them all
PRICES_LABEL = "referenced prices"
# Retrieves have an endpoint of their own, which sets the sync's pace where
# inline prices are many: first call on the account's budget, as invoice lines
# (the lists, whose pages are many, would otherwise take it all).
RETRIEVE_PRIORITY = float("inf")

# Prices a subscription, schedule phase or invoice uses that the database lacks, or has only as
# flagged deleted (older versions flagged inline prices on a full re-list),
# leaving out those that answered 404 before: only a newly synced object that
# names one asks again (PricesById).
WANTED_PRICES = """
    SELECT DISTINCT price_id FROM (
        SELECT price_id FROM subscription_items UNION ALL SELECT price_id FROM invoice_lines
        UNION ALL SELECT price_id FROM subscription_schedule_phase_items)
    WHERE price_id IS NOT NULL
      AND price_id NOT IN (SELECT id FROM prices WHERE NOT deleted)
      AND price_id NOT IN (SELECT id FROM missing_prices)
    ORDER BY price_id"""
KNOWN_PRICES = "SELECT id FROM prices WHERE NOT deleted"
# Products a price or line names that the database lacks altogether (a deleted
# product we have a row for still gives its name).
WANTED_PRODUCTS = """
    SELECT DISTINCT product_id FROM (
        SELECT product_id FROM prices UNION ALL SELECT product_id FROM invoice_lines)
    WHERE product_id IS NOT NULL AND product_id NOT IN (SELECT id FROM products)
    ORDER BY product_id"""


@dataclass
class Fetched:
    objects: list[tuple[dict, str]] = field(default_factory=list)  # (object, its API version)
    missing: dict[str, str] = field(default_factory=dict)  # id -> why (404)
    failed: dict[str, str] = field(default_factory=dict)  # id -> error, retried next run

    def add(self, client: StripeHTTP, path: str, object_id: str, resp, exc) -> None:
        if resp is not None:
            self.objects.append((resp.data, resp.api_version or API_VERSION))
        elif isinstance(exc, NotAvailable):
            self.missing[object_id] = f"GET {path}/{object_id} answered 404"
        else:
            self.failed[object_id] = client.scrub(str(exc))


def named_prices(rows: Prepared) -> set[str]:
    """Price ids a prepared page of subscriptions or invoices names."""
    children = rows.items if rows.items is not None else (rows.lines.rows if rows.lines else None)
    if children is None or "price_id" not in children.column_names:
        return set()
    return {p for p in pc.unique(children.column("price_id")).to_pylist() if p}


class PricesById:
    """Retrieves the prices listed pages name and no list gave, while the lists go on.

    The writer `offer`s the ids of each page it is about to commit; `start`
    comes once the price lists are done, with the ids stored (those need no
    request); `take` and `write` hand the writer what came back. The retrieves run on their own
    threads, everything else on the writer's.
    """

    def __init__(self, client: StripeHTTP):
        self.client = client
        self.path: str | None = None  # set by `start`: retrieving from then on
        self.asked: set[str] = set()  # stored, or retrieved this run
        self.held: set[str] = set()  # named before the price lists were done
        self.futures: list[Future] = []
        self.pool: ThreadPoolExecutor | None = None
        self.stopping = threading.Event()
        self.totals = Fetched()  # missing and failed of this run, for the notes
        self.missing_written: list[str] = []  # recorded in missing_prices this run

    @property
    def started(self) -> bool:
        return self.path is not None

    def start(self, path: str, known: Iterable[str]) -> None:
        self.path = path
        self.asked.update(known)
        self.pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="tally-prices")
        held, self.held = self.held, set()
        self.offer(held)

    def offer(self, ids: Iterable[str]) -> None:
        new = set(ids) - self.asked
        if not self.started:
            self.held |= new
            return
        self.asked |= new
        assert self.pool is not None
        self.futures += [self.pool.submit(self._retrieve, i) for i in sorted(new)]

    def take(self, wait: bool = False) -> Fetched:
        """What came back so far (or, with `wait`, everything asked)."""
        fetched = Fetched()
        waiting = []
        for future in self.futures:
            if wait or future.done():
                fetched.add(self.client, self.path or "", *future.result())
            else:
                waiting.append(future)
        self.futures = waiting
        self.totals.missing.update(fetched.missing)
        self.totals.failed.update(fetched.failed)
        return fetched

    def write(self, con, now: dt.datetime, wait: bool = False) -> None:
        """Write what came back (from the writer's thread, outside a transaction):
        everything with `wait`, else only once CHUNK are in: small transactions
        of prices between the pages' raise DuckDB's peak memory far more than
        holding the prices meanwhile does."""
        if wait or sum(f.done() for f in self.futures) >= CHUNK:
            self.missing_written += write_fetched(con, "prices", self.take(wait), now)

    def stop(self) -> None:
        self.stopping.set()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _retrieve(self, object_id: str):
        if self.stopping.is_set():
            return object_id, None, StripeSyncError("the sync stopped")
        return retrieve(self.client, self.path or "", object_id, PRICES_LABEL)


def retrieve(client: StripeHTTP, path: str, object_id: str, label: str):
    """(id, response or None, error or None) of `GET {path}/{id}`."""
    try:
        # plan ids are the account's own strings, which may hold "#", "?" or "/"
        resp = client.get(f"{path}/{quote(object_id, safe='')}", label=label, max_retries=3,
                          endpoint=f"{path}/{{id}}", priority=RETRIEVE_PRIORITY)
        return object_id, resp, None
    except StripeSyncError as exc:
        return object_id, None, exc


def write_fetched(con, table: str, fetched: Fetched, now: dt.datetime) -> list[str]:
    """The objects, and which ids are missing, in one transaction; returns those ids."""
    missing_table = f"missing_{table}"
    by_version: dict[str, list[dict]] = {}
    for obj, version in fetched.objects:
        by_version.setdefault(version, []).append(obj)
    # One we hold a row for (a deleted plan, say) is not missing: its facts are known.
    known = set(_ids(con, f"SELECT id FROM {table}")) if fetched.missing else set()
    missing = [i for i in fetched.missing if i not in known]
    if not fetched.objects and not missing:
        return []
    con.begin()
    try:
        for version, objects in by_version.items():
            prepared = prepare_objects(table, objects, synced_at=now, api_version=version)
            if prepared is not None:  # None: no objects of this version
                write_prepared(con, prepared)
        if missing:
            con.execute(f"""
                INSERT INTO {missing_table} (id, http_status, message, first_seen_at, last_tried_at)
                SELECT unnest(?::VARCHAR[]), 404, unnest(?::VARCHAR[]), ?, ?
                ON CONFLICT (id) DO UPDATE SET http_status = excluded.http_status,
                    message = excluded.message, last_tried_at = excluded.last_tried_at""",
                        [missing, [fetched.missing[i] for i in missing], now, now])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return missing


def fetch_referenced(con, client: StripeHTTP, prices_path: str, now: dt.datetime,
                     by_id: PricesById | None = None) -> list[str]:
    """Fetch what subscriptions and invoices name but no list gave; returns notes.

    `by_id`: the retrieves started while listing, finished here first.
    """
    by_id = by_id or PricesById(client)
    if not by_id.started:
        by_id.start(prices_path, _ids(con, KNOWN_PRICES))
    by_id.write(con, now, wait=True)
    # what no listed page named: objects events brought, pages of a killed run
    by_id.offer(_ids(con, WANTED_PRICES))
    by_id.write(con, now, wait=True)
    con.execute("DELETE FROM missing_prices WHERE id IN (SELECT id FROM prices)")
    notes = _notes("price", by_id.totals, by_id.missing_written)
    # after the prices: an inline price names a product no list may have given
    return notes + _fetch_and_write(con, client, "/v1/products", "products", WANTED_PRODUCTS, now)


def _fetch_and_write(con, client: StripeHTTP, path: str, table: str, sql: str,
                     now: dt.datetime) -> list[str]:
    ids = _ids(con, sql)
    total, missing = Fetched(), []
    for at in range(0, len(ids), CHUNK):
        fetched = _fetch(client, path, ids[at:at + CHUNK], f"referenced {table}")
        missing += write_fetched(con, table, fetched, now)
        total.missing.update(fetched.missing)
        total.failed.update(fetched.failed)
    # one recorded missing that a list or an event has brought since is missing no more
    con.execute(f"DELETE FROM missing_{table} WHERE id IN (SELECT id FROM {table})")
    return _notes(table[:-1], total, missing)


def _ids(con, sql: str) -> list[str]:
    return [row[0] for row in con.execute(sql).fetchall()]


def _fetch(client: StripeHTTP, path: str, ids: list[str], label: str) -> Fetched:
    fetched = Fetched()
    if not ids:
        return fetched
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="tally-referenced") as pool:
        for answer in pool.map(lambda object_id: retrieve(client, path, object_id, label), ids):
            fetched.add(client, path, *answer)
    return fetched


def _notes(kind: str, fetched: Fetched, missing: list[str]) -> list[str]:
    notes = []
    if missing:
        notes.append(f"{len(missing)} {kind}(s) that subscriptions or invoices use answered "
                     f"404; their lines have no {kind} (see missing_{kind}s): {_some(missing)}.")
    if fetched.failed:
        first = next(iter(fetched.failed.values()))
        notes.append(f"{len(fetched.failed)} {kind}(s) could not be fetched this run "
                     f"({_some(fetched.failed)}): {first} The next sync tries again.")
    return notes


def _some(ids) -> str:
    ids = sorted(ids)
    more = f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return ", ".join(ids[:SHOWN_IDS]) + more
