"""Stripe's list semantics over real HTTP: order, limit, cursors, created, filters."""
from tests.fakestripe import account
from tests.fakestripe.http import get, ids, walk


def test_lists_newest_first_with_id_breaking_created_ties(account_url):
    status, _, body = get(account_url, "/v1/customers", {"limit": 100})
    assert status == 200
    assert body["object"] == "list" and body["url"] == "/v1/customers"
    assert ids(body) == account.newest_first(account.customers())
    assert body["has_more"] is False


def test_limit_defaults_to_ten_and_over_one_hundred_is_refused(account_url):
    _, _, body = get(account_url, "/v1/customers")
    assert len(body["data"]) == 10 and body["has_more"] is True
    status, _, body = get(account_url, "/v1/customers", {"limit": 101})
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == "limit"
    assert get(account_url, "/v1/customers", {"limit": 0})[0] == 400
    assert get(account_url, "/v1/customers", {"limit": "ten"})[0] == 400


def test_starting_after_walks_every_object_once_in_order(account_url):
    assert walk(account_url, "/v1/customers", limit=4) == account.newest_first(account.customers())


def test_ending_before_returns_the_page_just_newer_than_the_cursor(account_url):
    order = account.newest_first(account.customers())
    cursor = order[10]
    _, _, body = get(account_url, "/v1/customers", {"limit": 3, "ending_before": cursor})
    assert ids(body) == order[7:10]
    assert body["has_more"] is True
    _, _, body = get(account_url, "/v1/customers", {"limit": 3, "ending_before": order[2]})
    assert ids(body) == order[0:2]
    assert body["has_more"] is False


def test_both_cursors_at_once_is_refused(account_url):
    status, _, body = get(account_url, "/v1/customers",
                          {"starting_after": "cus_001", "ending_before": "cus_002"})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"


def test_unknown_cursor_is_a_400_resource_missing(account_url):
    for param in ("starting_after", "ending_before"):
        status, _, body = get(account_url, "/v1/customers", {param: "cus_nope"})
        assert status == 400
        assert body["error"]["code"] == "resource_missing"
        assert body["error"]["param"] == param


def test_created_filters_are_inclusive_or_strict_as_named(account_url):
    def created_of(params):
        _, _, body = get(account_url, "/v1/customers", dict(params, limit=100))
        return sorted({obj["created"] for obj in body["data"]})

    assert created_of({"created[gte]": 1030, "created[lt]": 1060}) == [1030, 1040, 1050]
    assert created_of({"created[gt]": 1030, "created[lte]": 1060}) == [1040, 1050, 1060]
    assert created_of({"created": 1020}) == [1020]
    _, _, body = get(account_url, "/v1/customers", {"created": 1020, "limit": 100})
    assert len(body["data"]) == 3  # every object of a created tie
    assert created_of({"created[gt]": 9999}) == []


def test_created_window_and_cursor_combine(account_url):
    inside = [i for i in account.newest_first(account.customers())
              if 1010 <= int(i[4:]) // 3 * 10 + 1000 <= 1050]
    got = walk(account_url, "/v1/customers", {"created[gte]": 1010, "created[lte]": 1050}, limit=2)
    assert got == inside


def test_subscriptions_hide_ended_ones_unless_status_all(account_url):
    subs = account.subscriptions()
    _, _, body = get(account_url, "/v1/subscriptions", {"limit": 100})
    shown = {s["status"] for s in body["data"]}
    assert shown == {"active", "trialing", "past_due", "unpaid"}
    _, _, body = get(account_url, "/v1/subscriptions", {"limit": 100, "status": "all"})
    assert ids(body) == account.newest_first(subs)
    _, _, body = get(account_url, "/v1/subscriptions", {"limit": 100, "status": "canceled"})
    assert ids(body) == account.newest_first([s for s in subs if s["status"] == "canceled"])


def test_customer_filter_with_cursor(account_url):
    expected = account.newest_first([s for s in account.subscriptions() if s["customer"] == "cus_001"])
    assert walk(account_url, "/v1/subscriptions", {"status": "all", "customer": "cus_001"},
                limit=1) == expected


def test_unknown_list_parameter_is_refused_like_stripe(account_url):
    status, _, body = get(account_url, "/v1/customers", {"colour": "red"})
    assert status == 400
    assert body["error"]["code"] == "parameter_unknown"
    assert body["error"]["param"] == "colour"


def test_invoice_payments_filter_by_invoice(account_url):
    _, _, body = get(account_url, "/v1/invoice_payments", {"invoice": "in_big"})
    assert ids(body) == ["inpay_3", "inpay_1"]


def test_ending_before_inside_a_created_window(account_url):
    window = {"created[gte]": 1010, "created[lte]": 1050}
    order = walk(account_url, "/v1/customers", window, limit=100)
    _, _, body = get(account_url, "/v1/customers", dict(window, limit=100, ending_before=order[-1]))
    assert ids(body) == order[:-1] and body["has_more"] is False
