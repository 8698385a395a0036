"""What the demo business sells: products, prices, coupons, tax rates, markets.

Prices are per currency (USD, EUR, GBP, JPY; JPY is zero-decimal, so ¥7,400 is
7400). Every licensed unit amount is a multiple of 100 minor units, so a
half-period proration of any of them is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

CURRENCIES = ("usd", "eur", "gbp", "jpy")
# (interval, interval_count) -> months per period, as METRICS.md counts them
PERIODS = {"month": ("month", 1), "quarter": ("month", 3), "year": ("year", 1)}


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    seats: bool  # priced per seat (quantity > 1)


@dataclass(frozen=True)
class Price:
    id: str
    product: str
    currency: str
    interval: str
    interval_count: int
    unit_amount: int | None  # None for tiered prices
    usage_type: str = "licensed"
    tiers: tuple = ()  # graduated: ((up_to or None, unit_amount), ...)
    nickname: str = ""
    active: bool = True  # False: archived; its subscribers are still billed on it
    inline: bool = False  # created with `price_data` on a subscription: never listed

    @property
    def months(self) -> int | Fraction:
        """Months per period, as METRICS.md counts them (a week is 12/52 of a month)."""
        if self.interval == "week":
            return self.interval_count * Fraction(12, 52)
        return self.interval_count * (12 if self.interval == "year" else 1)

    @property
    def metered(self) -> bool:
        return self.usage_type == "metered"

    def amount(self, quantity: int) -> int:
        """What `quantity` units cost for one period (graduated tiers summed)."""
        if not self.tiers:
            assert self.unit_amount is not None, f"price {self.id} has neither tiers nor unit_amount"
            return self.unit_amount * quantity
        total, below = 0, 0
        for up_to, unit in self.tiers:
            units = max(0, min(quantity, up_to or quantity) - below)
            total += units * unit
            below = up_to or below
        return total


@dataclass(frozen=True)
class Coupon:
    id: str
    name: str
    duration: str  # forever | repeating | once
    percent_off: float | None = None
    amount_off: int | None = None
    currency: str | None = None
    duration_in_months: int | None = None


@dataclass(frozen=True)
class TaxRate:
    id: str
    display_name: str
    jurisdiction: str
    country: str
    state: str | None
    percentage: float
    inclusive: bool
    tax_type: str


@dataclass(frozen=True)
class Market:
    country: str
    weight: float
    currency: str
    # (state or None, share of customers, tax rate id or None)
    regions: tuple = field(default=((None, 1.0, None),))


PRODUCTS = (
    Product("prod_demo_starter", "Starter", seats=True),
    Product("prod_demo_team", "Team", seats=True),
    Product("prod_demo_business", "Business", seats=True),
    Product("prod_demo_storage", "Extra storage", seats=False),
    Product("prod_demo_support", "Priority support", seats=True),
    Product("prod_demo_api", "API calls", seats=False),
    Product("prod_demo_pass", "Weekly pass", seats=False),
    Product("prod_demo_workspace", "Extra workspace", seats=False),  # inline prices only
)
PLANS = ("prod_demo_starter", "prod_demo_team", "prod_demo_business")

# USD minor units per period; other currencies derive from these.
_BASE = {
    "prod_demo_starter": {"month": 1900, "quarter": 5400, "year": 19000},
    "prod_demo_team": {"month": 4900, "quarter": 13800, "year": 49000},
    "prod_demo_business": {"month": 9900, "quarter": 28200, "year": 99000},
    "prod_demo_storage": {"month": 1000, "quarter": 3000, "year": 10000},
}
_FACTOR = {"usd": 1.0, "eur": 0.95, "gbp": 0.8, "jpy": 1.5}  # jpy: yen per US cent


def _local(amount: int, currency: str) -> int:
    return int(round(amount * _FACTOR[currency] / 100)) * 100


def local_amount(usd: int, currency: str) -> int:
    """A USD amount (minor units) in `currency`, a multiple of 100 minor units."""
    return _local(usd, currency)


def _prices() -> tuple[Price, ...]:
    prices = []
    for product, by_period in _BASE.items():
        for period, usd in by_period.items():
            interval, count = PERIODS[period]
            for currency in CURRENCIES:
                prices.append(Price(f"price_demo_{product[10:]}_{period}_{currency}", product,
                                    currency, interval, count, _local(usd, currency),
                                    nickname=f"{product[10:].title()} {period}ly"))
    # One tiered price (graduated per seat) and one metered price, monthly USD.
    prices.append(Price("price_demo_support_month_usd", "prod_demo_support", "usd", "month", 1,
                        None, tiers=((5, 2000), (20, 1500), (None, 1000)),
                        nickname="Priority support (tiered)"))
    prices.append(Price("price_demo_api_month_usd", "prod_demo_api", "usd", "month", 1, 2,
                        usage_type="metered", nickname="API calls per 1,000"))
    # A weekly plan, for METRICS.md's week arithmetic ($10/week is $43.33 a month).
    for currency, amount in (("usd", 1000), ("eur", 900)):
        prices.append(Price(f"price_demo_pass_week_{currency}", "prod_demo_pass", currency, "week",
                            1, amount, nickname="Weekly pass"))
    return tuple(prices)


# Team's first price list, archived when Team's prices went up: the customers who
# subscribed before then keep being billed on it (grandfathered), nobody new gets it.
_LEGACY_TEAM = {"month": 3900, "year": 39000}


def _legacy_prices() -> tuple[Price, ...]:
    return tuple(Price(f"price_demo_team_{period}_{currency}_v1", "prod_demo_team", currency,
                       *PERIODS[period], _local(usd, currency), nickname=f"Team {period}ly (v1)",
                       active=False)
                 for period, usd in _LEGACY_TEAM.items() for currency in CURRENCIES)


PRICES = _prices() + _legacy_prices()
PRICE_BY_ID = {p.id: p for p in PRICES}
# current price id -> the archived price its early subscribers keep
LEGACY_PRICE = {p.id.removesuffix("_v1"): p for p in PRICES if not p.active}


def price_for(product: str, period: str, currency: str) -> Price:
    return PRICE_BY_ID[f"price_demo_{product[10:]}_{period}_{currency}"]


COUPONS = (
    Coupon("demo_launch20", "Launch 20% forever", "forever", percent_off=20.0),
    Coupon("demo_welcome50", "Welcome 50% for 3 months", "repeating", percent_off=50.0,
           duration_in_months=3),
    Coupon("demo_first10", "10% off first invoice", "once", percent_off=10.0),
    Coupon("demo_usd500", "$5 off first invoice", "once", amount_off=500, currency="usd"),
    Coupon("demo_eur1000", "€10 off for 6 months", "repeating", amount_off=1000,
           currency="eur", duration_in_months=6),
)

TAX_RATES = (
    TaxRate("txr_demo_us_ca", "Sales tax", "US - CA", "US", "CA", 7.25, False, "sales_tax"),
    TaxRate("txr_demo_us_ny", "Sales tax", "US - NY", "US", "NY", 8.875, False, "sales_tax"),
    TaxRate("txr_demo_us_tx", "Sales tax", "US - TX", "US", "TX", 6.25, False, "sales_tax"),
    TaxRate("txr_demo_de", "VAT", "DE", "DE", None, 19.0, True, "vat"),
    TaxRate("txr_demo_fr", "VAT", "FR", "FR", None, 20.0, True, "vat"),
    TaxRate("txr_demo_nl", "VAT", "NL", "NL", None, 21.0, True, "vat"),
    TaxRate("txr_demo_gb", "VAT", "GB", "GB", None, 20.0, True, "vat"),
)
TAX_RATE_BY_ID = {t.id: t for t in TAX_RATES}

MARKETS = (
    Market("US", 0.42, "usd", (("CA", 0.3, "txr_demo_us_ca"), ("NY", 0.2, "txr_demo_us_ny"),
                               ("TX", 0.15, "txr_demo_us_tx"), ("WA", 0.35, None))),
    Market("CA", 0.06, "usd"),
    Market("AU", 0.04, "usd"),
    Market("DE", 0.12, "eur", ((None, 1.0, "txr_demo_de"),)),
    Market("FR", 0.08, "eur", ((None, 1.0, "txr_demo_fr"),)),
    Market("NL", 0.05, "eur", ((None, 1.0, "txr_demo_nl"),)),
    Market("GB", 0.13, "gbp", ((None, 1.0, "txr_demo_gb"),)),
    Market("JP", 0.10, "jpy"),
)
