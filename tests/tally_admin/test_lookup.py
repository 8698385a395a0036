"""Finding the charge or subscription an admin means, against localstripe."""
from etl.load import load_mixed
from etl.store import open_working, publish
from tally_admin.lookup import find_charges, find_subscriptions
from tally_admin.stripe_api import client_from_env


def test_charges_by_id_email_and_customer(stripe_env, make_charge):
    charge = make_charge(email="finder@example.com")
    client = client_from_env()
    assert [c["id"] for c in find_charges(client, f"  {charge['id']} ")] == [charge["id"]]
    assert [c["id"] for c in find_charges(client, "finder@example.com")] == [charge["id"]]
    assert [c["id"] for c in find_charges(client, charge["customer"])] == [charge["id"]]
    assert find_charges(client, "nobody@example.com") == []
    assert find_charges(client, "") == []


def test_charges_by_invoice_id_and_by_invoice_number(stripe_env, make_subscription, db_path,
                                                     localstripe_client):
    sub = make_subscription()
    invoice = localstripe_client.v1.invoices.retrieve(sub["latest_invoice"]).to_dict()
    client = client_from_env()
    by_id = find_charges(client, invoice["id"])
    assert len(by_id) == 1 and by_id[0]["amount"] == 2000
    # Stripe cannot list invoices by number: the local copy resolves it.
    con = open_working(db_path)
    load_mixed(con, [{**invoice, "number": "TALLY-0042"}])
    publish(con, db_path)
    con.close()
    assert [c["id"] for c in find_charges(client, "TALLY-0042", db_path)] == [by_id[0]["id"]]
    assert find_charges(client, "TALLY-9999", db_path) == []


def test_subscriptions_by_id_and_email_include_canceled_ones(stripe_env, make_subscription,
                                                             localstripe_client):
    sub = make_subscription(email="subs@example.com")
    localstripe_client.v1.subscriptions.cancel(sub["id"])
    client = client_from_env()
    assert [s["id"] for s in find_subscriptions(client, sub["id"])] == [sub["id"]]
    found = find_subscriptions(client, "subs@example.com")
    assert [(s["id"], s["status"]) for s in found] == [(sub["id"], "canceled")]


class _Listed:
    def __init__(self, data):
        self.data = data


class _Service:
    def __init__(self, objects=(), listed=()):
        self.objects = {o["id"]: o for o in objects}
        self.listed = list(listed)

    def retrieve(self, object_id):
        return self.objects[object_id]

    def list(self, params):
        return _Listed([o for o in self.listed if o.get("invoice") == params.get("invoice")])


def test_invoice_charges_in_the_current_api_come_from_invoice_payments():
    from types import SimpleNamespace

    from tally_admin.lookup import invoice_charges
    charge = {"id": "ch_new", "object": "charge", "amount": 900, "currency": "usd"}
    intent = {"id": "pi_new", "object": "payment_intent", "latest_charge": "ch_new"}
    payments = [
        {"id": "inpay_1", "invoice": "in_new", "payment": {"type": "payment_intent",
                                                           "payment_intent": "pi_new"}},
        {"id": "inpay_2", "invoice": "in_other", "payment": {"type": "charge", "charge": "ch_x"}},
    ]
    client = SimpleNamespace(v1=SimpleNamespace(
        charges=_Service([charge]), payment_intents=_Service([intent]),
        invoice_payments=_Service(listed=payments)))
    invoice = {"id": "in_new", "object": "invoice"}  # no `charge` since 2025-03-31
    assert [c["id"] for c in invoice_charges(client, invoice)] == ["ch_new"]
