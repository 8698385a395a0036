"""What the sync fetches by id beside the lists: inline prices (in no list), retrieved
while the lists go on and once; invoice lines, of an invoice that may be deleted
between its listing and the paging of its lines."""
import threading
import time

import duckdb

from etl.client import StripeHTTP
from etl.sync import run_sync
from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import delete_object, put_objects, reset_stats, serve, stats
from tests.etl import sync_account
from tests.etl.sync_account import event

RETRIEVES = "GET /v1/prices/{id}"
HOLD_SECONDS = 20


def sync(base, db, client=None, **kwargs):
    client = client or StripeHTTP(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01)
    return run_sync(str(db), client=client, **kwargs)


def query(db, sql, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def inline_price(price_id: str, created: int) -> dict:
    return {"id": price_id, "object": "price", "created": created, "product": "prod_0",
            "currency": "usd", "unit_amount": 4200, "type": "recurring",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "billing_scheme": "per_unit", "active": True, "livemode": False, "_tally_inline": True}


def bill_on(account: dict, customer: int, price_id: str) -> None:
    """The customer's subscription item and first invoice line use `price_id`."""
    account["subscriptions"][customer]["items"]["data"][0]["price"] = {"id": price_id, "object": "price"}
    account["invoices"][customer]["lines"]["data"][0]["pricing"]["price_details"]["price"] = price_id


def with_inline_prices(customers: int) -> dict:
    """An account where customer 1 bills on an inline price and 2 on one Stripe no longer knows."""
    account = sync_account.build(customers=customers)
    start = min(p["created"] for p in account["prices"])
    account["prices"].append(inline_price("price_inline", start))
    bill_on(account, 1, "price_inline")
    bill_on(account, 2, "price_gone")
    return account


class HoldingClient(StripeHTTP):
    """Holds every invoice list page after a window's first until a price has been
    retrieved by id: a sync retrieving prices only after the lists never gets one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.retrieved = threading.Event()
        self.held = []  # per held page: was a price retrieved by then?

    def get(self, path, params=None, **kwargs):
        if path == "/v1/invoices" and (params or {}).get("starting_after"):
            self.held.append(self.retrieved.wait(HOLD_SECONDS))
        resp = super().get(path, params, **kwargs)
        if path.startswith("/v1/prices/"):
            self.retrieved.set()
        return resp


def test_inline_prices_are_retrieved_while_invoices_are_still_listed(tmp_path):
    account = with_inline_prices(customers=400)
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        client = HoldingClient(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01)
        summary = sync(base, tmp_path / "tally.duckdb", client)

    assert summary.status == "ok", summary.message
    assert client.held and all(client.held), client.held
    db = tmp_path / "tally.duckdb"
    assert query(db, "SELECT unit_amount FROM prices WHERE id = 'price_inline'") == [(4200,)]
    assert query(db, "SELECT id FROM missing_prices") == [("price_gone",)]


def test_a_stored_inline_price_is_not_retrieved_again_and_a_gone_one_only_when_named_again(tmp_path):
    account = with_inline_prices(customers=40)
    db = tmp_path / "tally.duckdb"
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        sync(base, db)
        assert stats(base)["endpoints"][RETRIEVES] == 2  # price_inline and price_gone

        reset_stats(base)
        relisted = sync(base, db, full=True)
        assert relisted.status == "ok" and relisted.mode == "full", relisted.message
        # the gone price's subscription and invoice were listed again: asked once more
        assert stats(base)["endpoints"].get(RETRIEVES, 0) == 1

        reset_stats(base)
        assert sync(base, db).mode == "incremental"
        assert stats(base)["endpoints"].get(RETRIEVES, 0) == 0

    assert query(db, "SELECT deleted, unit_amount FROM prices WHERE id = 'price_inline'") == \
        [(False, 4200)]
    assert query(db, "SELECT id FROM missing_prices") == [("price_gone",)]


def with_lines(invoice: dict, count: int) -> dict:
    lines = [sync_account._line(f"il_{invoice['id']}_{j:03d}", invoice["id"], "price_1", 10 + j,
                                invoice["created"]) for j in range(count)]
    return {**invoice, "lines": {"object": "list", "has_more": False, "data": lines}}


class DeletingClient(StripeHTTP):
    """Deletes an invoice from the server just before its lines are first asked for."""

    def __init__(self, *args, doomed: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.doomed = doomed

    def get(self, path, params=None, **kwargs):
        if path == f"/v1/invoices/{self.doomed}/lines" and self.doomed:
            delete_object(self.base, "invoice", self.doomed)
            self.doomed = ""
        return super().get(path, params, **kwargs)


def test_an_invoice_deleted_before_its_lines_are_paged_is_left_out(tmp_path):
    account = sync_account.build(customers=60)
    account["invoices"] = [with_lines(inv, 40) if 10 <= i < 14 else inv
                           for i, inv in enumerate(account["invoices"])]
    doomed, kept = account["invoices"][11]["id"], account["invoices"][12]["id"]
    db = tmp_path / "tally.duckdb"
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        client = DeletingClient(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01, doomed=doomed)
        summary = sync(base, db, client)

    assert summary.status == "ok", summary.message
    assert summary.jobs["invoices"]["status"] == "done"
    assert query(db, "SELECT count(*) FROM invoices WHERE id = ?", [doomed]) == [(0,)]
    assert query(db, "SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [doomed]) == [(0,)]
    assert query(db, "SELECT count(*) FROM invoices") == [(len(account["invoices"]) - 1,)]
    assert query(db, "SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [kept]) == [(40,)]


def test_an_event_of_an_invoice_deleted_since_marks_it_deleted(tmp_path):
    account = sync_account.build(customers=60)
    account["invoices"] = [with_lines(inv, 40) if i == 10 else inv
                           for i, inv in enumerate(account["invoices"])]
    invoice = account["invoices"][10]
    db = tmp_path / "tally.duckdb"
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        assert sync(base, db).status == "ok"
        # updated, then deleted before the sync pages its lines (the deletion's own
        # event not yet listed): the snapshot embeds 10 of its 40 lines
        snapshot = {**invoice, "lines": {**invoice["lines"], "has_more": True,
                                         "data": invoice["lines"]["data"][:10]}}
        put_objects(base, [event("evt_upd", "invoice.updated", snapshot, int(time.time()))])
        delete_object(base, "invoice", invoice["id"])
        second = sync(base, db)

    assert second.status == "ok" and second.mode == "incremental", second.message
    assert query(db, "SELECT deleted FROM invoices WHERE id = ?", [invoice["id"]]) == [(True,)]
