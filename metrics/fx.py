"""Exchange rates for reporting-currency totals.

Rate convention (table `fx_rates`, entered by the user: metrics/fx_rates_input.py
defines it, and a database without it has only the defaults): one row says that 1 major unit of
`currency` is worth `rate` major units of `reporting_currency` from `month` on
(`month` NULL: every month without a dated row). So (eur, usd, 1.08) means
1 EUR = 1.08 USD, and amount_in_usd = amount_in_eur x 1.08.

Lookup for (currency X, reporting R, month M): X == R gives 1; else the newest
row (X, R) dated on or before M (an undated row otherwise); else the inverse
row (R, X); else a cross rate through USD, where Tally's shipped defaults fill
gaps. The defaults are approximate late-2026 rates, meant to be edited.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.common import MetricError, has_table
from metrics.currency import exponent
from metrics.fx_rates_input import ensure_table

# 1 major unit of the currency in USD.
DEFAULT_RATES_TO_USD = {
    "usd": 1.0, "eur": 1.08, "gbp": 1.27, "jpy": 0.0067, "cad": 0.73, "aud": 0.66,
    "chf": 1.13, "nzd": 0.60, "sek": 0.095, "nok": 0.094, "dkk": 0.145, "pln": 0.25,
    "czk": 0.043, "huf": 0.0027, "sgd": 0.75, "hkd": 0.128, "inr": 0.012, "brl": 0.18,
    "mxn": 0.055, "krw": 0.00073, "zar": 0.055, "ils": 0.27, "aed": 0.272, "cny": 0.14,
}


def ensure_default_rates(con) -> int:
    """Insert the shipped defaults when `fx_rates` is empty (writers call this)."""
    ensure_table(con)
    if con.execute("SELECT count(*) FROM fx_rates").fetchall()[0][0]:
        return 0
    rows = [(None, code, "usd", rate) for code, rate in DEFAULT_RATES_TO_USD.items() if code != "usd"]
    con.executemany("INSERT INTO fx_rates VALUES (?, ?, ?, ?)", rows)
    return len(rows)


class RateBook:
    """Every rate the user entered, plus the defaults, answering rate(X, R, month)."""

    def __init__(self, con) -> None:
        rows = con.execute("""
            SELECT month, lower(currency), lower(reporting_currency), rate FROM fx_rates
            WHERE rate IS NOT NULL AND rate > 0 ORDER BY month NULLS FIRST""").fetchall() \
            if has_table(con, "fx_rates") else []
        self.rows: dict[tuple[str, str], list[tuple[dt.date | None, float]]] = {}
        for month, currency, reporting, rate in rows:
            self.rows.setdefault((currency, reporting), []).append((month, rate))

    def _entered(self, currency: str, reporting: str, month: dt.date):
        dated = self.rows.get((currency, reporting)) or []
        undated = [rate for m, rate in dated if m is None]
        earlier = [rate for m, rate in dated if m is not None and m <= month]
        if earlier:
            return earlier[-1]
        if undated:
            return undated[-1]
        return None

    def _direct(self, currency: str, reporting: str, month: dt.date):
        if currency == reporting:
            return 1.0
        rate = self._entered(currency, reporting, month)
        if rate is not None:
            return rate
        inverse = self._entered(reporting, currency, month)
        return 1.0 / inverse if inverse else None

    def _to_usd(self, currency: str, month: dt.date):
        rate = self._direct(currency, "usd", month)
        return rate if rate is not None else DEFAULT_RATES_TO_USD.get(currency)

    def rate(self, currency: str, reporting: str, month: dt.date) -> float:
        currency, reporting = currency.lower(), reporting.lower()
        rate = self._direct(currency, reporting, month)
        if rate is None:
            via, to = self._to_usd(currency, month), self._to_usd(reporting, month)
            rate = via / to if via and to else None
        if rate is None:
            raise MetricError(f"no exchange rate from {currency.upper()} to "
                              f"{reporting.upper()}: add one to fx_rates")
        return rate


def factors(con, currencies, months, reporting: str) -> pd.DataFrame:
    """(currency, month, factor): minor units of `currency` x factor = minor units of `reporting`."""
    book = RateBook(con)
    rows = []
    for currency in currencies:
        scale = 10 ** (exponent(reporting) - exponent(currency))
        for month in months:
            rows.append((currency, month, book.rate(currency, reporting, month) * scale))
    return pd.DataFrame(rows, columns=["currency", "month", "factor"]).astype(
        {"currency": "object", "factor": "float64"})
