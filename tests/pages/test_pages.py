"""Every page on a small demo account: renders, shows the right numbers, reacts to filters."""
import datetime as dt

import pytest

from metrics.currency import to_major
from tally_ui.widgets import card_money
from tests.pages.apptest import PAGES, cards, goto, open_app, selected_end, shown_currency, shown_text
from tests.pages.demo_truth import truth


def truth_mrr(db, month, currency, country=None):
    where = "AND c.country = ?" if country else ""
    params = [month, currency] + ([country] if country else [])
    return truth(db, f"""
        SELECT coalesce(sum(t.mrr), 0), count(DISTINCT t.customer_id)
        FROM demo_truth_mrr t JOIN customers c ON c.id = t.customer_id
        WHERE t.month = ? AND t.currency = ? {where}""", params)[0]


@pytest.mark.parametrize("title", PAGES)
def test_every_page_renders_without_errors(dashboard_env, title):
    at = goto(open_app(), title)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == title
    assert "Demo data" in shown_text(at) and "STRIPE_API_KEY" in shown_text(at)


def test_overview_cards_match_the_demo_ground_truth(dashboard_env):
    at = open_app({"currency": "native"})
    end = selected_end(at)
    currency = shown_currency(at)
    mrr, customers = truth_mrr(dashboard_env, end, currency)
    shown = cards(at)
    assert shown["MRR"][0] == card_money(mrr, currency)
    assert shown["ARR"][0] == card_money(12 * mrr, currency)
    assert shown["Active customers"][0] == f"{customers:,}"
    previous, _ = truth_mrr(dashboard_env, (end - dt.timedelta(days=1)).replace(day=1), currency)
    change = float(shown["MRR"][1].split()[0].replace(",", ""))
    assert abs(change - float(to_major(round(mrr - previous), currency))) <= 0.5  # whole units, like the card


def test_country_filter_changes_the_numbers(dashboard_env):
    everyone = open_app({"currency": "native"})
    currency = shown_currency(everyone)
    country = truth(dashboard_env, """
        SELECT c.country FROM demo_truth_mrr t JOIN customers c ON c.id = t.customer_id
        WHERE t.currency = ? GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""", [currency])[0][0]
    filtered = open_app({"currency": "native", "country": country})
    assert filtered.multiselect(key="f_countries").value == [country]
    assert shown_currency(filtered) == currency
    end = selected_end(filtered)
    mrr, customers = truth_mrr(dashboard_env, end, currency, country)
    assert cards(filtered)["MRR"][0] == card_money(mrr, currency)
    assert cards(filtered)["Active customers"][0] == f"{customers:,}"
    assert cards(filtered)["MRR"][0] != cards(everyone)["MRR"][0]


def test_date_range_comes_from_and_goes_to_the_url(dashboard_env):
    at = open_app({"from": "2025-01", "to": "2025-06", "currency": "usd"})
    assert at.selectbox(key="f_start").value == dt.date(2025, 1, 1)
    assert at.selectbox(key="f_end").value == dt.date(2025, 6, 1)
    assert at.selectbox(key="f_currency").value == "usd"
    at.selectbox(key="f_end").set_value(dt.date(2025, 9, 1)).run()
    assert at.query_params["to"] == ["2025-09"] or at.query_params["to"] == "2025-09"


def test_changing_the_end_month_changes_the_cards(dashboard_env):
    at = open_app({"currency": "native", "from": "2025-01"})  # an end before "From" would swap the two
    before = cards(at)["MRR"][0]
    earlier = dt.date(2025, 6, 1)
    at.selectbox(key="f_end").set_value(earlier).run()
    currency = shown_currency(at)
    mrr, _ = truth_mrr(dashboard_env, earlier, currency)
    assert cards(at)["MRR"][0] == card_money(mrr, currency) != before


def test_drilldown_lists_the_customers_behind_a_movement(dashboard_env):
    at = goto(open_app({"currency": "native"}), "MRR")
    month = selected_end(at)
    at.selectbox(key="drill_month").set_value(month)
    at.selectbox(key="drill_movement").set_value("churn").run()
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    expected = {row[0] for row in truth(dashboard_env, """
        SELECT p.customer_id FROM demo_truth_mrr p
        WHERE p.month = ? AND p.mrr > 0 AND NOT EXISTS (
            SELECT 1 FROM demo_truth_mrr c WHERE c.customer_id = p.customer_id
               AND c.currency = p.currency AND c.month = ? AND c.mrr > 0)""", [previous, month])}
    assert expected, "the fixed demo account has churn in its last complete month"
    listed = set(at.dataframe[-1].value["customer_id"])
    assert listed == expected


def test_customer_search_shows_that_customers_timeline(dashboard_env):
    customer_id, email = truth(dashboard_env, """
        SELECT c.id, c.email FROM customers c JOIN demo_truth_mrr t ON t.customer_id = c.id
        GROUP BY ALL ORDER BY count(*) DESC, c.id LIMIT 1""")[0]
    at = goto(open_app({"currency": "native", "from": "2025-01"}), "Customers & retention")
    at.text_input(key="customer_search").input(email).run()
    assert at.selectbox(key="customer_pick").value == customer_id
    timeline = at.dataframe[-1].value
    months = {row[0] for row in truth(dashboard_env, """
        SELECT month FROM demo_truth_mrr WHERE customer_id = ? AND month BETWEEN ? AND ?""",
        [customer_id, dt.date(2025, 1, 1), selected_end(at)])}
    paying = set(timeline.loc[timeline["mrr"] > 0, "month"].map(lambda m: m.date() if hasattr(m, "date") else m))
    assert paying == months


def test_customer_search_takes_percent_and_underscore_as_text(dashboard_env):
    at = goto(open_app({"currency": "native"}), "Customers & retention")
    at.text_input(key="customer_search").input("%").run()  # as a pattern it would match everyone
    assert not [box for box in at.selectbox if box.key == "customer_pick"]
    assert at.info[-1].value == "No customer matches that search."
