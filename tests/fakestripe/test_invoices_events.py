"""Invoices embed their first ten lines; /lines pages the rest. Events filter by type."""
import stripe

from fakestripe import DEFAULT_API_KEY
from tests.fakestripe import account
from tests.fakestripe.http import get, ids, walk


def test_invoice_embeds_only_first_ten_lines(account_url):
    status, _, invoice = get(account_url, "/v1/invoices/in_big")
    assert status == 200
    lines = invoice["lines"]
    assert [line["id"] for line in lines["data"]] == [f"il_in_big_{n:03d}" for n in range(10)]
    assert lines["has_more"] is True
    assert lines["total_count"] == 25
    assert lines["url"] == "/v1/invoices/in_big/lines"


def test_objects_are_served_exactly_as_written(account_url):
    for expected in account.customers()[:3] + [account.invoices()[2]]:
        path = "/v1/invoices/" if expected["object"] == "invoice" else "/v1/customers/"
        assert get(account_url, path + expected["id"])[2] == expected


def test_invoice_lists_embed_the_same_truncated_lines(account_url):
    _, _, body = get(account_url, "/v1/invoices", {"limit": 100})
    by_id = {inv["id"]: inv for inv in body["data"]}
    assert len(by_id["in_big"]["lines"]["data"]) == 10
    assert by_id["in_small"]["lines"]["has_more"] is False
    assert len(by_id["in_small"]["lines"]["data"]) == 3


def test_lines_endpoint_pages_every_line_in_invoice_order(account_url):
    expected = [f"il_in_big_{n:03d}" for n in range(25)]
    assert walk(account_url, "/v1/invoices/in_big/lines", limit=7) == expected
    _, _, body = get(account_url, "/v1/invoices/in_big/lines",
                     {"limit": 100, "starting_after": "il_in_big_009"})
    assert ids(body) == expected[10:] and body["has_more"] is False
    assert body["url"] == "/v1/invoices/in_big/lines"
    _, _, body = get(account_url, "/v1/invoices/in_big/lines",
                     {"limit": 2, "ending_before": "il_in_big_005"})
    assert ids(body) == expected[3:5] and body["has_more"] is True


def test_lines_endpoint_serves_an_invoice_whose_lines_are_all_embedded(account_url):
    _, _, body = get(account_url, "/v1/invoices/in_small/lines", {"limit": 2})
    assert ids(body) == ["il_in_small_000", "il_in_small_001"] and body["has_more"] is True
    _, _, body = get(account_url, "/v1/invoices/in_small/lines", {"starting_after": "il_in_small_001"})
    assert ids(body) == ["il_in_small_002"] and body["has_more"] is False


def test_lines_of_unknown_invoice_or_line_are_errors(account_url):
    status, _, body = get(account_url, "/v1/invoices/in_nope/lines")
    assert status == 404 and body["error"]["code"] == "resource_missing"
    status, _, body = get(account_url, "/v1/invoices/in_big/lines", {"starting_after": "il_nope"})
    assert status == 400


def test_events_filter_by_exact_type_and_prefix(account_url):
    _, _, body = get(account_url, "/v1/events", {"type": "invoice.paid"})
    assert [e["type"] for e in body["data"]] == ["invoice.paid"]
    _, _, body = get(account_url, "/v1/events", {"type": "customer.*", "limit": 100})
    assert sorted(e["type"] for e in body["data"]) == [
        "customer.created", "customer.subscription.deleted", "customer.updated"]
    _, _, body = get(account_url, "/v1/events", {"type": "*", "limit": 100})
    assert len(body["data"]) == len(account.EVENT_TYPES)


def test_events_types_array_as_stripe_python_sends_it(account_url):
    client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": account_url})
    events = client.v1.events.list({"types": ["invoice.created", "charge.refunded"]})
    assert [e.type for e in events.data] == ["charge.refunded", "invoice.created"]
    _, _, body = get(account_url, "/v1/events", [("types[]", "invoice.paid")])
    assert [e["type"] for e in body["data"]] == ["invoice.paid"]


def test_more_than_twenty_event_types_is_refused(account_url):
    params = [("types[]", f"x.{n}") for n in range(21)]
    status, _, body = get(account_url, "/v1/events", params)
    assert status == 400 and body["error"]["param"] == "types"


def test_stripe_library_auto_paging_reads_every_customer(account_url):
    client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": account_url})
    got = [c.id for c in client.v1.customers.list({"limit": 7}).auto_paging_iter()]
    assert got == account.newest_first(account.customers())
