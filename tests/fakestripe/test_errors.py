"""Auth, missing objects, rate limits and injected faults answer as Stripe does."""
import stripe

from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import configure, delete_object, put_objects, stats
from tests.fakestripe.http import get

WRONG_KEY = "sk_test_wrongwrongwrong1234"


def test_wrong_key_is_401_without_echoing_the_key(account_url):
    status, headers, body = get(account_url, "/v1/customers", key=WRONG_KEY)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("Invalid API Key provided: sk_test_")
    assert "wrong" not in body["error"]["message"] and "1234" not in body["error"]["message"]
    assert headers["Request-Id"].startswith("req_")


def test_missing_key_is_401_and_basic_auth_is_accepted(account_url):
    assert get(account_url, "/v1/customers", key=None)[0] == 401
    assert get(account_url, "/v1/customers", basic=True)[0] == 200
    assert get(account_url, "/v1/customers", key=WRONG_KEY, basic=True)[0] == 401


def test_unknown_object_is_404_resource_missing(account_url):
    status, headers, body = get(account_url, "/v1/customers/cus_nope")
    assert status == 404
    assert body["error"]["code"] == "resource_missing"
    assert body["error"]["message"] == "No such customer: 'cus_nope'"
    assert "Request-Id" in headers


def test_unknown_url_is_404(account_url):
    status, _, body = get(account_url, "/v1/widgets")
    assert status == 404 and body["error"]["type"] == "invalid_request_error"


def test_endpoint_rate_limit_answers_429_with_stripe_reason(fake_stripe):
    configure(fake_stripe, endpoint_rate_limit=2)
    answers = [get(fake_stripe, "/v1/customers") for _ in range(10)]
    refused = [(headers, body) for status, headers, body in answers if status == 429]
    assert len(refused) >= 6  # at most 2 admitted per one-second window
    headers, body = refused[0]
    assert headers["Stripe-Rate-Limited-Reason"] == "endpoint-rate"
    assert body["error"]["code"] == "rate_limit"
    assert body["error"]["type"] == "invalid_request_error"
    # another endpoint has its own budget
    assert get(fake_stripe, "/v1/charges")[0] == 200
    counted = stats(fake_stripe)
    assert counted["rate_limited_by_reason"]["endpoint-rate"] == len(refused)
    assert counted["rate_limited_by_endpoint"] == {"GET /v1/customers": len(refused)}


def test_global_rate_limit_spans_endpoints(fake_stripe):
    configure(fake_stripe, rate_limit=3)
    paths = ["/v1/customers", "/v1/charges", "/v1/refunds", "/v1/events"] * 3
    answers = [get(fake_stripe, path) for path in paths]
    reasons = {h.get("Stripe-Rate-Limited-Reason") for status, h, _ in answers if status == 429}
    assert reasons == {"global-rate"}
    configure(fake_stripe, rate_limit=0)
    assert get(fake_stripe, "/v1/customers")[0] == 200


def test_stripe_library_sees_a_rate_limit_error(fake_stripe):
    configure(fake_stripe, endpoint_rate_limit=1)
    client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": fake_stripe})
    try:
        for _ in range(5):
            client.v1.customers.list()
    except stripe.RateLimitError as error:
        assert error.http_status == 429
    else:
        raise AssertionError("five calls within two seconds passed a 1/s limit")


def test_error_rate_one_answers_retryable_500s(fake_stripe):
    configure(fake_stripe, error_rate=1.0)
    status, headers, body = get(fake_stripe, "/v1/customers")
    assert status == 500
    assert headers["Stripe-Should-Retry"] == "true"
    assert body["error"]["type"] == "api_error"
    assert stats(fake_stripe)["server_errors"] == 1


def test_random_500s_repeat_for_the_same_seed(fake_stripe):
    def statuses():
        configure(fake_stripe, error_rate=0.5, seed=7)
        return [get(fake_stripe, "/v1/customers")[0] for _ in range(20)]

    first = statuses()
    assert set(first) == {200, 500}
    assert statuses() == first


def test_deleted_object_retrieves_as_deleted_and_leaves_lists(fake_stripe):
    put_objects(fake_stripe, [{"id": "cus_a", "object": "customer", "created": 1},
                              {"id": "cus_b", "object": "customer", "created": 2}])
    delete_object(fake_stripe, "customer", "cus_a")
    _, _, body = get(fake_stripe, "/v1/customers")
    assert [c["id"] for c in body["data"]] == ["cus_b"]
    status, _, body = get(fake_stripe, "/v1/customers/cus_a")
    assert status == 200
    assert body == {"id": "cus_a", "object": "customer", "deleted": True}
