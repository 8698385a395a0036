"""The Stripe client admin actions use, and one clear line for each Stripe error."""
from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlparse

import stripe

log = logging.getLogger("tally.admin")


class NotConfigured(Exception):
    """No STRIPE_API_KEY: admin actions cannot reach Stripe."""


def client_from_env() -> stripe.StripeClient:
    key = os.environ.get("STRIPE_API_KEY")
    if not key:
        raise NotConfigured("Set STRIPE_API_KEY (a secret or restricted key) to take admin actions.")
    base = os.environ.get("STRIPE_API_BASE")
    options: dict[str, Any] = {"base_addresses": {"api": base}} if base else {}
    return stripe.StripeClient(key, **options)


def talks_to_test_peer() -> bool:
    """STRIPE_API_BASE on loopback means localstripe, which speaks an older API.

    localstripe rejects a refund's `reason` parameter, so there the reason
    travels only in the refund's metadata.
    """
    host = urlparse(os.environ.get("STRIPE_API_BASE") or "").hostname
    return host in {"127.0.0.1", "localhost", "::1"}


def as_dict(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def with_all_lines(client: stripe.StripeClient, invoice) -> dict:
    """The invoice with every line: Stripe embeds only its first ones, and the
    database replaces an invoice's lines with those written with it."""
    invoice = as_dict(invoice)
    lines = invoice.get("lines") or {}
    data, more = list(lines.get("data") or []), bool(lines.get("has_more"))
    while more:
        params: Any = {"limit": 100, **({"starting_after": data[-1]["id"]} if data else {})}
        page = as_dict(client.v1.invoices.line_items.list(invoice["id"], params=params))
        batch = page.get("data") or []
        data += batch
        more = bool(page.get("has_more")) and bool(batch)
    if lines:
        invoice["lines"] = {**lines, "data": data, "has_more": False}
    return invoice


def fetch_after_write(fetch, what: str) -> dict | None:
    """A re-fetch after a Stripe write already succeeded: best-effort.

    The write happened, so a failing follow-up read must never turn the
    outcome into "failed" (which would invite a second refund); the caller
    falls back to the object the write returned.
    """
    try:
        return as_dict(fetch())
    except stripe.StripeError as error:
        log.warning("could not re-fetch %s after a successful write: %s", what, explain(error))
        return None


def request_id_of(obj) -> str | None:
    response = getattr(obj, "last_response", None)
    return getattr(response, "request_id", None) if response is not None else None


# Stripe error codes -> what the admin should read.
ERROR_CODES = {
    "charge_already_refunded": "This charge has already been refunded in full.",
    "charge_disputed": "This charge is disputed: it cannot be refunded while the dispute is open.",
    "resource_missing": "Stripe has no such object (it may be in another account or mode).",
    "amount_too_large": "The amount is more than Stripe can still refund on this charge.",
    "refund_disputed_payment": "This charge is disputed: it cannot be refunded while the dispute is open.",
}


def explain(error: Exception) -> str:
    """One line for an admin; never a key, never a traceback."""
    if isinstance(error, stripe.PermissionError):
        return ("Permission denied: the Stripe key is a restricted key without permission for "
                "this. Admin actions need a key that may read charges, customers, invoices and "
                "subscriptions and write refunds and subscriptions.")
    if isinstance(error, stripe.AuthenticationError):
        return "Stripe rejected the API key: check STRIPE_API_KEY."
    if isinstance(error, stripe.RateLimitError):
        return "Stripe is rate-limiting requests: wait a minute and submit again."
    if isinstance(error, stripe.APIConnectionError):
        return "Could not reach Stripe: the outcome is unknown until Tally checks again."
    if isinstance(error, stripe.APIError):
        return "Stripe answered with a server error: the outcome is unknown until Tally checks again."
    if isinstance(error, stripe.StripeError):
        code = getattr(error, "code", None)
        if code in ERROR_CODES:
            return ERROR_CODES[code]
        if getattr(error, "http_status", None) == 404:
            return ERROR_CODES["resource_missing"]
        message = getattr(error, "user_message", None) or "Stripe refused the request."
        return f"Stripe refused the request: {message}"
    return "The action failed unexpectedly; nothing more is known. See the server log."
