"""Numbers and pages a person trusts (issue #13 items 7-10, 17): on the small demo account."""
import datetime as dt
import json
import re
import statistics

import duckdb

from tests.pages.apptest import cards, goto, open_app

EVIL_PRODUCT = '<a href="https://evil.example/login">'


def number_on(card: str) -> float:
    return float(re.sub(r"[^\d.\-]", "", card.split()[0]))


def shown_dataframe(at, column: str):
    """The first table on the page with that column (the raw frame behind it, as drawn)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def column_labels(at, column: str) -> dict:
    """Header labels of the tables that have that column: {column: label}."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            config = json.loads(frame.proto.columns or "{}")
            return {name: spec.get("label") for name, spec in config.items()}
    raise AssertionError(f"no table with {column}")


def test_the_demo_acquisition_numbers_look_like_a_saas(dashboard_env):
    """Item 7: the demo spends on marketing like a business its size, not 118 USD a month."""
    at = goto(open_app(), "Acquisition")
    shown = cards(at)
    cac, payback, ratio = shown["CAC"][0], shown["CAC payback (months)"][0], shown["LTV:CAC"][0]
    assert number_on(cac) >= 100, cac
    assert 1 <= number_on(payback) <= 36, payback
    assert 0.5 <= number_on(ratio.rstrip("×")) <= 15, ratio
    table = shown_dataframe(at, "cac_payback_months")
    assert 4 <= statistics.median(table["cac_payback_months"].dropna()) <= 18
    assert 1 <= statistics.median(table["ltv_to_cac"].dropna()) <= 8


def test_money_cards_share_one_number_format(dashboard_env):
    at = open_app({"currency": "usd"})
    money = {label: value for label, (value, _) in cards(at).items() if value.endswith(" USD")}
    assert {"MRR", "ARR", "ARPA"} <= set(money)
    for label, value in money.items():
        assert re.fullmatch(r"-?\d{1,3}(,\d{3})* USD|-?\d+\.\d\dM USD", value), (label, value)


def test_a_from_after_to_is_swapped_and_said_next_to_the_controls(dashboard_env):
    """Item 8: not silently reset to a range nobody picked."""
    at = open_app({"from": "2025-09", "to": "2025-03", "currency": "usd"})
    assert at.selectbox(key="f_start").value == dt.date(2025, 3, 1)
    assert at.selectbox(key="f_end").value == dt.date(2025, 9, 1)
    said = [w.value for w in at.sidebar.warning]
    assert any("swapped" in text and "Mar 2025" in text and "Sep 2025" in text for text in said), said
    assert "At the end of Sep 2025" in " ".join(c.value for c in at.caption)

    at.selectbox(key="f_start").set_value(dt.date(2025, 11, 1)).run()  # later than To, in the widget
    assert at.selectbox(key="f_start").value == dt.date(2025, 9, 1)
    assert at.selectbox(key="f_end").value == dt.date(2025, 11, 1)
    assert any("swapped" in w.value for w in at.sidebar.warning)
    at.run()  # said once, not forever
    assert not any("swapped" in w.value for w in at.sidebar.warning)


def test_latest_disputes_are_those_of_the_selected_range(dashboard_env):
    """Item 10: the table follows the date range, like the counts above it."""
    con = duckdb.connect(dashboard_env, read_only=True)
    months = [m for (m,) in con.execute(
        "SELECT DISTINCT date_trunc('month', created)::DATE FROM disputes ORDER BY 1").fetchall()]
    con.close()
    assert len(months) >= 2, "the demo account has disputes in more than one month"
    month = months[-1]
    at = goto(open_app({"from": f"{month:%Y-%m}", "to": f"{month:%Y-%m}", "currency": "native"}),
              "Refunds & disputes")
    disputes = [d.value for d in at.dataframe if "charge_id" in d.value.columns][-1]  # after the refunds
    created = {c.date().replace(day=1) for c in disputes["created"]}
    assert created == {month}
    assert any(f"{month:%b %Y}" in h.value for h in at.subheader)


def test_tables_speak_words_and_keep_the_codes_in_the_data(dashboard_env):
    """Item 9: headers and Stripe codes in words on screen; snake_case and codes stay in the frame."""
    at = goto(open_app({"from": "2025-01", "currency": "native"}), "Payments")
    labels = column_labels(at, "failure_code")
    assert labels["failure_code"] == "Failure code" and labels["failed_amount"] == "Failed amount"
    failures = shown_dataframe(at, "failure_code")
    reasons = set(failures["outcome_reason"]) | set(failures["failure_code"])
    assert "Insufficient funds" in reasons and not any("_" in r for r in reasons)

    at = goto(open_app({"from": "2025-01", "currency": "usd"}), "Tax")  # US rates (a state) and EU ones (none)
    by_month = shown_dataframe(at, "state")
    assert "None" not in set(by_month["state"]) and "" in set(by_month["state"])
    assert all(str(r).endswith("%") for r in by_month["rate"])


def test_markup_in_a_product_name_is_plain_text_in_the_charts(writable_db):
    """Item 17: a product named like a link is escaped in every series name and label."""
    con = duckdb.connect(writable_db)
    con.execute("UPDATE products SET name = ? WHERE id = 'prod_demo_business'", [EVIL_PRODUCT])
    con.close()
    at = goto(open_app({"currency": "usd"}), "MRR")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [trace.get("name", "") for trace in spec["data"]]
    assert "&lt;a href=\"https://evil.example/login\"&gt;" in names, names
    assert not any("<" in name for name in names), names
