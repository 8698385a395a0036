"""The loader: current and older Stripe shapes land in the same typed columns."""
import datetime as dt

import pytest

from etl.load import connect, load_mixed, load_objects, mark_deleted

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
MONTH = 30 * 86400


@pytest.fixture
def con():
    return connect(":memory:")


def new_shape_subscription(items):
    return {"id": "sub_new", "object": "subscription", "customer": "cus_1", "status": "active",
            "created": T0, "currency": "usd", "discounts": ["di_1"],
            "items": {"object": "list", "data": items}}


def item(item_id, price, start=T0, end=T0 + MONTH):
    return {"id": item_id, "object": "subscription_item", "subscription": "sub_new",
            "price": {"id": price, "object": "price"}, "quantity": 2,
            "current_period_start": start, "current_period_end": end}


def new_shape_invoice():
    return {
        "id": "in_new", "object": "invoice", "customer": "cus_1", "status": "paid",
        "currency": "usd", "amount_due": 2200, "amount_paid": 2200, "created": T0,
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": "sub_new"}},
        "total_taxes": [{"amount": 200}],
        "status_transitions": {"paid_at": T0 + 60},
        "lines": {"object": "list", "has_more": False, "data": [{
            "id": "il_1", "object": "line_item", "invoice": "in_new", "amount": 2000,
            "currency": "usd", "quantity": 2,
            "parent": {"type": "subscription_item_details", "subscription_item_details": {
                "subscription": "sub_new", "subscription_item": "si_a", "proration": True}},
            "pricing": {"type": "price_details",
                        "price_details": {"price": "price_a", "product": "prod_a"}},
            "period": {"start": T0, "end": T0 + MONTH},
            "discount_amounts": [{"amount": 300, "discount": "di_1"}],
            "taxes": [{"amount": 200, "tax_behavior": "inclusive", "taxable_amount": 1800,
                       "type": "tax_rate_details", "tax_rate_details": {"tax_rate": "txr_1"}}],
        }]},
    }


def old_shape_invoice():
    # Pre-2025 shape (and localstripe's): subscription, charge, paid, plan, tax_amounts.
    return {
        "id": "in_old", "object": "invoice", "customer": "cus_1", "status": "paid",
        "currency": "usd", "amount_due": 2200, "amount_paid": 2200, "created": T0,
        "subscription": "sub_old", "charge": "ch_1", "paid": True, "tax": 200,
        "lines": {"object": "list", "has_more": False, "data": [{
            "id": "sli_1", "object": "line_item", "type": "subscription", "amount": 2000,
            "currency": "usd", "quantity": 2, "subscription": "sub_old",
            "subscription_item": "si_a", "proration": True,
            "plan": {"id": "price_a", "object": "plan", "interval": "month",
                     "interval_count": 1, "usage_type": "licensed", "product": "prod_a"},
            "period": {"start": T0, "end": T0 + MONTH},
            "discount_amounts": [{"amount": 300, "discount": "di_1"}],
            "tax_amounts": [{"amount": 200, "inclusive": True, "tax_rate": "txr_1",
                             "taxable_amount": 1800}],
        }]},
    }


LINE_COLUMNS = ("subscription_id, subscription_item_id, kind, price_id, product_id, amount, "
                "quantity, proration, discount_amount, tax_amount, inclusive_tax_amount, "
                "period_start, period_end")


def test_invoice_lines_of_both_shapes_fill_the_same_columns(con):
    load_mixed(con, [new_shape_invoice(), old_shape_invoice()])
    rows = con.execute(f"SELECT invoice_id, {LINE_COLUMNS} FROM invoice_lines "
                       "ORDER BY invoice_id").fetchall()
    new, old = [r[1:] for r in rows if r[0] == "in_new"], [r[1:] for r in rows if r[0] == "in_old"]
    start = dt.datetime(2023, 11, 14, 22, 13, 20)
    assert new[0] == ("sub_new", "si_a", "subscription", "price_a", "prod_a", 2000, 2, True,
                      300, 200, 200, start, start + dt.timedelta(seconds=MONTH))
    assert old[0][1:] == new[0][1:]  # same typed values apart from the subscription id
    taxes = con.execute("SELECT invoice_id, tax_rate_id, amount, inclusive "
                        "FROM invoice_line_taxes ORDER BY invoice_id").fetchall()
    assert taxes == [("in_new", "txr_1", 200, True), ("in_old", "txr_1", 200, True)]


def test_invoices_of_both_shapes_fill_the_same_columns(con):
    load_mixed(con, [new_shape_invoice(), old_shape_invoice()])
    rows = con.execute("SELECT id, subscription_id, tax, paid FROM invoices ORDER BY id").fetchall()
    assert rows == [("in_new", "sub_new", 200, True), ("in_old", "sub_old", 200, True)]
    assert con.execute("SELECT charge_id FROM invoices WHERE id = 'in_old'").fetchone() == ("ch_1",)


