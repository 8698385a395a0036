"""The blocks of the page per customer, with exact numbers on one small customer."""
import pandas as pd
import pytest

from etl.load import load_objects
from metrics.common import MetricError
from metrics.customer import (
    customer_events,
    customer_invoices,
    customer_items,
    customer_payments,
    customer_profile,
    customer_refunds_disputes,
    customer_subscriptions,
)
from metrics.params import Params
from tests.metrics.builders import Account, ts

ONE = Params(extra={"customer_id": "cus_1"})


def charge(id, invoice, created, status, amount=5000, failure=None, disputed=False):
    return {"id": id, "object": "charge", "customer": "cus_1", "invoice": invoice, "created": ts(created),
            "amount": amount, "amount_refunded": 0, "currency": "usd", "status": status,
            "paid": status == "succeeded", "failure_code": failure, "disputed": disputed, "livemode": False,
            "outcome": {"type": "issuer_declined" if failure else "authorized"}}


def build() -> Account:
    """cus_1: $50/month Jan-Mar 2024 on sub_1, canceled March 15 (too expensive); February's
    invoice failed once and was paid on the retry; $10 of January refunded, March disputed."""
    acct = Account()
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2024-03-10T10:00:00+00:00')")
    acct.price("p50", 5000)
    acct.customer("cus_1", country="FR", email="ana@example.com")
    acct.customer("cus_2")
    load_objects(acct.con, "subscriptions", [{
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
        "created": ts("2024-01-01"), "currency": "usd", "livemode": False, "cancel_at_period_end": True,
        "cancellation_details": {"reason": "cancellation_requested", "feedback": "too_expensive",
                                 "comment": "Too pricey"},
        "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item",
                                              "price": acct.prices["p50"], "quantity": 1}]}}])
    for n, start, end in ((1, "2024-01-01", "2024-02-01"), (2, "2024-02-01", "2024-03-01"),
                          (3, "2024-03-01", "2024-04-01")):
        acct.invoice("cus_1", "sub_1", [acct.line("p50", start, end, subscription="sub_1")], id=f"in_{n}",
                     attempt_count=2 if n == 2 else 1)
    acct.subscription("sub_2", "cus_2")
    acct.invoice("cus_2", "sub_2", [acct.line("p50", "2024-01-01", "2024-02-01")], id="in_other")
    load_objects(acct.con, "charges", [
        charge("ch_1", "in_1", "2024-01-01", "succeeded"),
        charge("ch_2a", "in_2", "2024-02-01", "failed", failure="card_declined"),
        charge("ch_2b", "in_2", "2024-02-04", "succeeded"),
        charge("ch_3", "in_3", "2024-03-01", "succeeded", disputed=True)])
    load_objects(acct.con, "refunds", [{"id": "re_1", "object": "refund", "charge": "ch_1", "amount": 1000,
                                        "currency": "usd", "status": "succeeded", "reason": "requested_by_customer",
                                        "created": ts("2024-01-05"), "livemode": False}])
    load_objects(acct.con, "disputes", [{"id": "dp_1", "object": "dispute", "charge": "ch_3", "amount": 5000,
                                         "currency": "usd", "status": "needs_response", "reason": "fraudulent",
                                         "created": ts("2024-03-05"), "livemode": False}])
    load_objects(acct.con, "events", [
        {"id": "evt_1", "object": "event", "type": "customer.subscription.updated", "created": ts("2024-03-06"),
         "livemode": False, "data": {"object": {"id": "sub_1", "object": "subscription", "customer": "cus_1"}}},
        {"id": "evt_2", "object": "event", "type": "customer.updated", "created": ts("2024-03-07"),
         "livemode": False, "data": {"object": {"id": "cus_1", "object": "customer"}}},
        {"id": "evt_3", "object": "event", "type": "customer.updated", "created": ts("2024-03-07"),
         "livemode": False, "data": {"object": {"id": "cus_2", "object": "customer"}}}])
    return acct


@pytest.fixture(scope="module")
def acct():
    return build()


def test_profile_header(acct):
    row = customer_profile(acct.con, ONE).iloc[0]
    assert (row["name"], row["email"], row["country"], row["currency"]) == ("Cus_1", "ana@example.com", "FR", "usd")
    assert pd.Timestamp(row["first_paid_at"]) == pd.Timestamp("2024-01-01")  # not the failed try
    assert row["current_mrr"] == 5000
    # paid 3 x $50; $10 refunded
    assert (row["paid"], row["refunded"], row["lifetime_revenue"]) == (15000, 1000, 14000)


def test_unknown_customer_is_an_empty_profile_and_no_id_is_an_error(acct):
    assert customer_profile(acct.con, Params(extra={"customer_id": "cus_nobody"})).empty
    with pytest.raises(MetricError):
        customer_profile(acct.con, Params())


def test_subscriptions_with_cancellation_reason(acct):
    df = customer_subscriptions(acct.con, ONE)
    assert df["subscription_id"].tolist() == ["sub_1"]
    row = df.iloc[0]
    assert (row["cancellation_reason"], row["cancellation_feedback"], row["cancellation_comment"]) == (
        "cancellation_requested", "too_expensive", "Too pricey")
    assert (bool(row["cancel_at_period_end"]), row["price_id"], row["unit_amount"], row["quantity"]) == (
        True, "p50", 5000, 1)


def test_items_over_time(acct):
    df = customer_items(acct.con, ONE)
    assert df["invoice_id"].tolist() == ["in_3", "in_2", "in_1"]
    assert df["amount"].tolist() == [5000, 5000, 5000]


def test_invoices_payments_retries_refunds_disputes(acct):
    assert customer_invoices(acct.con, ONE)["invoice_id"].tolist() == ["in_3", "in_2", "in_1"]
    payments = customer_payments(acct.con, ONE).set_index("charge_id")
    assert (payments.loc["ch_2a", "attempt"], payments.loc["ch_2a", "failure_code"]) == (1, "card_declined")
    assert (payments.loc["ch_2b", "attempt"], payments.loc["ch_2b", "status"]) == (2, "succeeded")
    money = customer_refunds_disputes(acct.con, ONE)
    assert [(r.kind, r.id, r.amount) for r in money.itertuples()] == [("dispute", "dp_1", 5000),
                                                                      ("refund", "re_1", 1000)]


def test_events_of_this_customer_only(acct):
    assert sorted(customer_events(acct.con, ONE)["event_id"]) == ["evt_1", "evt_2"]


def test_cohort_customers_lists_a_cohort_with_its_mrr_then_and_now():
    from metrics.customer import cohort_customers
    from tests.metrics import scenario
    from tests.metrics.builders import month
    acct = scenario.build()
    params = Params(start=month("2024-01"), end=month("2024-06"), extra={"cohort": "2024-01"})
    rows = [(r.customer_id, r.cohort_mrr, r.end_mrr) for r in cohort_customers(acct.con, params).itertuples()]
    # A 2 -> 3 units, B 2 -> 1, C 1 -> churned in March -> back in April with 1
    assert rows == [("cus_A", 10000, 15000), ("cus_B", 10000, 5000), ("cus_C", 5000, 5000)]
    march = cohort_customers(acct.con, Params(end=month("2024-06"), extra={"cohort": "2024-03"}))
    assert march["customer_id"].tolist() == ["cus_D"]  # F began and ended inside March: in no cohort
    with pytest.raises(MetricError):
        cohort_customers(acct.con, Params())
