"""The object types the fake account serves: file, URL and list filters of each."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    table: str  # JSONL file stem and Tally table name
    object: str  # Stripe's `object` value
    path: str  # URL path after /v1/
    filters: tuple[str, ...] = ()  # `field=value` list filters Stripe offers
    # filters in force when the request does not name them (prices: active only)
    defaults: tuple[tuple[str, str], ...] = ()
    # retrieving a deleted one answers `{"id", "object", "deleted": true}`; others 404
    retrieves_deleted: bool = False

    @property
    def url(self) -> str:
        return f"/v1/{self.path}"


RESOURCES = [
    Resource("customers", "customer", "customers", ("email",), retrieves_deleted=True),
    Resource("products", "product", "products", ("active",)),
    # "Returns a list of your active prices, excluding inline prices."
    Resource("prices", "price", "prices", ("active", "product", "type", "currency"),
             defaults=(("active", "true"),)),
    Resource("plans", "plan", "plans", ("active", "product")),
    Resource("coupons", "coupon", "coupons"),
    Resource("subscriptions", "subscription", "subscriptions", ("customer", "status")),
    # Every status by default; `scheduled=true`: "Only return subscription schedules
    # that have not started yet" (status `not_started`).
    Resource("subscription_schedules", "subscription_schedule", "subscription_schedules",
             ("customer", "scheduled")),
    Resource("invoices", "invoice", "invoices",
             ("customer", "subscription", "status", "collection_method")),
    Resource("invoice_payments", "invoice_payment", "invoice_payments", ("invoice", "status")),
    Resource("charges", "charge", "charges", ("customer", "payment_intent")),
    Resource("payment_intents", "payment_intent", "payment_intents", ("customer",)),
    Resource("refunds", "refund", "refunds", ("charge", "payment_intent")),
    Resource("disputes", "dispute", "disputes", ("charge", "payment_intent")),
    Resource("balance_transactions", "balance_transaction", "balance_transactions",
             ("type", "source", "currency", "payout")),
    Resource("tax_rates", "tax_rate", "tax_rates", ("active", "inclusive")),
    Resource("credit_notes", "credit_note", "credit_notes", ("customer", "invoice")),
    Resource("early_fraud_warnings", "radar.early_fraud_warning",
             "radar/early_fraud_warnings", ("charge", "payment_intent")),
    Resource("events", "event", "events", ("type",)),
]

BY_TABLE = {r.table: r for r in RESOURCES}
# List filters that are no field of the object: how each is read from it.
DERIVED_FILTERS = {("subscription_schedule", "scheduled"): lambda o: o.get("status") == "not_started"}
BY_OBJECT = {r.object: r for r in RESOURCES}
BY_PATH = {r.path: r for r in RESOURCES}

# Subscriptions that a plain list hides, as Stripe does without `status=all`.
ENDED_SUBSCRIPTION_STATUSES = ("canceled", "incomplete_expired")
# Invoices embed this many lines; the rest are paged from /v1/invoices/{id}/lines.
EMBEDDED_LINES = 10
# Stripe keeps events for 30 days; older ones are neither listed nor retrievable.
EVENT_RETENTION_SECONDS = 30 * 86400
# A stored object's keys starting with this are ours (e.g. `_tally_inline`), never served.
PRIVATE_PREFIX = "_tally"
# A price created through `price_data`: retrievable by id, in no list.
INLINE_FLAG = "_tally_inline"
