"""Every price and product a count depends on is synced: archived prices (which
`GET /v1/prices` leaves out unless `active=false`), inline prices (in no list,
retrievable by id), and a price Stripe no longer knows (404) recorded, not fatal."""
import time

import pytest

from etl import __main__ as etl_main
from fakestripe.testing import put_objects, serve
from tests.etl import sync_account
from tests.etl.sync_account import event
from tests.etl.synced import query, sync

DAY = 86400


def price(price_id: str, created: int, product: str = "prod_0", active: bool = True,
          amount: int = 1500, **extra) -> dict:
    return {"id": price_id, "object": "price", "created": created, "product": product,
            "currency": "usd", "unit_amount": amount, "type": "recurring",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "billing_scheme": "per_unit", "active": active, "livemode": False, **extra}


def bill_on(account: dict, customer: int, price_id: str) -> None:
    """The customer's subscription item and first invoice line use `price_id`."""
    sub = account["subscriptions"][customer]
    sub["items"]["data"][0]["price"] = {"id": price_id, "object": "price"}
    line = account["invoices"][customer]["lines"]["data"][0]
    line["pricing"]["price_details"]["price"] = price_id


@pytest.fixture(scope="module")
def account():
    """The sync account plus a retired product, an archived price with subscribers
    (grandfathered), an inline price, and an old invoice line whose price is gone."""
    account = sync_account.build(customers=40)
    start = min(p["created"] for p in account["prices"])
    account["products"].append({"id": "prod_retired", "object": "product", "created": start,
                                "name": "Legacy plan", "active": False, "livemode": False})
    account["prices"] += [
        price("price_grandfathered", start, product="prod_retired", active=False, amount=900),
        price("price_inline", start + DAY, amount=4200, _tally_inline=True),
        # a legacy plan's id is the account's own string
        price("gold monthly", start, amount=500, _tally_inline=True),
    ]
    bill_on(account, 1, "price_grandfathered")
    bill_on(account, 2, "price_grandfathered")
    bill_on(account, 3, "price_inline")
    bill_on(account, 4, "price_gone")  # Stripe answers 404 for it
    bill_on(account, 6, "gold monthly")
    # a price only a schedule's next phase names, created with `price_data`
    account["prices"].append(price("price_next_phase", start + DAY, amount=7700, _tally_inline=True))
    account["subscription_schedules"][0]["phases"][1]["items"][0].update(
        price="price_next_phase", plan="price_next_phase")
    return account


@pytest.fixture
def served(account, tmp_path):
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        yield base


EXPECTED_PRICES = {("price_0", True), ("price_1", True), ("price_2", True),
                   ("price_grandfathered", False), ("price_inline", True), ("gold monthly", True),
                   ("price_next_phase", True)}


def prices(db) -> set:
    return set(query(db, "SELECT id, active FROM prices WHERE NOT deleted"))


def test_full_sync_holds_archived_and_inline_prices_and_records_the_gone_one(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    summary = sync(served, db)

    assert summary.status == "ok", summary.message
    assert prices(db) == EXPECTED_PRICES
    assert query(db, "SELECT count(*) FROM prices WHERE deleted") == [(0,)]
    assert query(db, "SELECT unit_amount FROM prices WHERE id = 'price_inline'") == [(4200,)]
    assert query(db, "SELECT unit_amount FROM prices WHERE id = 'price_next_phase'") == [(7700,)]
    assert query(db, "SELECT active FROM products WHERE id = 'prod_retired'") == [(False,)]
    assert query(db, "SELECT id, http_status FROM missing_prices") == [("price_gone", 404)]
    assert [n for n in summary.notes if "price_gone" in n and "404" in n]
    # every subscription item's price is known, but the gone one's
    assert query(db, """SELECT DISTINCT price_id FROM subscription_items
                        WHERE price_id NOT IN (SELECT id FROM prices)""") == [("price_gone",)]


def test_the_mrr_counts_the_lines_of_archived_and_inline_prices(served, tmp_path):
    """The lines' interval comes from their price: without the price, no MRR."""
    from metrics.mrr.chain_sql import counted_lines_cte
    from metrics.params import Params
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    counted = {line for (line,) in query(
        db, f"WITH {counted_lines_cte(Params())} SELECT line_id FROM counted")}
    assert {"il_0001", "il_0002", "il_0003", "il_0006"} <= counted


def test_a_full_relist_keeps_the_inline_price(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    again = sync(served, db, full=True)
    assert again.status == "ok" and again.mode == "full"
    assert prices(db) == EXPECTED_PRICES
    assert query(db, "SELECT count(*) FROM prices WHERE deleted") == [(0,)]


def test_incremental_sync_follows_price_events_and_new_inline_prices(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    now = int(time.time())
    start = min(p["created"] for p in account["prices"])
    archived_now = {**account["prices"][0], "active": False}  # price_0 archived today
    newly_archived = price("price_new_archived", now, active=False)
    # An inline price and its product, created long ago: no listing's window
    # since the last run reaches them, only the subscription that names them.
    new_product = {"id": "prod_late", "object": "product", "created": start, "name": "Late",
                   "active": True, "livemode": False}
    new_inline = price("price_new_inline", start, product="prod_late", amount=777,
                       _tally_inline=True)
    new_sub = {**account["subscriptions"][5], "id": "sub_new", "created": now}
    new_sub["items"] = {"object": "list", "has_more": False, "data": [{
        **new_sub["items"]["data"][0], "id": "si_new", "subscription": "sub_new", "created": now,
        "price": {"id": "price_new_inline", "object": "price"}}]}
    put_objects(served, [archived_now, newly_archived, new_product, new_inline, new_sub,
                         event("evt_p1", "price.updated", archived_now, now),
                         event("evt_s1", "customer.subscription.created", new_sub, now)])

    second = sync(served, db)

    assert second.status == "ok" and second.mode == "incremental", second.message
    assert prices(db) == (EXPECTED_PRICES - {("price_0", True)}) | {
        ("price_0", False), ("price_new_archived", False), ("price_new_inline", True)}
    assert query(db, "SELECT name FROM products WHERE id = 'prod_late'") == [("Late",)]
    assert query(db, "SELECT id FROM missing_prices") == [("price_gone",)]


def test_a_missing_price_that_turns_up_is_fetched_and_no_longer_missing(served, tmp_path):
    """Asked again when a synced object names it: a full sync re-lists every one."""
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    assert query(db, "SELECT id FROM missing_prices") == [("price_gone",)]
    put_objects(served, [price("price_gone", 1000, amount=1234, _tally_inline=True)])
    again = sync(served, db, full=True)
    assert again.status == "ok" and not [n for n in again.notes if "price_gone" in n]
    assert query(db, "SELECT unit_amount FROM prices WHERE id = 'price_gone'") == [(1234,)]
    assert query(db, "SELECT count(*) FROM missing_prices") == [(0,)]


def test_the_cli_warns_of_a_gone_price_in_one_line(served, tmp_path, monkeypatch, capsys):
    from fakestripe import DEFAULT_API_KEY
    monkeypatch.setenv("TALLY_SYNC_RATE", "500")
    monkeypatch.setenv("STRIPE_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", served)
    code = etl_main.main(["sync", "--db", str(tmp_path / "tally.duckdb")])
    out, err = capsys.readouterr()
    assert code == 0, err
    warnings = [line for line in (out + err).splitlines() if "price_gone" in line]
    assert len(warnings) == 1 and "404" in warnings[0] and "missing_prices" in warnings[0]
    assert "Traceback" not in out + err
