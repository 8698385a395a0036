"""In a real browser: an admin opens the dunning desk, copies the hosted link, double-clicks
Confirm on a retry, and the invoice is charged once (fakestripe plays Stripe over HTTP)."""
from __future__ import annotations

import re

import pytest
import stripe

from fakestripe.testing import DEFAULT_API_KEY, serve, stats
from tally_admin.writeback import save_objects
from tests.browser.helpers import admin_secrets, open_page, patient
from tests.browser.server import dashboard_server
from tests.tally_admin.dunning_account import failed_invoice

ADMIN, PASSWORD = "ada", "ada-browser-password"
PAY = "POST /v1/invoices/{id}/pay"


@pytest.fixture
def desk(tmp_path):
    (tmp_path / "account").mkdir()
    with serve(tmp_path / "account") as fake:
        client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": fake})
        account = failed_invoice(fake, email="bo@example.com", amount=9900)
        db_path = str(tmp_path / "tally.duckdb")
        save_objects([client.v1.customers.retrieve(account["customer"]).to_dict(),
                      client.v1.subscriptions.retrieve(account["subscription"]).to_dict(),
                      client.v1.invoices.retrieve(account["invoice"]).to_dict(),
                      client.v1.charges.retrieve(account["charge"]).to_dict()], db_path)
        secrets = admin_secrets(tmp_path, ADMIN, PASSWORD)
        env = {"TALLY_DB": db_path, "TALLY_AUDIT_DB": str(tmp_path / "audit.duckdb"),
               "STRIPE_API_KEY": DEFAULT_API_KEY, "STRIPE_API_BASE": fake}
        with dashboard_server(env, secrets=secrets) as url:
            yield url, fake, account, client


@pytest.fixture
def admin_page(page):
    with patient(page, "dunning_desk_last.png"):
        yield page


def test_a_double_clicked_retry_charges_once(desk, admin_page):
    url, fake, account, client = desk
    page = admin_page
    page.goto(url)
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {ADMIN} (admin)").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_text("Overview", exact=True).wait_for()
    open_page(page, "Dunning desk")
    assert re.search(r"/dunning(\?|$)", page.url)

    page.get_by_text(f"https://invoice.stripe.com/i/acct_test/{account['invoice']}").wait_for()
    page.get_by_role("button", name="Review", exact=True).click()
    page.get_by_text(f"Please confirm: Charge 99.00 USD now for invoice {account['invoice']}").wait_for()
    page.get_by_role("button", name="Confirm", exact=True).dblclick()
    page.get_by_text(re.compile(r"is paid: recovered 99\.00 USD")).wait_for()

    assert stats(fake)["endpoints"][PAY] == 1
    assert client.v1.invoices.retrieve(account["invoice"]).status == "paid"
    page.get_by_text("No invoice is in dunning").wait_for()
