"""The dunning desk page: list, restate, act once, and the recovery chart (AppTest, fakestripe)."""
import datetime as dt
import re

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from fakestripe.testing import DEFAULT_API_KEY, serve, stats
from tally_admin.writeback import save_objects
from tally_auth import tokens
from tally_auth.passwords import hash_password
from tally_ui import filters
from tests.conftest import ROOT
from tests.tally_admin.dunning_account import failed_invoice

MAY = dt.date(2026, 5, 1)  # the month the test invoices failed
HARNESS = str(ROOT / "tests" / "tally_admin" / "dunning_harness.py")
USERS = {"users": {"ada": {"password_hash": hash_password("ada-password"), "role": "admin",
                           "email": "ada@example.com"},
                   "vic": {"password_hash": hash_password("vic-password"), "role": "viewer"}}}


@pytest.fixture(scope="module")
def fake_url(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("dunning_page")) as base:
        yield base


@pytest.fixture
def desk(fake_url, tmp_path, monkeypatch):
    """Two invoices in dunning, synced into the database; a function opening the page."""
    import stripe
    monkeypatch.setenv("STRIPE_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", fake_url)
    db = str(tmp_path / "tally.duckdb")
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.setenv("TALLY_AUDIT_DB", str(tmp_path / "audit.duckdb"))
    client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": fake_url})
    accounts = [failed_invoice(fake_url, email="bo@example.com", amount=9900),
                failed_invoice(fake_url, email="cy@example.com", amount=1500)]
    objects = []
    for account in accounts:
        objects += [client.v1.customers.retrieve(account["customer"]).to_dict(),
                    client.v1.subscriptions.retrieve(account["subscription"]).to_dict(),
                    client.v1.invoices.retrieve(account["invoice"]).to_dict(),
                    client.v1.charges.retrieve(account["charge"]).to_dict()]
    save_objects(objects, db)

    def open_page(user="ada"):
        at = AppTest.from_file(HARNESS, default_timeout=30)
        at.secrets["tally_auth"] = USERS
        at.session_state["_tally_auth_token"] = tokens.issue(user)
        at.session_state[filters.START] = at.session_state[filters.END] = MAY
        at.run()
        at._page_hash = calc_hash("dunning")
        return at.run()
    return open_page, accounts, db, client


def _texts(elements):
    return re.sub(r"\\(.)", r"\1", " ".join(e.value for e in elements))


def _click(at, label):
    next(b for b in at.button if b.label == label).click()
    return at.run()


def test_the_desk_lists_restates_and_retries_once(desk, fake_url):
    open_page, (big, small), db, client = desk
    at = open_page()
    assert not at.exception
    listed = at.dataframe[0].value
    assert list(listed.invoice_id) == [big["invoice"], small["invoice"]]
    assert set(listed.failure_reason) == {"Your card has insufficient funds."}
    assert [m.value for m in at.metric][:2] == ["99.00 USD", "1"]
    assert at.code[0].value == f"https://invoice.stripe.com/i/acct_test/{big['invoice']}"
    at.radio(key="dunning_action").set_value("retry")
    at = _click(at, "Review")
    assert _texts(at.warning) == (f"Please confirm: Charge 99.00 USD now for invoice {big['invoice']} "
                                  "for bo@example.com with the customer's default payment method "
                                  "(attempt 2).")
    pays = stats(fake_url)["endpoints"].get("POST /v1/invoices/{id}/pay", 0)
    at = _click(at, "Confirm")
    assert f"Invoice {big['invoice']} is paid: recovered 99.00 USD" in _texts(at.success)
    assert stats(fake_url)["endpoints"]["POST /v1/invoices/{id}/pay"] == pays + 1
    assert list(at.dataframe[0].value.invoice_id) == [small["invoice"]]  # published at once
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT status FROM invoices WHERE id = ?", [big["invoice"]]).fetchall() == [("paid",)]
    con.close()
    assert any("Recovered by the desk" in h.value for h in at.subheader)
    by_source = at.dataframe[1].value
    assert list(by_source.recovered_by_desk) == [1]
    assert list(by_source.recovered_by_stripe) == [0]
    assert list(by_source.failed) == [2]
    assert at.get("plotly_chart")


def test_the_desk_credits_and_refuses_a_zero_credit(desk):
    open_page, (big, _), _, client = desk
    at = open_page()
    at.radio(key="dunning_action").set_value("credit")
    at = _click(at, "Review")
    assert "Enter a credit greater than zero." in _texts(at.error)
    at.number_input(key="dunning_credit").set_value(12.5)
    at = _click(at, "Review")
    assert "Please confirm: Credit 12.50 USD to the balance of customer" in _texts(at.warning)
    at = _click(at, "Confirm")
    assert "Credited 12.50 USD" in _texts(at.success)
    assert client.v1.customers.retrieve(big["customer"]).balance == -1250


def test_viewers_cannot_open_the_desk(desk):
    open_page, *_ = desk
    at = open_page(user="vic")
    assert not any(t.value == "Dunning desk" for t in at.title)
    assert not at.dataframe


def test_the_desk_offers_a_coupon(desk, fake_url):
    from fakestripe.testing import put_objects
    put_objects(fake_url, [{"id": "STAY10", "object": "coupon", "created": 1, "percent_off": 10.0,
                            "duration": "once", "valid": True}])
    open_page, (big, _), db, client = desk
    at = open_page()
    at.radio(key="dunning_action").set_value("coupon")
    at.selectbox(key="dunning_coupon").set_value("STAY10")
    at = _click(at, "Review")
    assert (f"Please confirm: Apply coupon STAY10 (STAY10: 10% off once) to subscription "
            f"{big['subscription']}") in _texts(at.warning)
    at = _click(at, "Confirm")
    assert "Coupon STAY10" in _texts(at.success)
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT coupon_id FROM subscriptions WHERE id = ?",
                       [big["subscription"]]).fetchall() == [("STAY10",)]
    con.close()
