"""The dunning desk's actions against fakestripe over real HTTP, and what they publish."""
import datetime as dt
import threading

import duckdb
import pytest
import stripe

from fakestripe.testing import DEFAULT_API_KEY, put_objects, serve, stats
from metrics.dunning import failed_invoices, invoices_in_dunning
from metrics.params import Params
from tally_admin import dunning
from tally_admin.writeback import PUBLISHED
from tests.support.read_only import rows as _published
from tests.tally_admin.dunning_account import failed_invoice

PAY = "POST /v1/invoices/{id}/pay"


@pytest.fixture(scope="module")
def fake_url(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("dunning_account")) as base:
        yield base


@pytest.fixture
def client(fake_url):
    return stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": fake_url})


def _pays(base) -> int:
    return stats(base)["endpoints"].get(PAY, 0)


def test_a_double_submitted_retry_charges_once(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url)
    before = _pays(fake_url)
    first = dunning.retry_payment(client, audit, db_path, actor="admin", invoice_id=account["invoice"],
                                  nonce="n1")
    again = dunning.retry_payment(client, audit, db_path, actor="admin", invoice_id=account["invoice"],
                                  nonce="n1")
    assert first.ok and "recovered 49.00 USD" in first.message
    assert again.repeated and again.ok
    assert _pays(fake_url) - before == 1
    assert first.saved == PUBLISHED
    assert _published(db_path, "SELECT status, amount_paid FROM invoices WHERE id = ?",
                      [account["invoice"]]) == [("paid", 4900)]