def test_subscription_period_comes_from_items_or_from_the_subscription(con):
    old = {"id": "sub_old", "object": "subscription", "customer": "cus_1", "status": "active",
           "created": T0, "current_period_start": T0, "current_period_end": T0 + MONTH,
           "discount": {"coupon": {"id": "SAVE20"}},
           "items": {"data": [{"id": "si_o", "object": "subscription_item",
                               "plan": {"id": "gold", "object": "plan"}, "quantity": 1}]}}
    load_mixed(con, [new_shape_subscription([item("si_a", "price_a")]), old])
    rows = con.execute("SELECT id, epoch(current_period_start)::BIGINT, "
                       "epoch(current_period_end)::BIGINT FROM subscriptions ORDER BY id").fetchall()
    assert rows == [("sub_new", T0, T0 + MONTH), ("sub_old", T0, T0 + MONTH)]
    assert con.execute("SELECT coupon_id FROM subscriptions WHERE id='sub_old'").fetchone() == ("SAVE20",)
    items = con.execute("SELECT id, subscription_id, price_id FROM subscription_items "
                        "ORDER BY id").fetchall()
    assert items == [("si_a", "sub_new", "price_a"), ("si_o", "sub_old", "gold")]


def test_plans_load_as_prices(con):
    plan = {"id": "gold", "object": "plan", "amount": 5000, "currency": "eur",
            "interval": "year", "interval_count": 1, "usage_type": "licensed", "product": "prod_g"}
    price = {"id": "price_m", "object": "price", "unit_amount": 900, "currency": "usd",
             "type": "recurring", "product": "prod_m",
             "recurring": {"interval": "month", "interval_count": 3, "usage_type": "metered"}}
    load_mixed(con, [plan, price])
    rows = con.execute("SELECT id, product_id, unit_amount, currency, type, interval, "
                       "interval_count, usage_type FROM prices ORDER BY id").fetchall()
    assert rows == [("gold", "prod_g", 5000, "eur", "recurring", "year", 1, "licensed"),
                    ("price_m", "prod_m", 900, "usd", "recurring", "month", 3, "metered")]


def test_loading_twice_changes_nothing_and_the_newest_duplicate_wins(con):
    first = {"id": "cus_1", "object": "customer", "email": "old@example.com", "created": T0}
    newer = {**first, "email": "new@example.com"}
    load_objects(con, "customers", [first, newer])
    load_objects(con, "customers", [first, newer])
    assert con.execute("SELECT id, email FROM customers").fetchall() == [("cus_1", "new@example.com")]
    assert con.execute("SELECT raw->>'email' FROM customers").fetchone() == ("new@example.com",)


def test_items_removed_from_a_subscription_disappear(con):
    load_mixed(con, [new_shape_subscription([item("si_a", "price_a"), item("si_b", "price_b")])])
    load_mixed(con, [new_shape_subscription([item("si_b", "price_b")])])
    assert con.execute("SELECT id FROM subscription_items").fetchall() == [("si_b",)]


def test_deleted_objects_are_marked_not_lost(con):
    load_objects(con, "customers", [{"id": "cus_1", "object": "customer", "created": T0}])
    mark_deleted(con, "customers", ["cus_1"])
    assert con.execute("SELECT id, deleted FROM customers").fetchall() == [("cus_1", True)]


def test_every_row_records_api_version_synced_at_and_raw_json(con):
    load_objects(con, "customers", [{"id": "cus_1", "object": "customer", "created": T0}],
                 api_version="2019-12-03")
    version, synced, raw = con.execute("SELECT api_version, synced_at, raw FROM customers").fetchone()
    assert version == "2019-12-03" and synced is not None and '"cus_1"' in raw


def test_loose_values_convert_like_before_whole_columns_or_not(con):
    # Arrow converts whole columns of plain values; anything else (a number
    # where text is expected, a float timestamp, 0/1 flags) is converted per value.
    loose = {"id": "cpn_loose", "object": "coupon", "created": float(T0), "name": 42,
             "percent_off": 10, "amount_off": True, "valid": 1, "duration_in_months": 3.0}
    plain = {"id": "cpn_plain", "object": "coupon", "created": T0, "name": "Ten",
             "percent_off": 12.5, "amount_off": 500, "valid": False, "currency": "usd"}
    load_objects(con, "coupons", [loose, plain])
    rows = con.execute("SELECT id, created, name, percent_off, amount_off, valid, "
                       "duration_in_months, currency FROM coupons ORDER BY id").fetchall()
    created = dt.datetime(2023, 11, 14, 22, 13, 20)
    assert rows == [("cpn_loose", created, "42", 10.0, 1, True, 3, None),
                    ("cpn_plain", created, "Ten", 12.5, 500, False, None, "usd")]
