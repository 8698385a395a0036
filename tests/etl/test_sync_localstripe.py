"""localstripe as an independent peer: old API shapes, oldest-first lists, no filters."""
import duckdb

from etl.client import StripeHTTP
from etl.sync import run_sync
from tests.conftest import LOCALSTRIPE_KEY


def _account(client):
    """Two paying subscribers and a one-off charge, made through the real stripe library."""
    product = client.v1.products.create({"name": "Pro"})
    client.v1.plans.create({"id": "pro-monthly", "amount": 2500, "currency": "usd",
                            "interval": "month", "product": product.id})
    subs = []
    for email in ("a@example.com", "b@example.com"):
        customer = client.v1.customers.create({"email": email})
        card = client.v1.payment_methods.create({"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        client.v1.payment_methods.attach(card.id, {"customer": customer.id})
        client.v1.customers.update(customer.id,
                                   {"invoice_settings": {"default_payment_method": card.id}})
        subs.append(client.v1.subscriptions.create(
            {"customer": customer.id, "items": [{"plan": "pro-monthly"}]}))
    charge = client.v1.charges.create({"amount": 700, "currency": "usd", "customer": customer.id})
    return subs, charge


def _sync(url, db):
    return run_sync(str(db), client=StripeHTTP(LOCALSTRIPE_KEY, url, rate=200, backoff_base=0.01))


def test_localstripe_old_shapes_sync_then_refund_and_cancel(localstripe_client, localstripe_url,
                                                            tmp_path):
    subs, charge = _account(localstripe_client)
    db = tmp_path / "tally.duckdb"

    first = _sync(localstripe_url, db)

    assert first.status == "ok", first.message
    assert first.jobs["disputes"]["status"] == "skipped"  # localstripe has no /v1/disputes
    with duckdb.connect(str(db), read_only=True) as con:
        # Plans (no Prices API) fill the prices table, old shape into the same columns.
        assert con.execute("SELECT id, unit_amount, interval, type FROM prices").fetchall() == \
            [("pro-monthly", 2500, "month", "recurring")]
        rows = con.execute("""SELECT id, status, current_period_end IS NOT NULL FROM subscriptions
                              ORDER BY id""").fetchall()
        assert rows == sorted((s.id, "active", True) for s in subs)
        assert con.execute("SELECT count(*) FROM subscription_items").fetchone()[0] == 2
        assert con.execute("""SELECT count(*) FROM invoice_lines l JOIN invoices i
                              ON l.invoice_id = i.id WHERE l.subscription_id IS NOT NULL
                              AND l.price_id = 'pro-monthly'""").fetchone()[0] == 2
        # The old `invoice.charge` link fills charge_id.
        assert con.execute("SELECT count(*) FROM invoices WHERE charge_id LIKE 'ch_%'"
                           ).fetchone()[0] == 2
        assert con.execute("SELECT amount, amount_refunded FROM charges WHERE id = ?",
                           [charge.id]).fetchone() == (700, 0)

    localstripe_client.v1.refunds.create({"charge": charge.id, "amount": 300})
    localstripe_client.v1.subscriptions.cancel(subs[0].id)
    second = _sync(localstripe_url, db)

    assert second.status == "ok", second.message
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM subscriptions WHERE id = ?",
                           [subs[0].id]).fetchone() == ("canceled",)
        assert con.execute("SELECT status FROM subscriptions WHERE id = ?",
                           [subs[1].id]).fetchone() == ("active",)
        assert con.execute("SELECT amount, charge_id FROM refunds").fetchall() == [(300, charge.id)]
        assert con.execute("SELECT amount_refunded FROM charges WHERE id = ?",
                           [charge.id]).fetchone() == (300,)
        assert con.execute("SELECT count(*) FROM subscriptions WHERE deleted").fetchone() == (0,)
        # One status snapshot per subscription for today, not one per sync.
        assert con.execute("SELECT count(*) FROM subscription_snapshots").fetchone() == (2,)
