"""Refund a charge in full or in part, never more than Stripe still holds for it."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import stripe

from metrics.currency import exponent, format_money
from tally_admin.actions import ActionResult, Done, Refused, run_action
from tally_admin.audit import AuditLog
from tally_admin.lookup import customer_email
from tally_admin.stripe_api import as_dict, fetch_after_write, request_id_of, talks_to_test_peer

REASONS = ("requested_by_customer", "duplicate", "fraudulent")
KEY_METADATA = "tally_idempotency_key"
NONCE_METADATA = "tally_form_nonce"  # the form the refund came from


@dataclass(frozen=True)
class ChargeFacts:
    charge_id: str
    currency: str
    paid: int  # captured amount, minor units
    refunded: int
    status: str | None
    dispute: str | None  # why a dispute blocks a refund, or None
    email: str | None

    @property
    def refundable(self) -> int:
        return max(0, self.paid - self.refunded)

    def money(self, amount: int) -> str:
        return format_money(amount, self.currency)


def charge_facts(client: stripe.StripeClient, charge_id: str, charge: dict | None = None) -> ChargeFacts:
    """What was paid and refunded, fetched from Stripe (the local copy may be stale)."""
    charge = charge or as_dict(client.v1.charges.retrieve(charge_id))
    return ChargeFacts(charge["id"], charge["currency"], _paid(charge),
                       int(charge.get("amount_refunded") or 0), charge.get("status"),
                       dispute_block(client, charge), customer_email(client, charge))


CLOSED_DISPUTES = ("won", "lost", "warning_closed")
OPEN_DISPUTE = "This charge is disputed: it cannot be refunded while the dispute is open."


def dispute_block(client: stripe.StripeClient, charge: dict) -> str | None:
    """Why a dispute stops a refund now, or None.

    `charge.disputed` stays true after a dispute is won, so the charge's
    disputes are listed: only an open one, or one after which Stripe says the
    charge is not refundable (e.g. lost: the money already went back), blocks.
    """
    try:
        disputes = [as_dict(d) for d in
                    client.v1.disputes.list({"charge": charge["id"], "limit": 100}).auto_paging_iter()]
    except stripe.StripeError as error:
        if not (isinstance(error, stripe.PermissionError) or getattr(error, "http_status", None) == 404):
            raise
        # No disputes endpoint (localstripe) or a key that may not read disputes: the flag is all we have.
        return OPEN_DISPUTE if charge.get("disputed") else None
    for dispute in disputes:
        if dispute.get("status") not in CLOSED_DISPUTES:
            return (f"This charge has an open dispute ({dispute.get('id')}, {dispute.get('status')}): "
                    "it cannot be refunded until the dispute is closed.")
        if dispute.get("is_charge_refundable") is False:
            return (f"This charge cannot be refunded: after dispute {dispute.get('id')} "
                    f"({dispute.get('status')}) Stripe no longer allows a refund of it.")
    return None


def _paid(charge: dict) -> int:
    paid = charge.get("amount_captured")
    if paid is None:  # older shapes: the whole amount once captured
        paid = charge.get("amount") if charge.get("captured", True) else 0
    return int(paid or 0)


def to_minor(amount_major, currency: str) -> int | None:
    """A typed amount in major units to integer minor units (JPY 1200 -> 1200).

    None if it is not a plain number in that currency: a comma (decimal comma
    or thousands separator: "12,50" is ambiguous, so refused) or more decimals
    than the currency has (10.505 USD, 12.5 JPY).
    """
    text = str(amount_major).strip()
    if "," in text:
        return None
    try:
        major = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not major.is_finite():
        return None
    minor = major.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        return None
    return int(minor)


def amount_hint(currency: str) -> str:
    """How to type an amount in this currency."""
    digits = exponent(currency)
    example = "1200" if digits == 0 else "12." + "5" + "0" * (digits - 1)
    decimals = "no decimals" if digits == 0 else f"at most {digits} decimals after a point"
    return f"Type the amount in {currency.upper()} with {decimals}, e.g. {example}."


def refund_confirmation(facts: ChargeFacts, amount: int, reason: str) -> str:
    """The exact sentence the admin confirms."""
    to = f" to {facts.email}" if facts.email else ""
    return (f"Refund {facts.money(amount)} of {facts.money(facts.paid)} paid "
            f"({facts.money(facts.refunded)} already refunded) on {facts.charge_id}{to}, "
            f"reason: {reason}")


def refusal(facts: ChargeFacts, amount: int, reason: str) -> str | None:
    """Why Tally will not send this refund, or None."""
    if reason not in REASONS:
        return f"Choose a reason: one of {', '.join(REASONS)}."
    if facts.status != "succeeded":
        return f"Only a succeeded charge can be refunded; {facts.charge_id} is {facts.status}."
    if facts.dispute:
        return facts.dispute
    if facts.paid <= 0:
        return f"Nothing was captured on {facts.charge_id}, so there is nothing to refund."
    if facts.refundable <= 0:
        return "This charge has already been refunded in full."
    if amount <= 0:
        return "The refund amount must be more than zero."
    if amount > facts.refundable:
        return (f"Refusing to refund {facts.money(amount)}: only {facts.money(facts.refundable)} "
                f"of {facts.money(facts.paid)} is still refundable on {facts.charge_id}.")
    return None


def refund_charge(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                  actor: str, charge_id: str, amount: int, reason: str, nonce: str) -> ActionResult:
    params = {"amount": int(amount), "reason": reason}
    return run_action(audit, db_path, actor=actor, action="refund", object_id=charge_id,
                      params=params, nonce=nonce,
                      perform=lambda key: _perform_refund(client, charge_id, int(amount), reason,
                                                          key, nonce),
                      recheck=lambda key: _refund_found(client, charge_id, key))


def _refund_found(client, charge_id: str, key: str) -> Done | None:
    """After a lost answer: the refund this submission made, if Stripe has it."""
    refund = refund_made_with(client, charge_id, key)
    return _refund_done(client, charge_id, refund, None) if refund else None


def _perform_refund(client, charge_id: str, amount: int, reason: str, key: str,
                    nonce: str) -> Done:
    existing = refund_made_with(client, charge_id, key)
    if existing is None:
        _refuse_second_refund_from_form(client, charge_id, nonce)
        facts = charge_facts(client, charge_id)  # the limit comes from Stripe, now
        why_not = refusal(facts, amount, reason)
        if why_not:
            raise Refused(why_not)
        refund = client.v1.refunds.create(
            params=refund_params(charge_id, amount, reason, key, nonce),
            options={"idempotency_key": key})
        request_id, refund = request_id_of(refund), as_dict(refund)
    else:  # an earlier try of this submission reached Stripe but its answer was lost
        request_id, refund = None, existing
    return _refund_done(client, charge_id, refund, request_id)


def _refund_done(client, charge_id: str, refund: dict, request_id: str | None) -> Done:
    """What the admin reads once the refund exists; the follow-up read is best-effort."""
    charge = fetch_after_write(lambda: client.v1.charges.retrieve(charge_id), f"charge {charge_id}")
    money = format_money(refund["amount"], refund.get("currency") or "")
    message = f"Refunded {money} on {charge_id} ({refund['id']}, {refund.get('status')})"
    if charge is None:
        message += "; the charge could not be re-read, the next sync will update it."
    else:
        refunded, paid = int(charge.get("amount_refunded") or 0), _paid(charge)
        message += (f"; {format_money(refunded, charge['currency'])} of "
                    f"{format_money(paid, charge['currency'])} now refunded.")
    return Done(message, objects=[refund] + ([charge] if charge else []), request_id=request_id,
                result={"refund_id": refund["id"], "amount": refund["amount"],
                        "currency": refund.get("currency"), "status": refund.get("status")})


def _refuse_second_refund_from_form(client, charge_id: str, nonce: str) -> None:
    """One form, one refund: after an unknown outcome the admin may change the amount
    (a new key), but if the first try reached Stripe its refund carries this form's nonce."""
    made = _refunds_where(client, charge_id, NONCE_METADATA, nonce)
    if made is not None:
        money = format_money(made["amount"], made.get("currency") or "")
        raise Refused(f"This form already refunded {money} on {charge_id} ({made['id']}); "
                      "the earlier answer was lost. Check the charge before refunding more.")


def refund_params(charge_id: str, amount: int, reason: str, key: str,
                  nonce: str | None = None) -> dict:
    params: dict[str, Any] = {"charge": charge_id, "amount": amount,
              "metadata": {KEY_METADATA: key, "tally_reason": reason}}
    if nonce:
        params["metadata"][NONCE_METADATA] = nonce
    if not talks_to_test_peer():
        params["reason"] = reason
    return params


def refund_made_with(client, charge_id: str, key: str) -> dict | None:
    return _refunds_where(client, charge_id, KEY_METADATA, key)


def _refunds_where(client, charge_id: str, metadata_key: str, value: str) -> dict | None:
    """The charge's refund whose metadata[metadata_key] is value, if any."""
    refunds = client.v1.refunds.list(params={"charge": charge_id, "limit": 100})
    for refund in refunds.auto_paging_iter():
        refund = as_dict(refund)
        if (refund.get("metadata") or {}).get(metadata_key) == value:
            return refund
    return None
