"""Annotation markers on every chart over time, and a goal's pace on the MRR line."""
import datetime as dt

import pandas as pd

from tally_ui import charts

MONTHS = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"])
MRR = pd.DataFrame({"month": MONTHS, "currency": "usd", "mrr": [10000, 12000, 15000]})


def notes(*rows):
    return pd.DataFrame([(f"note_{i}", pd.Timestamp(day), text) for i, (day, text) in enumerate(rows)],
                        columns=["annotation_id", "day", "text"])


def test_a_time_chart_gets_a_marker_with_the_text_escaped_and_a_line_per_note_in_its_range():
    fig = charts.lines(MRR, "month", "mrr", title="MRR")
    marked = charts.with_annotations(fig, notes(("2026-02-10", "<b>price</b> & plans"), ("2025-06-01", "too early"),
                                                ("2026-03-20", "in the last month")))
    marker = marked.data[-1]
    assert marker.name == "Annotations" and marker.yaxis == "y2"
    assert [str(x)[:10] for x in marker.x] == ["2026-02-10", "2026-03-20"]
    assert list(marker.text) == ["&lt;b&gt;price&lt;/b&gt; &amp; plans", "in the last month"]
    assert len(marked.layout.shapes) == 2
    assert len(fig.data) == 1 and not fig.layout.shapes  # the cached figure itself is left as it was
    assert charts.with_annotations(fig, notes(("2026-02-10", "x"))) is not fig


def test_bars_over_time_are_marked_but_other_charts_are_not():
    movements = pd.DataFrame({"month": MONTHS, "currency": "usd", "new": [1, 2, 3], "churn": [1, 0, 1]})
    one = notes(("2026-02-10", "price change"))
    assert charts.with_annotations(charts.movements(movements), one).data[-1].name == "Annotations"
    reasons = pd.DataFrame({"reason": ["card_declined", "expired_card"], "failed": [3, 1]})
    by_reason = charts.bars(reasons, "reason", "failed", horizontal=True)
    assert charts.with_annotations(by_reason, one) is by_reason
    grid = pd.DataFrame([[1.0, 0.5]], index=["2026-01"], columns=[0, 1])
    assert charts.with_annotations(charts.heatmap(grid), one).data[-1].name != "Annotations"
    assert charts.with_annotations(charts.lines(MRR, "month", "mrr"), notes()).data[-1].name != "Annotations"


def test_the_goal_pace_is_a_dashed_line_in_major_units():
    goal = pd.DataFrame({"month": [dt.date(2026, 1, 1), dt.date(2026, 6, 1)], "currency": "usd",
                         "pace": [10000.0, 20000.0]})
    fig = charts.lines(MRR, "month", "mrr", goal=goal, goal_label="Pace to the MRR goal <i>")
    pace = fig.data[-1]
    assert pace.name == "Pace to the MRR goal &lt;i&gt;" and pace.line.dash == "dash"
    assert list(pace.y) == [100.0, 200.0]
