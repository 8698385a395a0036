"""Stripe's error answers over real HTTP become one clear line each, recorded in the audit."""
import json

import pytest
import stripe

from tally_admin.refunds import refund_charge
from tests.support.servers import QuietHandler, serving

ERRORS = {
    "restricted": (403, {"type": "invalid_request_error",
                         "message": "The provided key 'rk_test_****abcd' does not have the "
                                    "required permissions for this endpoint."}),
    "already_refunded": (400, {"type": "invalid_request_error", "code": "charge_already_refunded",
                               "message": "Charge ch_1 has already been refunded."}),
    "disputed": (400, {"type": "invalid_request_error", "code": "charge_disputed",
                       "message": "Charge ch_1 has been charged back."}),
    "missing": (404, {"type": "invalid_request_error", "code": "resource_missing",
                      "message": "No such charge: 'ch_1'"}),
}


@pytest.fixture
def stripe_answering(request):
    """A loopback server that answers every request with one Stripe error."""
    status, error = ERRORS[request.param]

    class Handler(QuietHandler):
        def _answer(self):
            self.answer(status, json.dumps({"error": error}).encode(),
                        {"Content-Type": "application/json", "Request-Id": "req_test123"})

        do_GET = do_POST = do_DELETE = _answer

    with serving(Handler) as base:
        yield stripe.StripeClient("rk_test_abcd", base_addresses={"api": base})


@pytest.mark.parametrize("stripe_answering, expected", [
    ("restricted", "Permission denied: the Stripe key is a restricted key"),
    ("already_refunded", "This charge has already been refunded in full."),
    ("disputed", "This charge is disputed"),
    ("missing", "Stripe has no such object"),
], indirect=["stripe_answering"])
def test_each_stripe_error_is_one_clear_recorded_line(stripe_answering, expected, audit):
    result = refund_charge(stripe_answering, audit, None, actor="alice", charge_id="ch_1",
                           amount=100, reason="duplicate", nonce="n")
    assert result.outcome == "failed" and result.message.startswith(expected)
    assert result.request_id == "req_test123"
    assert "rk_test" not in result.message
    outcome = audit.frame().iloc[0]
    assert (outcome.outcome, outcome.stripe_request_id) == ("failed", "req_test123")
