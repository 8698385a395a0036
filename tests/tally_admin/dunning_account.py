"""A customer with an open invoice whose first payment failed, put into fakestripe."""
from __future__ import annotations

import itertools

from fakestripe.testing import put_objects

CREATED = 1_780_000_000  # 2026-05-28
_numbers = itertools.count(1)


def failed_invoice(base: str, *, declines: bool = False, amount: int = 4900,
                   currency: str = "usd", email: str = "ana@example.com") -> dict:
    """Customer, subscription, open invoice (1 failed attempt) and its failed charge.

    `declines`: the customer's card declines again (Stripe's test payment method
    `pm_card_chargeCustomerFail`); otherwise a retry succeeds (`pm_card_visa`)."""
    n = next(_numbers)
    customer, sub, invoice = f"cus_dun{n}", f"sub_dun{n}", f"in_dun{n}"
    method = "pm_card_chargeCustomerFail" if declines else "pm_card_visa"
    objects = [
        {"id": customer, "object": "customer", "created": CREATED, "email": email,
         "livemode": False, "balance": 0,
         "invoice_settings": {"default_payment_method": method}},
        {"id": sub, "object": "subscription", "created": CREATED, "customer": customer,
         "status": "past_due", "livemode": False, "pause_collection": None, "currency": currency,
         "items": {"object": "list", "data": [], "has_more": False}},
        {"id": invoice, "object": "invoice", "created": CREATED, "customer": customer,
         "customer_email": email, "livemode": False, "status": "open", "currency": currency,
         "billing_reason": "subscription_cycle", "amount_due": amount, "amount_paid": 0,
         "amount_remaining": amount, "subtotal": amount, "total": amount,
         "attempt_count": 1, "attempted": True, "next_payment_attempt": CREATED + 3 * 86400,
         "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_test/{invoice}",
         "parent": {"type": "subscription_details",
                    "subscription_details": {"subscription": sub}},
         "status_transitions": {"finalized_at": CREATED, "paid_at": None},
         "lines": {"object": "list", "data": [], "has_more": False}},
        {"id": f"ch_dun{n}", "object": "charge", "created": CREATED + 60, "customer": customer,
         "invoice": invoice, "livemode": False, "amount": amount, "currency": currency,
         "status": "failed", "paid": False, "captured": False, "amount_refunded": 0,
         "failure_code": "card_declined", "failure_message": "Your card has insufficient funds.",
         "outcome": {"type": "issuer_declined", "reason": "insufficient_funds"}},
    ]
    put_objects(base, objects)
    return {"customer": customer, "subscription": sub, "invoice": invoice,
            "charge": f"ch_dun{n}", "amount": amount, "currency": currency, "email": email}
