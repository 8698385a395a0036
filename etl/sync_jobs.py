"""What a sync fetches: the object types, and each type's job of `created` windows.

A job's windows are its checkpoint: each records the last object written
(`cursor`), so a run killed at any moment resumes every window where its
last committed page ended. The list is persisted as `sync_state.detail`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from etl.load import Prepared

OVERLAP_SECONDS = 600  # re-read what was created shortly before the last run
UNKNOWN_PAGES = 1e6  # a window not read yet: read it first, its size tells the plan


@dataclass(frozen=True)
class ObjectType:
    name: str  # the sync_state key; also the table, unless `table_name` says otherwise
    path: str
    params: dict = field(default_factory=dict)
    fallback_path: str | None = None  # older APIs: plans instead of prices
    relist_marks_deleted: bool = True  # a full re-list flags rows it no longer sees
    overlap: int = OVERLAP_SECONDS
    table_name: str | None = None  # a second listing of a table (archived prices)

    @property
    def table(self) -> str:
        return self.table_name or self.name


OBJECT_TYPES = [
    ObjectType("customers", "/v1/customers"),
    ObjectType("products", "/v1/products"),  # active and inactive alike, as tax rates
    # Stripe lists active prices only: archived ones (grandfathered subscribers
    # still bill on them) need active=false. Plans, the older API, list both.
    # Inline prices (price_data) are in no list: etl/referenced.py fetches them by id.
    ObjectType("prices", "/v1/prices", fallback_path="/v1/plans"),
    ObjectType("prices_archived", "/v1/prices", {"active": "false"}, table_name="prices"),
    ObjectType("coupons", "/v1/coupons"),
    ObjectType("tax_rates", "/v1/tax_rates"),
    # Without status=all Stripe hides canceled subscriptions.
    ObjectType("subscriptions", "/v1/subscriptions", {"status": "all"}),
    # Every status is listed by default (no `status` filter exists).
    ObjectType("subscription_schedules", "/v1/subscription_schedules"),
    ObjectType("invoices", "/v1/invoices"),
    ObjectType("invoice_payments", "/v1/invoice_payments"),
    ObjectType("charges", "/v1/charges"),
    ObjectType("payment_intents", "/v1/payment_intents"),
    ObjectType("refunds", "/v1/refunds"),
    ObjectType("disputes", "/v1/disputes"),
    # Balance transactions change status (pending -> available) without events:
    # re-read two weeks of them each run.
    ObjectType("balance_transactions", "/v1/balance_transactions", overlap=14 * 86400),
    ObjectType("credit_notes", "/v1/credit_notes"),
    ObjectType("early_fraud_warnings", "/v1/radar/early_fraud_warnings"),
    # Events are kept forever, although Stripe forgets them after 30 days.
    ObjectType("events", "/v1/events", relist_marks_deleted=False),
]
BY_NAME = {t.name: t for t in OBJECT_TYPES}


def listings_of(table: str) -> list[ObjectType]:
    """Every object type that lists into `table` (prices: active and archived)."""
    return [t for t in OBJECT_TYPES if t.table == table]


@dataclass(eq=False)  # windows are compared by identity
class Window:
    """Objects with lo <= created < hi (None: unbounded), written up to `cursor`.

    The fetch thread runs ahead of `cursor`; `done` is set once the page
    without `has_more` is written.
    """
    lo: int | None = None
    hi: int | None = None
    cursor: str | None = None
    retried_cursor: bool = False
    pages_left: float = UNKNOWN_PAGES  # estimated from the last page's density


@dataclass
class Job:
    kind: ObjectType
    run_id: str
    mode: str  # "full" (list everything) or "incremental" (created since the last run)
    started_at: float
    path: str
    windows: list[Window]
    created_filter: bool | None = None
    apply_events_since: int | None = None  # events, incremental runs only
    # A full listing into empty tables: every object listed is new, so pages are
    # inserted without looking for old rows (cleared on any re-read).
    fresh: bool = False
    status: str = "running"  # running, done, skipped, failed
    note: str | None = None
    fetched: int = 0
    seconds: float = 0.0

    @property
    def running(self) -> bool:
        return self.status == "running"

    def pages_left(self) -> float:
        return sum(w.pages_left for w in self.windows)

    def detail(self) -> dict:
        return {"run_id": self.run_id, "mode": self.mode, "started_at": self.started_at,
                "path": self.path, "created_filter": self.created_filter,
                "apply_events_since": self.apply_events_since, "fresh": self.fresh,
                "status": self.status,
                "note": self.note, "fetched": self.fetched,
                "windows": [{"lo": w.lo, "hi": w.hi, "cursor": w.cursor} for w in self.windows]}

    @classmethod
    def from_detail(cls, kind: ObjectType, d: dict) -> "Job":
        return cls(kind, d["run_id"], d["mode"], d["started_at"], d["path"],
                   [Window(w["lo"], w["hi"], w["cursor"]) for w in d["windows"]],
                   d.get("created_filter"), d.get("apply_events_since"),
                   fresh=d.get("fresh", False), fetched=d.get("fetched", 0))


def forget_fresh_listings(con) -> None:
    """Someone else wrote objects into the working file: a backfill that resumes
    later may meet them again, so it must upsert (call inside that write's transaction)."""
    con.execute("""UPDATE sync_state SET detail = json_merge_patch(detail, '{"fresh": false}')
                   WHERE json_extract(detail, '$.fresh')::BOOLEAN""")


@dataclass
class Page:
    """One list page, converted to Arrow before the writer gets it (etl/convert.py)."""
    count: int
    last_id: str | None
    has_more: bool
    rows: Prepared | None
    created: list[int]  # of each object, in list order


@dataclass
class Failure:
    """A window's fetch thread stopped on this error (`cursor`: where it was)."""
    error: BaseException
    cursor: str | None


def utc_now() -> dt.datetime:
    """Now in UTC, naive: how the tables store time."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
