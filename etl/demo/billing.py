"""Invoice arithmetic the way Stripe does it: line amounts, discounts, tax.

Everything is integer minor units. Percent discounts and tax are rounded half
away from zero per line; an amount-off coupon is spread over the invoice's
licensed lines in proportion to their amounts (the last line takes the rest).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from etl.demo.catalog import Coupon, Price, TaxRate


def round_half_away(value: Fraction) -> int:
    sign = -1 if value < 0 else 1
    return sign * int(abs(value) + Fraction(1, 2))


@dataclass
class Line:
    id: str
    item_id: str
    price: Price
    quantity: int
    start: int
    end: int
    amount: int
    proration: bool = False
    # Seconds of the period a proration is scaled to, by METRICS.md's rule: the
    # regular line it credits or of its item and price, else `nominal_period`.
    full_period: int = 0
    description: str = ""
    credits: tuple[str, str] | None = None  # a credit's (invoice, line) it gives time back on
    discount: int = 0
    tax: int = 0
    tax_rate: TaxRate | None = None

    @property
    def inclusive_tax(self) -> int:
        return self.tax if self.tax_rate is not None and self.tax_rate.inclusive else 0

    @property
    def net(self) -> int:
        """What the line earns, before exclusive tax and after inclusive tax."""
        return self.amount - self.discount - self.inclusive_tax


@dataclass
class Totals:
    subtotal: int = 0
    discount: int = 0
    exclusive_tax: int = 0
    tax: int = 0
    taxes: dict = field(default_factory=dict)  # tax rate id -> [amount, taxable]

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.exclusive_tax


def apply_percent(lines: list[Line], coupon: Coupon) -> None:
    for line in lines:
        if not line.price.metered:
            line.discount = round_half_away(Fraction(line.amount) * Fraction(str(coupon.percent_off)) / 100)


def apply_amount_off(lines: list[Line], coupon: Coupon) -> None:
    licensed = [line for line in lines if not line.price.metered and line.amount > 0]
    subtotal = sum(line.amount for line in licensed)
    if coupon.amount_off is None:
        raise ValueError(f"coupon {coupon.id} has neither percent_off nor amount_off")
    if not licensed or subtotal <= 0:
        return
    off = min(coupon.amount_off, subtotal)
    given = 0
    for line in licensed[:-1]:
        line.discount = off * line.amount // subtotal
        given += line.discount
    licensed[-1].discount = off - given


def apply_tax(lines: list[Line], rate: TaxRate | None) -> None:
    if rate is None:
        return
    pct = Fraction(str(rate.percentage))
    for line in lines:
        taxable = line.amount - line.discount
        share = pct / (100 + pct) if rate.inclusive else pct / 100
        line.tax = round_half_away(taxable * share)
        line.tax_rate = rate


def totals(lines: list[Line]) -> Totals:
    result = Totals()
    for line in lines:
        result.subtotal += line.amount
        result.discount += line.discount
        result.tax += line.tax
        if line.tax_rate is not None:
            if not line.tax_rate.inclusive:
                result.exclusive_tax += line.tax
            entry = result.taxes.setdefault(line.tax_rate.id, [0, 0])
            entry[0] += line.tax
            entry[1] += line.amount - line.discount - line.inclusive_tax
    return result


# One interval in seconds, a month being 365.25/12 days (METRICS.md).
NOMINAL_SECONDS = {"day": 86400, "week": 604800, "month": 2629800, "year": 31557600}


def nominal_period(price: Price) -> int:
    """A proration's full period when no regular line of its item and price
    holds its start (METRICS.md rule 3), e.g. the debit for a new price."""
    return price.interval_count * NOMINAL_SECONDS[price.interval]


def monthly_value(line: Line) -> Fraction:
    """METRICS.md: net x F / months, F = full period / line period for prorations."""
    value = Fraction(line.net, line.price.months)
    if line.proration:
        value *= Fraction(line.full_period, line.end - line.start)
    return value
