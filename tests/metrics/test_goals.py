"""Goals and annotations: what bad input is refused with, and the pace and gap of a goal in exact numbers."""
import datetime as dt

import pytest

from metrics import METRICS
from metrics.annotations import MAX_TEXT, add_annotation, annotation_list, clean_text, delete_annotation
from metrics.common import MetricError
from metrics.export import to_csv
from metrics.goals import clean_goal, delete_goal, goal_progress, goals, pace_at, save_goal, status_at
from metrics.params import Params
from tests.metrics import scenario

TODAY = dt.date(2024, 2, 10)


@pytest.mark.parametrize("text, problem", [
    ("", "Write a short text"),
    ("   ", "Write a short text"),
    (None, "Write a short text"),
    ("x" * (MAX_TEXT + 1), "200 characters or fewer (this one has 201)"),
    ("<b>launch</b>", "cannot contain < or >"),
    ("price > cost", "cannot contain < or >"),
    ("=HYPERLINK(\"http://x\")", "cannot start with"),
    ("+1 plan", "cannot start with"),
    ("-20% coupon", "cannot start with"),
    ("@channel", "cannot start with"),
    ("two\nlines", "on one line"),
])
def test_bad_annotation_text_is_refused_in_plain_words(text, problem):
    with pytest.raises(MetricError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        clean_text(text)


def test_good_annotation_text_is_kept_as_typed_without_outer_spaces():
    assert clean_text("  launched annual plans  ") == "launched annual plans"
    assert clean_text("x" * MAX_TEXT) == "x" * MAX_TEXT
    assert clean_text("price change: 10% off & *bold* [link](x)") == "price change: 10% off & *bold* [link](x)"


@pytest.mark.parametrize("args, problem", [
    (("mrr", "100", "usd", "2023-06", "2024-01"), r"goal's month \(Jan 2024\) is in the past: pick Feb 2024"),
    (("mrr", "100", "usd", "2024-05", "2024-05"), "start month must come before"),
    (("mrr", "100", "usd", "2024-06", "2024-05"), "start month must come before"),
    (("users", "100", "usd", "2024-01", "2024-05"), "Pick MRR or ARR"),
    (("mrr", "lots", "usd", "2024-01", "2024-05"), "amount like 100000"),
    (("mrr", "0", "usd", "2024-01", "2024-05"), "above 0"),
    (("mrr", "-5", "usd", "2024-01", "2024-05"), "above 0"),
    (("mrr", "100", "dollars", "2024-01", "2024-05"), "3-letter code"),
    (("mrr", "100", "usd", "soon", "2024-05"), "start month must be a month like 2027-06"),
])
def test_bad_goals_are_refused_in_plain_words(args, problem):
    with pytest.raises(MetricError, match=problem):
        clean_goal(*args, today=TODAY)


def test_a_goal_is_stored_in_minor_units_of_its_currency():
    assert clean_goal("ARR", "1,200.50", "USD", "2024-01", dt.date(2024, 12, 15), today=TODAY) == (
        "arr", 120050, "usd", dt.date(2024, 1, 1), dt.date(2024, 12, 1))
    assert clean_goal("mrr", "5000", "jpy", "2024-01", "2024-02", today=TODAY)[1] == 5000  # zero-decimal
    assert clean_goal("mrr", "1", "usd", "2024-01", "2024-02", today=TODAY)  # this month is not the past


def test_compound_pace_grows_by_the_same_ratio_each_month():
    assert [round(pace_at(25000, 51840, k, 4), 6) for k in range(5)] == [25000, 30000, 36000, 43200, 51840]
    assert [pace_at(0, 400, k, 4) for k in range(5)] == [0, 100, 200, 300, 400]  # no base: a straight line


def test_goal_progress_in_exact_numbers():
    """scenario: MRR (cents) Jan 25000, Feb 25000, Mar 35000, Apr-Jun 45000. Goal: 518.40 USD by May,
    from January: 20% a month, so the pace is 25000, 30000, 36000, 43200, 51840."""
    con = scenario.build().con
    goal_id = save_goal(con, clean_goal("mrr", "518.40", "usd", "2024-01", "2024-05", today=TODAY), "ann")
    frame = goal_progress(con, Params(plans=("ignored",)))  # filters do not apply to a goal
    assert frame["goal_id"].unique().tolist() == [goal_id]
    assert [m.isoformat() for m in frame["month"]] == ["2024-01-01", "2024-02-01", "2024-03-01",
                                                      "2024-04-01", "2024-05-01"]
    assert frame["pace"].round(6).tolist() == [25000, 30000, 36000, 43200, 51840]
    assert frame["actual"].tolist() == [25000, 25000, 35000, 45000, 45000]
    assert frame["gap"].round(6).tolist() == [0, -5000, -1000, 1800, -6840]
    assert frame["status"].tolist() == ["on track", "behind", "behind", "on track", "behind"]
    assert status_at(frame, goal_id, dt.date(2024, 4, 1)) == dict(
        month=dt.date(2024, 4, 1), actual=45000, pace=pytest.approx(43200), gap=pytest.approx(1800), on_track=True)
    assert status_at(frame, goal_id, dt.date(2023, 12, 1)) is None
    csv = to_csv(METRICS["goal_progress"], frame).splitlines()
    assert csv[0] == "goal_id,metric,currency,month,target,pace,actual,gap,status"
    assert csv[2] == f"{goal_id},mrr,usd,2024-02,518.40,300.00,250.00,-50.00,behind"


def test_an_arr_goal_compares_arr_and_months_not_reached_have_no_actual():
    con = scenario.build().con
    save_goal(con, clean_goal("arr", "6000", "usd", "2024-05", "2024-09", today=TODAY), "ann")
    frame = goal_progress(con, Params())
    assert frame["actual"].tolist()[:2] == [12 * 45000, 12 * 45000]  # May, June
    assert frame["actual"].iloc[2:].isna().all() and frame["status"].iloc[2:].isna().all()
    assert frame["pace"].iloc[0] == 12 * 45000 and frame["pace"].iloc[-1] == pytest.approx(600000)


def test_a_new_goal_replaces_the_one_for_the_same_figure_and_currency():
    con = scenario.build().con
    first = save_goal(con, clean_goal("mrr", "600", "usd", "2024-01", "2024-05", today=TODAY), "ann")
    save_goal(con, clean_goal("arr", "9000", "usd", "2024-01", "2024-12", today=TODAY), "ann")
    second = save_goal(con, clean_goal("mrr", "700", "usd", "2024-01", "2024-06", today=TODAY), "bob")
    table = goals(con, Params())
    assert sorted(table["metric"]) == ["arr", "mrr"] and first not in set(table["goal_id"])
    delete_goal(con, second)
    assert goals(con, Params())["metric"].tolist() == ["arr"]
    with pytest.raises(MetricError, match="no longer exists"):
        delete_goal(con, second)


def test_a_goal_in_a_currency_the_revenue_cannot_be_converted_to_is_refused():
    con = scenario.build().con  # all in USD
    with pytest.raises(MetricError, match="no exchange rate from USD to XTS: add one on the Data & export page"):
        save_goal(con, clean_goal("mrr", "600", "xts", "2024-01", "2024-05", today=TODAY), "ann")
    assert goals(con, Params()).empty
    save_goal(con, clean_goal("mrr", "600", "eur", "2024-01", "2024-05", today=TODAY), "ann")  # a shipped rate
    assert goal_progress(con, Params())["actual"].notna().all()


def test_annotations_are_stored_checked_and_listed_by_day():
    con = scenario.build().con
    later = add_annotation(con, "2024-03-01", "launched annual plans", "ann")
    add_annotation(con, dt.date(2024, 1, 15), "price change", "bob")
    with pytest.raises(MetricError):
        add_annotation(con, "2024-02-01", "=1+1", "eve")
    with pytest.raises(MetricError, match="like 2026-03-15"):
        add_annotation(con, "March", "ok", "eve")
    frame = annotation_list(con, Params())
    assert frame["text"].tolist() == ["price change", "launched annual plans"]
    assert frame["created_by"].tolist() == ["bob", "ann"]
    delete_annotation(con, later)
    assert annotation_list(con, Params())["text"].tolist() == ["price change"]
