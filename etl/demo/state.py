"""The simulation's own record of one customer's history (plain data, no JSON)."""
from __future__ import annotations

from dataclasses import dataclass, field

from etl.demo.billing import Line, Totals
from etl.demo.catalog import Coupon, Price, TaxRate


class Ids:
    """Deterministic, unique ids: one customer's objects share its index."""

    def __init__(self, index: int):
        self.tag = f"d{index:07d}"
        self.counts: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        n = self.counts.get(prefix, 0) + 1
        self.counts[prefix] = n
        return f"{prefix}_{self.tag}x{n:x}"


@dataclass
class Item:
    id: str
    price: Price
    quantity: int
    created: int


@dataclass
class Discount:
    id: str
    coupon: Coupon
    start: int
    end: int | None  # repeating coupons end; once/forever do not


@dataclass
class Charge:
    id: str
    created: int
    amount: int
    succeeded: bool
    outcome: dict
    failure_code: str | None = None
    failure_message: str | None = None
    balance_transaction: str | None = None
    fee: int = 0
    refunds: list = field(default_factory=list)
    dispute: "Dispute | None" = None
    early_fraud_warning: "FraudWarning | None" = None

    @property
    def amount_refunded(self) -> int:
        return sum(r.amount for r in self.refunds)


@dataclass
class Refund:
    id: str
    created: int
    amount: int
    reason: str
    balance_transaction: str
    credit_note: str | None = None
    credit_note_number: str | None = None


@dataclass
class Dispute:
    id: str
    created: int
    amount: int
    reason: str
    status: str
    balance_transactions: list  # (id, created, amount, fee, category)
    closed_at: int | None = None


@dataclass
class FraudWarning:
    id: str
    created: int
    fraud_type: str


@dataclass
class Invoice:
    id: str
    number: str
    created: int
    billing_reason: str
    period_start: int
    period_end: int
    lines: list[Line]
    totals: Totals
    discounts: list[Discount]
    status: str = "draft"
    paid_at: int | None = None
    marked_uncollectible_at: int | None = None
    voided_at: int | None = None
    payment_intent: str | None = None
    invoice_payment: str | None = None
    charges: list[Charge] = field(default_factory=list)
    next_payment_attempt: int | None = None
    starting_balance: int = 0  # the customer's credit (negative) applied to this invoice

    @property
    def amount_due(self) -> int:
        return max(self.totals.total + self.starting_balance, 0)

    @property
    def ending_balance(self) -> int:
        """Credit left over for later invoices (a negative total adds to it)."""
        return min(self.totals.total + self.starting_balance, 0)

    @property
    def amount_paid(self) -> int:
        return self.amount_due if self.status == "paid" else 0


@dataclass
class Subscription:
    id: str
    created: int
    currency: str
    items: list[Item]
    billing_price: Price  # the first item's price: its interval is every item's
    discount: Discount | None = None
    trial_start: int | None = None
    trial_end: int | None = None
    status: str = "active"
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    cancellation_reason: str | None = None
    billing_cycle_anchor: int = 0
    period_start: int = 0
    period_end: int = 0
    invoices: list[Invoice] = field(default_factory=list)
    once_used: bool = False
    updates: list = field(default_factory=list)  # (at, previous_attributes) for events
    pause: tuple[int, int, int] | None = None  # collection paused: (requested, from, resumes)


@dataclass
class Customer:
    id: str
    index: int
    created: int
    name: str
    email: str
    country: str
    state: str | None
    currency: str
    tax_rate: TaxRate | None
    invoice_prefix: str
    subscriptions: list[Subscription] = field(default_factory=list)
    invoice_count: int = 0
    balance: int = 0  # customer balance: negative is credit that later invoices use
    metadata: dict = field(default_factory=dict)  # Stripe metadata (etl/demo/customer_metadata.py)

    def next_invoice_number(self) -> str:
        self.invoice_count += 1
        return f"{self.invoice_prefix}-{self.invoice_count:04d}"
