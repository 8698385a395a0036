"""Each list's documented defaults: what a plain list leaves out, and how to ask for it.

The sources of each rule are in fakestripe/README.md.
"""
import json
import time

from fakestripe.testing import configure, delete_object, put_objects, serve
from tests.fakestripe.http import get, ids

DAY = 86400


def price(price_id: str, created: int, active: bool = True, **extra) -> dict:
    return {"id": price_id, "object": "price", "created": created, "active": active,
            "currency": "usd", "unit_amount": 1000, "product": "prod_1", "type": "recurring",
            **extra}


def test_prices_list_active_ones_unless_asked_for_archived(fake_stripe):
    put_objects(fake_stripe, [price("price_live", 1), price("price_archived", 2, active=False)])
    assert ids(get(fake_stripe, "/v1/prices")[2]) == ["price_live"]
    assert ids(get(fake_stripe, "/v1/prices", {"active": "true"})[2]) == ["price_live"]
    assert ids(get(fake_stripe, "/v1/prices", {"active": "false"})[2]) == ["price_archived"]
    # still retrievable by id
    assert get(fake_stripe, "/v1/prices/price_archived")[2]["active"] is False


def test_inline_prices_are_in_no_list_and_retrieve_without_our_marker(fake_stripe):
    put_objects(fake_stripe, [price("price_live", 1),
                              price("price_inline", 2, _tally_inline=True),
                              price("price_inline_old", 3, active=False, _tally_inline=True)])
    assert ids(get(fake_stripe, "/v1/prices")[2]) == ["price_live"]
    assert ids(get(fake_stripe, "/v1/prices", {"active": "false"})[2]) == []
    status, _, body = get(fake_stripe, "/v1/prices/price_inline")
    assert status == 200
    assert body == price("price_inline", 2)


def test_a_served_jsonl_account_hides_inline_prices_and_strips_nested_markers(tmp_path):
    lines = [price("price_live", 1, metadata={"_tally_note": "x", "plan": "gold"}),
             price("price_inline", 2, _tally_inline=True)]
    (tmp_path / "prices.jsonl").write_text("".join(json.dumps(p) + "\n" for p in lines))
    with serve(tmp_path) as base:
        body = get(base, "/v1/prices")[2]
        assert ids(body) == ["price_live"]
        assert body["data"][0]["metadata"] == {"plan": "gold"}
        assert get(base, "/v1/prices/price_inline")[2] == price("price_inline", 2)
        assert b"_tally" not in json.dumps(get(base, "/v1/prices/price_live")[2]).encode()


def test_products_and_tax_rates_list_active_and_inactive_by_default(fake_stripe):
    put_objects(fake_stripe, [
        {"id": "prod_on", "object": "product", "created": 1, "active": True},
        {"id": "prod_off", "object": "product", "created": 2, "active": False},
        {"id": "txr_on", "object": "tax_rate", "created": 1, "active": True},
        {"id": "txr_off", "object": "tax_rate", "created": 2, "active": False},
    ])
    for path, on, off in (("/v1/products", "prod_on", "prod_off"),
                          ("/v1/tax_rates", "txr_on", "txr_off")):
        assert ids(get(fake_stripe, path)[2]) == [off, on]
        assert ids(get(fake_stripe, path, {"active": "false"})[2]) == [off]
        assert ids(get(fake_stripe, path, {"active": "true"})[2]) == [on]


def test_a_deleted_customer_retrieves_as_deleted_other_deleted_objects_are_gone(fake_stripe):
    put_objects(fake_stripe, [
        {"id": "cus_1", "object": "customer", "created": 1},
        {"id": "prod_1", "object": "product", "created": 1, "active": True},
        {"id": "SAVE10", "object": "coupon", "created": 1},
        {"id": "plan_1", "object": "plan", "created": 1, "active": True},
    ])
    for name, object_id, path in (("customer", "cus_1", "customers"),
                                  ("product", "prod_1", "products"),
                                  ("coupon", "SAVE10", "coupons"), ("plan", "plan_1", "plans")):
        delete_object(fake_stripe, name, object_id)
        assert ids(get(fake_stripe, f"/v1/{path}")[2]) == []
    assert get(fake_stripe, "/v1/customers/cus_1")[2] == \
        {"id": "cus_1", "object": "customer", "deleted": True}
    for name, object_id, path in (("product", "prod_1", "products"),
                                  ("coupon", "SAVE10", "coupons"), ("plan", "plan_1", "plans")):
        status, _, body = get(fake_stripe, f"/v1/{path}/{object_id}")
        assert status == 404 and body["error"]["code"] == "resource_missing", (name, body)


def test_events_go_back_thirty_days_from_the_accounts_now(fake_stripe):
    now = int(time.time())
    put_objects(fake_stripe, [
        {"id": "evt_new", "object": "event", "created": now - 29 * DAY, "type": "customer.created"},
        {"id": "evt_old", "object": "event", "created": now - 31 * DAY, "type": "customer.created"},
    ])
    assert ids(get(fake_stripe, "/v1/events")[2]) == ["evt_new"]
    assert ids(get(fake_stripe, "/v1/events", {"created[gte]": 0})[2]) == ["evt_new"]
    assert get(fake_stripe, "/v1/events/evt_old")[0] == 404
    assert get(fake_stripe, "/v1/events/evt_new")[0] == 200
    configure(fake_stripe, now=now - 2 * DAY)  # the account's clock, two days back
    assert ids(get(fake_stripe, "/v1/events")[2]) == ["evt_new", "evt_old"]
    assert get(fake_stripe, "/v1/events/evt_old")[0] == 200


def test_subscription_schedules_list_every_status_by_default(fake_stripe):
    statuses = ["not_started", "active", "completed", "released", "canceled"]
    put_objects(fake_stripe, [{"id": f"sub_sched_{n}", "object": "subscription_schedule",
                               "created": n, "status": status, "customer": f"cus_{n % 2}"}
                              for n, status in enumerate(statuses)])
    everything = ids(get(fake_stripe, "/v1/subscription_schedules")[2])
    assert everything == [f"sub_sched_{n}" for n in reversed(range(5))]  # newest first
    assert ids(get(fake_stripe, "/v1/subscription_schedules", {"scheduled": "true"})[2]) == ["sub_sched_0"]
    assert ids(get(fake_stripe, "/v1/subscription_schedules", {"customer": "cus_1"})[2]) == [
        "sub_sched_3", "sub_sched_1"]
    page = get(fake_stripe, "/v1/subscription_schedules", {"limit": 2, "starting_after": "sub_sched_3"})[2]
    assert (ids(page), page["has_more"]) == (["sub_sched_2", "sub_sched_1"], True)
    status, _, body = get(fake_stripe, "/v1/subscription_schedules", {"status": "active"})
    assert status == 400 and body["error"]["code"] == "parameter_unknown"  # no such filter
