import datetime as dt

from tally_ui.filters import last_complete_month, months_between, parse_month


def test_months_between_is_inclusive_and_crosses_years():
    assert months_between(dt.date(2025, 11, 15), dt.date(2026, 2, 1)) == [
        dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]


def test_parse_month_accepts_only_year_and_month():
    assert parse_month("2026-03") == dt.date(2026, 3, 1)
    assert parse_month("March") is None and parse_month(None) is None and parse_month("2026-13") is None


def test_the_range_ends_at_the_last_complete_month():
    months = months_between(dt.date(2026, 8, 1), dt.date(2026, 11, 1))
    assert last_complete_month(months, dt.date(2026, 11, 15)) == dt.date(2026, 10, 1)
    assert last_complete_month(months, dt.date(2026, 12, 1)) == dt.date(2026, 11, 1)
    assert last_complete_month(months[-1:], dt.date(2026, 11, 15)) == dt.date(2026, 11, 1)
