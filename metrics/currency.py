"""Currency exponents and display: money is integer minor units until shown."""
from __future__ import annotations

from decimal import Decimal
from typing import overload

ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def exponent(currency: str) -> int:
    code = (currency or "").lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


@overload
def to_major(amount_minor: None, currency: str) -> None: ...
@overload
def to_major(amount_minor: int | float, currency: str) -> Decimal: ...
def to_major(amount_minor: int | float | None, currency: str) -> Decimal | None:
    """Minor units to an exact decimal in major units (JPY 5000 -> 5000)."""
    if amount_minor is None:
        return None
    return (Decimal(str(amount_minor)) / (Decimal(10) ** exponent(currency))).quantize(
        Decimal(1).scaleb(-exponent(currency)))


def exponent_sql(currency_column: str) -> str:
    """A SQL expression giving the exponent of a currency column (for exports)."""
    zero = ", ".join(f"'{c}'" for c in sorted(ZERO_DECIMAL))
    three = ", ".join(f"'{c}'" for c in sorted(THREE_DECIMAL))
    return (f"(CASE WHEN lower({currency_column}) IN ({zero}) THEN 0 "
            f"WHEN lower({currency_column}) IN ({three}) THEN 3 ELSE 2 END)")


def format_money(amount_minor: int | float | None, currency: str) -> str:
    if amount_minor is None:
        return "—"
    major = to_major(amount_minor, currency)
    digits = exponent(currency)
    return f"{major:,.{digits}f} {currency.upper()}"