def test_two_submissions_at_once_charge_once(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url)
    before = _pays(fake_url)
    results = []

    def submit(nonce):
        results.append(dunning.retry_payment(client, audit, None, actor="admin",
                                             invoice_id=account["invoice"], nonce=nonce))
    threads = [threading.Thread(target=submit, args=(f"tab{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.outcome for r in results) == ["refused", "succeeded"]
    assert _pays(fake_url) - before == 1


def test_retrying_an_invoice_paid_meanwhile_says_so_and_charges_nothing(client, fake_url, audit):
    account = failed_invoice(fake_url)
    paid = client.v1.invoices.retrieve(account["invoice"]).to_dict()
    put_objects(fake_url, [dict(paid, status="paid", amount_paid=4900, amount_remaining=0)])
    before = _pays(fake_url)
    result = dunning.retry_payment(client, audit, None, actor="admin", invoice_id=account["invoice"],
                                   nonce="n1")
    assert result.outcome == "refused"
    assert result.message == f"Invoice {account['invoice']} was paid meanwhile; nothing was charged."
    assert _pays(fake_url) == before


def test_a_declined_retry_is_a_failed_outcome_in_the_audit_trail(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url, declines=True)
    result = dunning.retry_payment(client, audit, db_path, actor="admin",
                                   invoice_id=account["invoice"], nonce="n1")
    assert result.outcome == "failed"
    assert "declined" in result.message
    rows = audit.frame()
    assert sorted(rows.phase) == ["attempt", "outcome"]
    assert dunning.desk_recovered_invoices(rows) == set()
    invoice = client.v1.invoices.retrieve(account["invoice"])
    assert (invoice.status, invoice.attempt_count) == ("open", 2)
    assert _published(db_path, "SELECT status, attempt_count FROM invoices WHERE id = ?",
                      [account["invoice"]]) == [("open", 2)]
    assert _published(db_path, "SELECT failure_message FROM charges WHERE invoice_id = ?",
                      [account["invoice"]]) == [("Your card was declined.",)]


def test_a_lost_answer_to_a_retry_is_checked_and_charges_once(fake_url, audit, db_path):
    from tests.support.answer_losing_proxy import answer_losing_proxy
    account = failed_invoice(fake_url)
    with answer_losing_proxy(fake_url, lose=("POST", f"/v1/invoices/{account['invoice']}/pay")) \
            as (proxy, lost):
        client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": proxy})
        result = dunning.retry_payment(client, audit, db_path, actor="admin",
                                       invoice_id=account["invoice"], nonce="n1")
    assert lost and result.ok, result.message
    assert result.message == f"Stripe's answer was lost; Tally checked again: Invoice {account['invoice']} is paid."
    direct = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": fake_url})
    charges = direct.v1.charges.list(params={"customer": account["customer"]}).data
    assert sorted(c.status for c in charges) == ["failed", "succeeded"]  # the old failure, one payment
    assert _published(db_path, "SELECT status FROM invoices WHERE id = ?",
                      [account["invoice"]]) == [("paid",)]


def test_mark_uncollectible_is_published(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url)
    facts = dunning.invoice_facts(client, account["invoice"])
    assert "49.00 USD is written off" in dunning.uncollectible_confirmation(facts)
    result = dunning.mark_uncollectible(client, audit, db_path, actor="admin",
                                        invoice_id=account["invoice"], nonce="n1")
    assert result.ok, result.message
    assert _published(db_path, "SELECT status FROM invoices WHERE id = ?",
                      [account["invoice"]]) == [("uncollectible",)]
    again = dunning.mark_uncollectible(client, audit, db_path, actor="admin",
                                       invoice_id=account["invoice"], nonce="n2")
    assert again.outcome == "refused" and "uncollectible now" in again.message


def test_pause_and_resume_collection(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url)
    sub = account["subscription"]
    paused = dunning.set_collection_paused(client, audit, db_path, actor="admin", subscription_id=sub,
                                           pause=True, behavior="void", nonce="n1")
    assert paused.ok, paused.message
    assert client.v1.subscriptions.retrieve(sub).pause_collection.behavior == "void"
    assert _published(db_path, "SELECT raw->>'$.pause_collection.behavior' FROM subscriptions "
                               "WHERE id = ?", [sub]) == [("void",)]
    twice = dunning.set_collection_paused(client, audit, db_path, actor="admin", subscription_id=sub,
                                          pause=True, nonce="n2")
    assert twice.outcome == "refused"
    resumed = dunning.set_collection_paused(client, audit, db_path, actor="admin", subscription_id=sub,
                                            pause=False, nonce="n3")
    assert resumed.ok, resumed.message
    assert client.v1.subscriptions.retrieve(sub).pause_collection is None


def test_a_retention_credit_goes_to_the_customer_balance_once(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url)
    facts = dunning.invoice_facts(client, account["invoice"])
    assert "Credit 10.00 USD to the balance" in dunning.credit_confirmation(facts, 1000, "usd")
    for _ in range(2):  # a double click: one credit
        result = dunning.credit_customer(client, audit, db_path, actor="admin",
                                         customer_id=account["customer"], amount=1000,
                                         currency="usd", invoice_id=account["invoice"], nonce="n1")
        assert result.ok, result.message
    assert client.v1.customers.retrieve(account["customer"]).balance == -1000
    zero = dunning.credit_customer(client, audit, db_path, actor="admin",
                                   customer_id=account["customer"], amount=0, currency="usd",
                                   invoice_id=account["invoice"], nonce="n2")
    assert zero.outcome == "refused"


def test_the_dunning_list_and_recovery_by_source(client, fake_url, audit, db_path):
    from tally_admin.writeback import save_objects
    desk, left, stripe_paid = (failed_invoice(fake_url, email=f"{n}@example.com")
                               for n in ("desk", "left", "auto"))
    objects = []
    for account in (desk, left, stripe_paid):
        objects += [client.v1.customers.retrieve(account["customer"]).to_dict(),
                    client.v1.subscriptions.retrieve(account["subscription"]).to_dict(),
                    client.v1.invoices.retrieve(account["invoice"]).to_dict(),
                    client.v1.charges.retrieve(account["charge"]).to_dict()]
    save_objects(objects, db_path)
    con = duckdb.connect(db_path, read_only=True)
    listed = invoices_in_dunning(con, Params()).set_index("invoice_id")
    con.close()
    row = listed.loc[desk["invoice"]]
    assert (row.customer_email, row.amount_due, row.attempt_count) == ("desk@example.com", 4900, 1)
    assert row.failure_reason == "Your card has insufficient funds."
    assert row.hosted_invoice_url.endswith(desk["invoice"])
    assert row.next_payment_attempt.year == 2026

    assert dunning.retry_payment(client, audit, db_path, actor="admin", invoice_id=desk["invoice"],
                                 nonce="n1").ok
    paid = client.v1.invoices.retrieve(stripe_paid["invoice"]).to_dict()  # Stripe's own retry
    save_objects([dict(paid, status="paid", amount_paid=4900, amount_remaining=0, attempt_count=2)],
                 db_path)
    con = duckdb.connect(db_path, read_only=True)
    still = set(invoices_in_dunning(con, Params()).invoice_id)
    failed = failed_invoices(con, Params(start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 1)))
    con.close()
    assert left["invoice"] in still and desk["invoice"] not in still
    by_source = dunning.recovery_by_source(failed, dunning.desk_recovered_invoices(audit.frame()))
    may = by_source[by_source.currency == "usd"].iloc[0]
    assert may.failed >= 3
    assert (may.recovered_by_desk, may.recovered_by_stripe) == (1, 1)
    assert (may.desk_amount, may.stripe_amount) == (4900, 4900)


def test_a_coupon_as_a_retention_offer(client, fake_url, audit, db_path):
    account = failed_invoice(fake_url)
    put_objects(fake_url, [
        {"id": "STAY20", "object": "coupon", "created": 1, "name": "Stay with us",
         "percent_off": 20.0, "duration": "repeating", "duration_in_months": 3, "valid": True},
        {"id": "OLD", "object": "coupon", "created": 1, "percent_off": 50.0, "duration": "once",
         "valid": False}])
    offers = dunning.offerable_coupons(client)
    assert offers["STAY20"] == "Stay with us: 20% off for 3 months" and "OLD" not in offers
    result = dunning.apply_coupon(client, audit, db_path, actor="admin",
                                  subscription_id=account["subscription"], coupon_id="STAY20",
                                  nonce="n1")
    assert result.ok, result.message
    assert _published(db_path, "SELECT coupon_id FROM subscriptions WHERE id = ?",
                      [account["subscription"]]) == [("STAY20",)]
    stale = dunning.apply_coupon(client, audit, db_path, actor="admin",
                                 subscription_id=account["subscription"], coupon_id="OLD", nonce="n2")
    assert stale.outcome == "refused" and "can no longer be applied" in stale.message


def test_the_failure_reason_follows_an_invoice_payment_to_its_charges(db_path):
    """Since 2025-03-31 an invoice reaches its charges through InvoicePayments and the payment intent."""
    from tally_admin.writeback import save_objects
    save_objects([
        {"id": "cus_ip", "object": "customer", "created": 1, "email": "ip@example.com", "livemode": False},
        {"id": "in_ip", "object": "invoice", "created": 100, "customer": "cus_ip", "status": "open",
         "currency": "eur", "amount_due": 1200, "amount_remaining": 1200, "attempt_count": 2,
         "attempted": True, "livemode": False, "lines": {"object": "list", "data": []}},
        {"id": "inpay_ip", "object": "invoice_payment", "created": 100, "invoice": "in_ip",
         "amount_requested": 1200, "currency": "eur", "status": "open", "livemode": False,
         "payment": {"type": "payment_intent", "payment_intent": "pi_ip"}},
        {"id": "ch_old", "object": "charge", "created": 110, "customer": "cus_ip",
         "payment_intent": "pi_ip", "status": "failed", "amount": 1200, "currency": "eur",
         "failure_code": "card_declined", "failure_message": "Your card was declined.",
         "outcome": {"type": "issuer_declined", "reason": "insufficient_funds"}, "livemode": False},
        {"id": "ch_new", "object": "charge", "created": 120, "customer": "cus_ip",
         "payment_intent": "pi_ip", "status": "failed", "amount": 1200, "currency": "eur",
         "failure_code": "expired_card", "failure_message": "Your card has expired.",
         "outcome": {"type": "issuer_declined", "reason": "expired_card"}, "livemode": False},
    ], db_path)
    con = duckdb.connect(db_path, read_only=True)
    listed = invoices_in_dunning(con, Params())
    con.close()
    assert listed[["invoice_id", "failure_reason", "failure_code", "attempt_count"]].values.tolist() == [
        ["in_ip", "Your card has expired.", "expired_card", 2]]
