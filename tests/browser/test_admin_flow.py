"""In a real browser: sign in as admin, refund a charge on localstripe, see it on the
Refunds page and in the Audit trail.

Runs its own dashboard server (tests/browser/server.py) with a private database,
audit file and secrets.toml, against a fresh localstripe.
"""
from __future__ import annotations

import re

import duckdb
import pytest

from etl.load import load_mixed
from etl.store import open_working, publish
from tests.browser.helpers import admin_secrets, open_page, patient
from tests.browser.server import dashboard_server
from tests.conftest import LOCALSTRIPE_KEY

ADMIN, PASSWORD = "ada", "ada-browser-password"


def _seed_charge(client, db_path: str) -> dict:
    """A 100.00 EUR charge in localstripe, already synced into the published database."""
    customer = client.v1.customers.create(params={"email": "jane@example.com", "name": "Jane"})
    card = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}})
    client.v1.payment_methods.attach(card.id, params={"customer": customer.id})
    charge = client.v1.charges.create(params={
        "amount": 10000, "currency": "eur", "customer": customer.id, "source": card.id})
    con = open_working(db_path)
    load_mixed(con, [customer.to_dict(), charge.to_dict()])
    publish(con, db_path)
    con.close()
    return charge.to_dict()


@pytest.fixture
def dashboard(localstripe_url, localstripe_client, tmp_path):
    """The dashboard with a local admin user, a private database and audit file, on localstripe."""
    db_path = str(tmp_path / "tally.duckdb")
    charge = _seed_charge(localstripe_client, db_path)
    secrets = admin_secrets(tmp_path, ADMIN, PASSWORD)
    env = {"TALLY_DB": db_path, "TALLY_AUDIT_DB": str(tmp_path / "audit.duckdb"),
           "STRIPE_API_KEY": LOCALSTRIPE_KEY, "STRIPE_API_BASE": localstripe_url}
    with dashboard_server(env, secrets=secrets) as url:
        yield url, charge, db_path


@pytest.fixture
def admin_page(page):
    with patient(page, "admin_flow_last.png"):
        yield page


def _open(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text("Overview", exact=True).wait_for()
    open_page(page, title)


def _find_charge_as_admin(page, url: str, charge_id: str) -> None:
    """Sign in as the admin and look the charge up on the refund page."""
    page.goto(url)
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {ADMIN} (admin)").wait_for()
    _open(page, "Refund a charge")
    search = page.get_by_label("Find a charge")
    search.fill(charge_id)
    search.press("Enter")


def test_admin_refunds_a_charge_and_sees_it_on_refunds_and_audit(dashboard, admin_page,
                                                                  localstripe_client):
    url, charge, db_path = dashboard
    page = admin_page
    _find_charge_as_admin(page, url, charge["id"])
    page.get_by_text("Refundable").wait_for()
    page.get_by_role("button", name="Review refund").click()
    confirmation = (f"Please confirm: Refund 100.00 EUR of 100.00 EUR paid (0.00 EUR already "
                    f"refunded) on {charge['id']} to jane@example.com, reason: requested_by_customer")
    page.get_by_text(confirmation).wait_for()
    page.get_by_role("button", name="Confirm refund").click()
    page.get_by_text(re.compile(r"Refunded 100\.00 EUR on ch_")).wait_for()

    refunds = localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data
    assert [r.amount for r in refunds] == [10000]
    refund_id = refunds[0].id

    _open(page, "Refunds & disputes")
    # st.dataframe draws on a canvas; its accessible grid holds the cell text.
    page.get_by_test_id("stDataFrame").get_by_text(refund_id).first.wait_for(state="attached")

    _open(page, "Audit trail")
    page.get_by_role("button", name="Download the audit trail (CSV)").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the audit trail (CSV)").click()
    audit_csv = open(download.value.path(), encoding="utf-8").read()
    assert "succeeded" in audit_csv and charge["id"] in audit_csv and "ada <ada@example.com>" in audit_csv

    con = duckdb.connect(db_path, read_only=True)
    assert con.execute("SELECT id, amount FROM refunds").fetchall() == [(refund_id, 10000)]
    con.close()


def test_an_amount_out_of_range_gets_an_error_in_the_browser(dashboard, admin_page,
                                                             localstripe_client):
    """The browser no longer blocks such amounts silently: Tally says why it refuses them."""
    url, charge, _ = dashboard
    page = admin_page
    _find_charge_as_admin(page, url, charge["id"])
    amount = page.get_by_label("Amount (EUR)")
    for typed, error in (("150", "Refusing to refund 150.00 EUR: only 100.00 EUR"),
                         ("0", "The refund amount must be more than zero.")):
        amount.fill(typed)
        amount.press("Tab")
        page.get_by_role("button", name="Review refund").click()
        page.get_by_test_id("stAlertContentError").filter(has_text=error).wait_for()
        assert page.get_by_text("Please confirm:").count() == 0
    assert not localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data
