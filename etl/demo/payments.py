"""Card payments for invoices: attempts, Radar outcomes, dunning, refunds, disputes, fees."""
from __future__ import annotations

import random

from etl.demo.clock import DAY
from etl.demo.state import Charge, Customer, Dispute, FraudWarning, Ids, Invoice, Refund, Subscription

# Smart-retry-like schedule: first attempt, then 3, 8 and 15 days after the invoice.
ATTEMPT_OFFSETS = (60, 3 * DAY, 8 * DAY, 15 * DAY)
INCOMPLETE_HOURS = 23
# (failure_code, decline_code, outcome type, reason, weight)
DECLINES = (
    ("card_declined", "insufficient_funds", "issuer_declined", "insufficient_funds", 40),
    ("card_declined", "generic_decline", "issuer_declined", "generic_decline", 18),
    ("card_declined", "do_not_honor", "issuer_declined", "do_not_honor", 8),
    ("expired_card", None, "issuer_declined", "expired_card", 12),
    ("incorrect_cvc", None, "issuer_declined", "incorrect_cvc", 4),
    ("processing_error", None, "issuer_declined", "processing_error", 3),
    ("authentication_required", "authentication_required", "issuer_declined",
     "authentication_required", 6),
    ("card_declined", "fraudulent", "blocked", "highest_risk_level", 9),
)
MESSAGES = {
    "card_declined": "Your card was declined.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}
DISPUTE_REASONS = (("fraudulent", 45), ("product_not_received", 15),
                   ("subscription_canceled", 25), ("general", 15))
FEES = {"jpy": (36, 0)}  # per mille, fixed; others 2.9% + 30


def processing_fee(amount: int, currency: str) -> int:
    per_mille, fixed = FEES.get(currency, (29, 30))
    return (amount * per_mille + 500) // 1000 + fixed


def dispute_fee(currency: str) -> int:
    return 2000 if currency == "jpy" else 1500


def _pick(rng: random.Random, choices):
    return rng.choices(choices, weights=[c[-1] for c in choices])[0]


def success_outcome(rng: random.Random) -> dict:
    elevated = rng.random() < 0.03
    score = rng.randint(65, 74) if elevated else rng.randint(0, 64)
    outcome = {"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
               "risk_score": score, "seller_message": "Payment complete.", "type": "authorized"}
    if elevated:
        outcome.update(reason="elevated_risk_level", risk_level="elevated")
        if rng.random() < 0.3:  # a Radar rule sent it to review; it still succeeded
            outcome.update(type="manual_review", seller_message=(
                "Stripe evaluated this payment as having elevated risk, and placed it in "
                "your manual review queue."))
    return outcome


def failure_outcome(rng: random.Random) -> tuple[str, str, dict]:
    code, decline, kind, reason, _ = _pick(rng, DECLINES)
    if kind == "blocked":
        outcome = {"network_status": "not_sent_to_network", "reason": reason,
                   "risk_level": "highest", "risk_score": rng.randint(76, 99),
                   "seller_message": "Stripe blocked this payment as too risky.", "type": "blocked"}
        return code, "Your card was declined.", outcome
    outcome = {"network_status": "declined_by_network", "reason": reason,
               "risk_level": "normal", "risk_score": rng.randint(5, 60),
               "seller_message": f"The bank returned the decline code `{decline or code}`.",
               "type": kind}
    return code, MESSAGES[code], outcome


def collect(invoice: Invoice, sub: Subscription, customer: Customer, rng: random.Random,
            ids: Ids, now: int, reliability: float) -> None:
    """Attempt payment until paid, out of retries, or out of time (now)."""
    invoice.status = "open"
    if invoice.amount_due == 0:
        invoice.status, invoice.paid_at = "paid", invoice.created
        return
    invoice.payment_intent = ids.next("pi")
    invoice.invoice_payment = ids.next("inpay")
    for attempt, offset in enumerate(ATTEMPT_OFFSETS):
        at = invoice.created + offset + (rng.randint(0, 3600) if attempt else 0)
        if at > now:
            invoice.next_payment_attempt = at
            sub.status = "past_due" if attempt else sub.status
            return
        chance = reliability if attempt == 0 else 0.4
        charge = _attempt(invoice, customer, rng, ids, at, rng.random() < chance)
        invoice.charges.append(charge)
        if charge.succeeded:
            invoice.status, invoice.paid_at = "paid", at
            _after_payment(charge, customer, rng, ids, now, invoice)
            return
        if invoice.billing_reason == "subscription_create":
            _incomplete(invoice, sub, now)
            break
    else:
        _give_up(invoice, sub, rng, now)
    if invoice.status == "void":  # voiding gives back the credit the invoice used
        customer.balance = invoice.starting_balance


def _incomplete(invoice: Invoice, sub: Subscription, now: int) -> None:
    """A first payment that fails leaves the subscription incomplete; Stripe expires it
    (and voids its invoice) after 23 hours. There are no retries."""
    expires = invoice.created + INCOMPLETE_HOURS * 3600
    if expires > now:
        sub.status = "incomplete"
        return
    invoice.status, invoice.voided_at = "void", expires
    sub.status, sub.ended_at = "incomplete_expired", expires


def _attempt(invoice: Invoice, customer: Customer, rng, ids: Ids, at: int, ok: bool) -> Charge:
    amount = invoice.amount_due
    if ok:
        fee = processing_fee(amount, customer.currency)
        return Charge(ids.next("ch"), at, amount, True, success_outcome(rng),
                      balance_transaction=ids.next("txn"), fee=fee)
    code, message, outcome = failure_outcome(rng)
    return Charge(ids.next("ch"), at, amount, False, outcome, code, message)


def _give_up(invoice: Invoice, sub: Subscription, rng, now: int) -> None:
    """Retries exhausted: the invoice becomes uncollectible (or the merchant voids it),
    and the subscription ends or goes unpaid."""
    final = invoice.charges[-1].created + 3600
    if final > now:
        sub.status = "past_due"
        return
    if rng.random() < 0.15:
        invoice.status, invoice.voided_at = "void", final
    else:
        invoice.status, invoice.marked_uncollectible_at = "uncollectible", final
    if rng.random() < 0.6:
        sub.status, sub.ended_at, sub.canceled_at = "canceled", final, final
        sub.cancellation_reason = "payment_failed"
    else:
        sub.status = "unpaid"


def _after_payment(charge: Charge, customer: Customer, rng, ids: Ids, now: int,
                   invoice: Invoice) -> None:
    risky = charge.outcome["risk_level"] == "elevated"
    roll = rng.random()
    if roll < (0.06 if risky else 0.004):
        _dispute(charge, customer, rng, ids, now)
    elif roll < 0.025:
        _refund(charge, rng, ids, now, invoice)


def _refund(charge: Charge, rng, ids: Ids, now: int, invoice: Invoice) -> None:
    at = charge.created + rng.randint(1, 20) * DAY + rng.randint(0, DAY)
    if at > now:
        return
    amount = charge.amount if rng.random() < 0.6 else charge.amount // 2
    if amount <= 0:
        return
    refund = Refund(ids.next("re"), at, amount, rng.choice(
        ["requested_by_customer", "requested_by_customer", "duplicate"]), ids.next("txn"))
    refund.credit_note = ids.next("cn")
    refund.credit_note_number = f"{invoice.number}-CN-01"
    charge.refunds.append(refund)


def _dispute(charge: Charge, customer: Customer, rng, ids: Ids, now: int) -> None:
    at = charge.created + rng.randint(5, 40) * DAY + rng.randint(0, DAY)
    if at > now:
        return
    reason = _pick(rng, DISPUTE_REASONS)[0]
    fee = dispute_fee(customer.currency)
    txns = [(ids.next("txn"), at, -charge.amount, fee, "dispute")]
    status, closed = ("needs_response" if rng.random() < 0.5 else "under_review"), None
    decided = at + rng.randint(30, 60) * DAY
    if decided <= now:
        status, closed = ("won" if rng.random() < 0.4 else "lost"), decided
        if status == "won":
            txns.append((ids.next("txn"), decided, charge.amount, -fee, "dispute_reversal"))
    charge.dispute = Dispute(ids.next("dp"), at, charge.amount, reason, status, txns, closed)
    if reason == "fraudulent" and rng.random() < 0.6:
        charge.early_fraud_warning = FraudWarning(
            ids.next("issfr"), at - rng.randint(1, 4) * DAY, "made_with_stolen_card")
