"""How a Stripe object's field becomes a typed column's value (etl/schema.py's tables).

Each reader knows both the current API shape (the version pinned by the
`stripe` library) and the older shapes (localstripe, events created under an
old version), so both load into the same columns. Money is integer minor
units; timestamps are Stripe's unix seconds, loaded as UTC `TIMESTAMP`s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, JSON
    read: Callable[[dict], Any]


@dataclass(frozen=True)
class Path:
    """Read a nested field; an expanded object or a plain id both give the id.
    `keys` lets the loader read a whole column in one pass."""
    keys: tuple[str, ...]

    def __call__(self, obj: dict) -> Any:
        value: Any = obj
        for key in self.keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value


def path(*keys: str) -> Path:
    """Read a nested field; an expanded object or a plain id both give the id."""
    return Path(keys)


def ref(*keys: str) -> Callable[[dict], Any]:
    """Read a foreign key that may be an id string or an expanded object."""
    get = path(*keys)

    def read(obj: dict) -> Any:
        value = get(obj)
        return value.get("id") if isinstance(value, dict) else value

    return read


def first(*readers: Callable[[dict], Any]) -> Callable[[dict], Any]:
    """The first reader that finds a value: current shape first, older after."""

    def read(obj: dict) -> Any:
        for reader in readers:
            value = reader(obj)
            if value is not None:
                return value
        return None

    return read


def total(list_key: str, amount_key: str = "amount", where=None) -> Callable[[dict], Any]:
    def read(obj: dict) -> int:
        items = obj.get(list_key) or []
        if isinstance(items, dict):  # a list object
            items = items.get("data") or []
        return sum(int(i.get(amount_key) or 0) for i in items
                   if isinstance(i, dict) and (where is None or where(i)))

    return read


def col(name: str, sql_type: str, reader=None) -> Column:
    return Column(name, sql_type, reader or path(name))


def ts(name: str, reader=None) -> Column:
    """A Stripe unix-seconds field as a UTC TIMESTAMP."""
    return Column(name, "TIMESTAMP", reader or path(name))


def money(name: str, reader=None) -> Column:
    return Column(name, "BIGINT", reader or path(name))


def flag(name: str, reader=None) -> Column:
    return Column(name, "BOOLEAN", reader or path(name))


ID = col("id", "VARCHAR")
CREATED = ts("created")
CURRENCY = col("currency", "VARCHAR")


def subscription_item_period(which: str):
    # Since 2025-03-31 the period lives on the items; before, on the subscription.
    def read(sub: dict):
        items = (sub.get("items") or {}).get("data") or []
        values = [i.get(which) for i in items if i.get(which) is not None]
        if values:
            return min(values) if which.endswith("start") else max(values)
        return sub.get(which)

    return read


def first_discount_coupon(obj: dict):
    discounts = obj.get("discounts") or []
    for d in discounts:
        if isinstance(d, dict):
            coupon = (d.get("source") or {}).get("coupon") or d.get("coupon")
            return coupon.get("id") if isinstance(coupon, dict) else coupon
    discount = obj.get("discount")
    if isinstance(discount, dict):
        coupon = discount.get("coupon") or (discount.get("source") or {}).get("coupon")
        return coupon.get("id") if isinstance(coupon, dict) else coupon
    return None


def invoice_tax(inv: dict):
    if inv.get("total_taxes") is not None:
        return total("total_taxes")(inv)
    if inv.get("total_tax_amounts") is not None:
        return total("total_tax_amounts")(inv)
    return inv.get("tax")


def invoice_paid(inv: dict):
    if inv.get("paid") is not None:
        return inv["paid"]
    return inv.get("status") == "paid"


def line_subscription(line: dict):
    details = path("parent", "subscription_item_details")(line)
    if isinstance(details, dict) and details.get("subscription"):
        return details["subscription"]
    inv_details = path("parent", "invoice_item_details")(line)
    if isinstance(inv_details, dict) and inv_details.get("subscription"):
        return inv_details["subscription"]
    sub = line.get("subscription")
    if isinstance(sub, dict):
        return sub.get("id")
    if sub:
        return sub
    # Very old shape: a subscription line's own id is the subscription id.
    if line.get("type") == "subscription" and str(line.get("id", "")).startswith("sub_"):
        return line["id"]
    return None


def line_kind(line: dict):
    parent_type = path("parent", "type")(line)
    if parent_type == "subscription_item_details":
        return "subscription"
    if parent_type == "invoice_item_details":
        return "invoiceitem"
    return line.get("type")


def line_proration(line: dict):
    for reader in (path("parent", "subscription_item_details", "proration"),
                   path("parent", "invoice_item_details", "proration"),
                   path("proration")):
        value = reader(line)
        if value is not None:
            return bool(value)
    return False


def line_price_obj(line: dict):
    price = line.get("price") or line.get("plan")
    return price if isinstance(price, dict) else None


def line_price_field(field: str, plan_field: str | None = None):
    def read(line: dict):
        price = line_price_obj(line)
        if price is None:
            return None
        if field in ("interval", "interval_count", "usage_type"):
            recurring = price.get("recurring")
            if isinstance(recurring, dict):
                return recurring.get(field)
            if price.get("object") == "plan":
                return price.get(field)
            return None
        return price.get(field) if plan_field is None else first(path(field), path(plan_field))(price)

    return read


# A credit proration names the regular line it gives back time on: current
# shape under `parent.*_details`, older ones on the line itself.
CREDITED_ITEMS = (path("parent", "subscription_item_details", "proration_details", "credited_items"),
                   path("parent", "invoice_item_details", "proration_details", "credited_items"),
                   path("proration_details", "credited_items"))


def credited(field: str):
    def read(line: dict):
        for reader in CREDITED_ITEMS:
            items = reader(line)
            if isinstance(items, dict):
                value = items.get(field)
                if field == "invoice_line_items":  # one line id kept: the first
                    ids = value if isinstance(value, list) else []
                    value = next((v for v in ids if isinstance(v, str)), None)
                return value
        return None

    return read


def tax_inclusive_amount(line: dict):
    """Inclusive tax inside `amount` (new `taxes[]` or old `tax_amounts[]`)."""
    if line.get("taxes") is not None:
        return total("taxes", where=lambda t: t.get("tax_behavior") == "inclusive")(line)
    return total("tax_amounts", where=lambda t: bool(t.get("inclusive")))(line)


def tax_amount(line: dict):
    if line.get("taxes") is not None:
        return total("taxes")(line)
    return total("tax_amounts")(line)


def recurring(field: str):
    return first(path("recurring", field), lambda p: p.get(field) if p.get("object") == "plan" else None)


def price_type(price: dict):
    if price.get("type"):
        return price["type"]
    return "recurring" if price.get("object") == "plan" else None


def charge_invoice(charge: dict):
    return first(ref("invoice"), path("payment_details", "invoice"))(charge)
