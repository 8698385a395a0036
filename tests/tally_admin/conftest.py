import pytest

from tally_admin.audit import AuditLog
from tests.conftest import LOCALSTRIPE_KEY


@pytest.fixture
def stripe_env(localstripe_url, monkeypatch):
    monkeypatch.setenv("STRIPE_API_KEY", LOCALSTRIPE_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe_url)
    return localstripe_url


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "tally.duckdb")


@pytest.fixture
def empty_published_db(db_path):
    """A published database with nothing synced yet (what the admin pages open on day one)."""
    from etl.store import open_working, publish
    con = open_working(db_path)
    publish(con, db_path)
    con.close()
    return db_path


@pytest.fixture
def audit(tmp_path):
    return AuditLog(str(tmp_path / "audit.duckdb"))


def _card_customer(client, email):
    customer = client.v1.customers.create(params={"email": email, "name": "Jane Doe"})
    card = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}})
    client.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={
        "invoice_settings": {"default_payment_method": card.id}})
    return customer, card


@pytest.fixture
def make_charge(localstripe_client):
    """A succeeded charge of `amount` minor units for jane@example.com."""
    def make(amount=10000, currency="eur", email="jane@example.com"):
        customer, card = _card_customer(localstripe_client, email)
        return localstripe_client.v1.charges.create(params={
            "amount": amount, "currency": currency, "customer": customer.id,
            "source": card.id}).to_dict()
    return make


@pytest.fixture
def make_subscription(localstripe_client):
    """An active monthly subscription (20.00 EUR, paid at once) for jane@example.com."""
    def make(email="jane@example.com", amount=2000):
        customer, _ = _card_customer(localstripe_client, email)
        product = localstripe_client.v1.products.create(params={"name": "Pro"})
        plan = localstripe_client.v1.plans.create(params={
            "amount": amount, "currency": "eur", "interval": "month", "product": product.id})
        return localstripe_client.v1.subscriptions.create(params={
            "customer": customer.id, "items": [{"plan": plan.id}]}).to_dict()
    return make
