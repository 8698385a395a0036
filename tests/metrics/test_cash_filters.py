"""Plan, interval and country filters reach the cash metrics (METRICS.md "Ranges,
filters and exports"): country is the customer's; a charge, refund or dispute
counts for a plan when its invoice has a counted line of that plan, linked by
InvoicePayment (current API) or `invoice.charge` / `charge.invoice` (older);
a charge without an invoice counts only when no plan or interval filter is set."""
import json

import pytest

from etl.load import load_objects
from metrics.dunning import recovery
from metrics.params import Params
from metrics.payments import disputes_by_reason, early_fraud_warnings, fraud, payment_failures, payments
from metrics.tax import tax
from metrics.trials import trial_conversion
from tests.metrics.builders import Account, month, ts


def charge(id, amount, status, day, customer, **kw):
    return {"id": id, "object": "charge", "amount": amount, "currency": "usd", "status": status,
            "created": ts(day), "customer": customer, "livemode": False,
            "outcome": {"type": "authorized" if status == "succeeded" else "issuer_declined",
                        "risk_level": "normal"},
            "failure_code": None if status == "succeeded" else "card_declined"} | kw


@pytest.fixture(scope="module")
def shop():
    acct = Account()
    acct.price("pro_m", 5000, "month", product="prod_pro")
    acct.price("basic_y", 12000, "year", product="prod_basic")
    acct.price("setup", 700, None, product="prod_pro")  # one-off: never a counted line
    for name, country in (("us", "US"), ("de", "DE"), ("fr", "FR")):
        acct.customer(f"cus_{name}", country=country)
    acct.subscription("sub_us", "cus_us")
    acct.subscription("sub_de", "cus_de")
    acct.invoice("cus_us", "sub_us", [acct.line("pro_m", "2024-01-01", "2024-02-01")], id="in_us_1")
    acct.invoice("cus_us", "sub_us", [acct.line("pro_m", "2024-02-01", "2024-03-01")], id="in_us_2",
                 status="open", created="2024-01-31")
    acct.invoice("cus_de", "sub_de", [acct.line("basic_y", "2024-01-10", "2025-01-10")], id="in_de",
                 attempt_count=2)
    acct.invoice("cus_fr", None, [acct.line("setup", "2024-01-15", "2024-01-15")], id="in_fr",
                 billing_reason="manual")
    # the older shape: invoice.charge names its charge
    old = acct.con.execute("SELECT raw FROM invoices WHERE id = 'in_us_2'").fetchall()[0][0]
    load_objects(acct.con, "invoices", [json.loads(old) | {"charge": "ch_us_old"}])
    load_objects(acct.con, "charges", [
        charge("ch_us_ok", 5000, "succeeded", "2024-01-02", "cus_us"),
        charge("ch_us_fail", 5000, "failed", "2024-01-01", "cus_us", payment_intent="pi_us"),
        charge("ch_us_old", 5000, "failed", "2024-01-31", "cus_us"),
        charge("ch_de", 12000, "succeeded", "2024-01-10", "cus_de", invoice="in_de"),
        charge("ch_fr", 2000, "succeeded", "2024-01-15", "cus_fr"),
        charge("ch_fr_setup", 700, "succeeded", "2024-01-15", "cus_fr", invoice="in_fr")])
    # the current API: InvoicePayments, one naming a charge, one a payment intent
    load_objects(acct.con, "invoice_payments", [
        {"id": "inpay_1", "object": "invoice_payment", "invoice": "in_us_1", "amount_paid": 5000,
         "currency": "usd", "status": "paid", "created": ts("2024-01-02"), "livemode": False,
         "payment": {"type": "charge", "charge": "ch_us_ok"}},
        {"id": "inpay_2", "object": "invoice_payment", "invoice": "in_us_1", "amount_paid": 0,
         "currency": "usd", "status": "canceled", "created": ts("2024-01-01"), "livemode": False,
         "payment": {"type": "payment_intent", "payment_intent": "pi_us"}}])
    load_objects(acct.con, "refunds", [
        {"id": "re_us", "object": "refund", "amount": 1000, "currency": "usd", "status": "succeeded",
         "charge": "ch_us_ok", "created": ts("2024-01-20"), "livemode": False},
        {"id": "re_fr", "object": "refund", "amount": 500, "currency": "usd", "status": "succeeded",
         "charge": "ch_fr", "created": ts("2024-01-20"), "livemode": False}])
    load_objects(acct.con, "disputes", [
        {"id": "dp_de", "object": "dispute", "amount": 12000, "currency": "usd", "status": "lost",
         "reason": "fraudulent", "charge": "ch_de", "created": ts("2024-01-25"), "livemode": False}])
    load_objects(acct.con, "balance_transactions", [
        {"id": f"txn_{source}", "object": "balance_transaction", "amount": 0, "fee": fee, "net": -fee,
         "currency": "usd", "type": "charge", "source": source, "created": ts("2024-01-20"),
         "livemode": False}
        for source, fee in (("ch_us_ok", 175), ("ch_de", 378), ("ch_fr", 88))])
    return acct


def jan(**filters) -> Params:
    return Params(start=month("2024-01"), end=month("2024-01"), **filters)


def payments_row(con, **filters):
    df = payments(con, jan(**filters))
    return None if df.empty else tuple(df.iloc[0][["charges", "succeeded", "failed", "gross_volume", "refunds",
                                                   "disputes", "lost_disputes", "fees"]])


