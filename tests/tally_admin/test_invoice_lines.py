"""Admin write-back saves an invoice with all its lines, not only the ones Stripe embeds."""
import stripe

from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import serve
from tally_admin.stripe_api import with_all_lines
from tests.etl import sync_account


def test_an_invoice_read_for_write_back_carries_all_its_300_lines(tmp_path):
    account = sync_account.build(customers=3)
    invoice = account["invoices"][1]
    invoice["lines"]["data"] = [sync_account._line(f"il_many{j:03d}", invoice["id"], "price_1", 10 + j,
                                                   invoice["created"]) for j in range(300)]
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": base})
        embedded = client.v1.invoices.retrieve(invoice["id"])
        complete = with_all_lines(client, embedded)

    assert len(embedded.lines.data) == 10 and embedded.lines.has_more
    assert [line["id"] for line in complete["lines"]["data"]] == [f"il_many{j:03d}" for j in range(300)]
    assert complete["lines"]["has_more"] is False and complete["amount_due"] == invoice["amount_due"]
