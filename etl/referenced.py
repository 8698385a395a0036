"""Prices and products that no list gives, fetched by id.

`GET /v1/prices` lists active prices only (the sync lists `active=false` too)
and never inline prices, the ones created with `price_data`: Stripe serves
those by id only. So after the lists, every price that a subscription item or
an invoice line names and the database lacks is retrieved by id, and every
product such a price or line names. Incremental runs do the same for the
objects they bring, so a new inline price is fetched the run it first appears.

A price or product that answers 404 is recorded in `missing_prices` /
`missing_products` (the metrics report the lines that use it) and the sync
goes on; other errors leave it for the next run. Either way one line in the
sync's notes, never a traceback.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from etl.client import NotAvailable, StripeHTTP, StripeSyncError
from etl.load import prepare_objects, write_prepared
from etl.schema import API_VERSION

THREADS = 8
CHUNK = 500  # ids fetched, then written in one transaction: a killed run keeps the rest
SHOWN_IDS = 5  # in a note; the table has them all

# Prices a subscription or invoice uses that the database lacks, or has only as
# flagged deleted (a full re-list flags the inline prices no list gives).
WANTED_PRICES = """
    SELECT DISTINCT price_id FROM (
        SELECT price_id FROM subscription_items UNION ALL SELECT price_id FROM invoice_lines)
    WHERE price_id IS NOT NULL
      AND price_id NOT IN (SELECT id FROM prices WHERE NOT deleted)
    ORDER BY price_id"""
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


def fetch_referenced(con, client: StripeHTTP, prices_path: str, now: dt.datetime) -> list[str]:
    """Fetch what subscriptions and invoices name but no list gave; returns notes."""
    notes = _fetch_and_write(con, client, prices_path, "prices", WANTED_PRICES, now)
    # after the prices: an inline price names a product no list may have given
    return notes + _fetch_and_write(con, client, "/v1/products", "products", WANTED_PRODUCTS, now)


def _fetch_and_write(con, client: StripeHTTP, path: str, table: str, sql: str,
                     now: dt.datetime) -> list[str]:
    ids = _ids(con, sql)
    total, missing = Fetched(), []
    for at in range(0, len(ids), CHUNK):
        fetched = _fetch(client, path, ids[at:at + CHUNK], f"referenced {table}")
        missing += _write(con, table, fetched, now)
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

    def get(object_id: str):
        try:
            # plan ids are the account's own strings, which may hold "#", "?" or "/"
            resp = client.get(f"{path}/{quote(object_id, safe='')}", label=label, max_retries=3)
            return object_id, resp, None
        except StripeSyncError as exc:
            return object_id, None, exc

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="tally-referenced") as pool:
        for object_id, resp, exc in pool.map(get, ids):
            if resp is not None:
                fetched.objects.append((resp.data, resp.api_version or API_VERSION))
            elif isinstance(exc, NotAvailable):
                fetched.missing[object_id] = f"GET {path}/{object_id} answered 404"
            else:
                fetched.failed[object_id] = client.scrub(str(exc))
    return fetched


def _write(con, table: str, fetched: Fetched, now: dt.datetime) -> list[str]:
    """The objects, and which ids are missing, in one transaction; returns those ids."""
    missing_table = f"missing_{table}"
    by_version: dict[str, list[dict]] = {}
    for obj, version in fetched.objects:
        by_version.setdefault(version, []).append(obj)
    # One we hold a row for (a deleted plan, say) is not missing: its facts are known.
    known = set(_ids(con, f"SELECT id FROM {table}"))
    missing = [i for i in fetched.missing if i not in known]
    con.begin()
    try:
        for version, objects in by_version.items():
            write_prepared(con, prepare_objects(table, objects, synced_at=now, api_version=version))
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