@pytest.mark.parametrize("filters, expected", [
    ({}, (6, 4, 2, 19700, 1500, 1, 12000, 641)),
    # in_us_1 through InvoicePayments (a charge, and a payment intent's failed charge), in_us_2
    # through invoice.charge; the setup fee's invoice has no counted line, ch_fr no invoice
    ({"plans": ("prod_pro",)}, (3, 1, 2, 5000, 1000, 0, 0, 175)),
    ({"intervals": ("year",)}, (1, 1, 0, 12000, 0, 1, 12000, 378)),  # charge.invoice
    ({"countries": ("FR",)}, (2, 2, 0, 2700, 500, 0, 0, 88)),
    ({"countries": ("DE",), "intervals": ("year",)}, (1, 1, 0, 12000, 0, 1, 12000, 378)),
    ({"countries": ("US",), "plans": ("prod_basic",)}, None),
])
def test_payments_follow_the_filters(shop, filters, expected):
    assert payments_row(shop.con, **filters) == expected


def test_failures_fraud_and_disputes_follow_the_filters(shop):
    pro = jan(plans=("prod_pro",))
    assert payment_failures(shop.con, pro)["failed"].sum() == 2
    assert payment_failures(shop.con, jan(countries=("DE",))).empty
    assert fraud(shop.con, jan(intervals=("year",)))[["risk_level", "charges"]].values.tolist() == [["normal", 1]]
    assert fraud(shop.con, pro)["charges"].sum() == 3
    assert disputes_by_reason(shop.con, pro).empty
    assert disputes_by_reason(shop.con, jan(countries=("DE",)))["amount"].tolist() == [12000]


def test_dunning_recovery_follows_the_filters(shop):
    def counts(**filters):
        df = recovery(shop.con, jan(**filters))
        return tuple(df[["failed_first_attempt", "recovered"]].sum())
    assert counts() == (2, 1)  # in_us_2 still open, in_de paid on its second attempt
    assert counts(plans=("prod_pro",)) == (1, 0)
    assert counts(countries=("DE",)) == (1, 1)


def test_early_fraud_warnings_follow_their_charge(shop):
    cur = shop.con.cursor()
    cur.execute("BEGIN")
    try:
        load_objects(cur, "early_fraud_warnings", [
            {"id": "issfr_1", "object": "radar.early_fraud_warning", "charge": "ch_de",
             "fraud_type": "stolen_card", "actionable": True, "created": ts("2024-01-12"), "livemode": False}])
        assert early_fraud_warnings(cur, jan(countries=("DE",)))["warnings"].tolist() == [1]
        assert early_fraud_warnings(cur, jan(plans=("prod_pro",))).empty
    finally:
        cur.execute("ROLLBACK")


def test_tax_follows_the_invoice(shop):
    acct = Account()
    acct.price("pro_m", 10000, "month", product="prod_pro")
    acct.price("basic_m", 5000, "month", product="prod_basic")
    acct.customer("cus_de", country="DE")
    acct.customer("cus_fr", country="FR")
    load_objects(acct.con, "tax_rates", [
        {"id": "txr_vat", "object": "tax_rate", "jurisdiction": "EU", "country": "DE",
         "percentage": 20.0, "display_name": "VAT", "inclusive": False}])

    def vat(amount):
        return [{"amount": amount // 5, "tax_behavior": "exclusive", "taxable_amount": amount,
                 "tax_rate_details": {"tax_rate": "txr_vat"}}]
    acct.invoice("cus_de", "sub_de", [acct.line("pro_m", "2024-01-01", "2024-02-01", taxes=vat(10000))])
    acct.invoice("cus_fr", "sub_fr", [acct.line("basic_m", "2024-01-01", "2024-02-01", taxes=vat(5000))])

    def collected(**filters):
        return tax(acct.con, jan(**filters))["tax_collected"].sum()
    assert (collected(), collected(plans=("prod_pro",)), collected(countries=("FR",))) == (3000, 2000, 1000)
    assert collected(intervals=("year",)) == 0


def test_trial_conversion_follows_the_subscription(shop):
    acct = Account()
    acct.price("pro_m", 1000, "month", product="prod_pro")
    acct.price("basic_y", 9000, "year", product="prod_basic")
    acct.customer("cus_us", country="US")
    acct.customer("cus_de", country="DE")
    for sub, customer, price, status in (("sub_1", "cus_us", "pro_m", "paid"),
                                         ("sub_2", "cus_de", "basic_y", "open")):
        # sub_1's plan shows only on its invoices; sub_2's on its subscription item
        acct.subscription(sub, customer, trial_start=ts("2023-12-20"), trial_end=ts("2024-01-10"),
                          price=price if sub == "sub_2" else None)
        acct.invoice(customer, sub, [acct.line(price, "2024-01-10", "2024-02-10")], status=status,
                     created="2024-01-10")

    def counts(**filters):
        return tuple(trial_conversion(acct.con, jan(**filters))[["trials_ended", "converted"]].sum())
    assert counts() == (2, 1)
    assert counts(plans=("prod_pro",)) == (1, 1)
    assert counts(countries=("DE",)) == (1, 0)
    assert counts(intervals=("year",), countries=("US",)) == (0, 0)
