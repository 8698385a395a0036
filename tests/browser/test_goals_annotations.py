"""In a real browser: add an annotation and a goal on the Goals & annotations page, then
see the marker (with its text, as text) and the goal's pace in the MRR charts' plotly
data, and the Overview's on track / behind line.

Its own dashboard server on a private copy of the browser account (sign-in not
configured: this computer may write).
"""
from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from metrics.common import add_months, default_months, this_month
from tests.browser.helpers import patient, settle
from tests.browser.server import dashboard_server

NOTE = "price change & 'annual' *plans*"
# The traces of the plotly chart titled `title`, once it is drawn (plotly keeps the figure on its div).
CHART_TRACES = """title => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const heading = plot.layout && plot.layout.title;
        // Streamlit's theme wraps the title in <b> tags
        if (heading && String(heading.text).replace(/<[^>]*>/g, '') === title && plot.data)
            return plot.data.map(t => ({name: t.name, x: Array.from(t.x || [], String), text: t.text || null}));
    }
    return null;
}"""


@pytest.fixture
def private_url(browser_db, tmp_path):
    path = tmp_path / "tally.duckdb"
    shutil.copyfile(browser_db, path)
    env = {"TALLY_DB": str(path), "TALLY_AUDIT_DB": str(tmp_path / "audit.duckdb"), "STRIPE_API_KEY": ""}
    with dashboard_server(env) as url:
        yield url, str(path)


@pytest.fixture
def goals_page(page):
    with patient(page, "goals_last.png"):
        yield page


def type_date(page, label: str, day: dt.date) -> None:
    """st.date_input is a field of year / month / day segments: type into each, as a person would."""
    page.get_by_role("spinbutton", name=f"year, {label}", exact=True).click()
    page.keyboard.type(day.strftime("%Y%m%d"))
    page.keyboard.press("Tab")


def type_text(page, label: str, text: str) -> None:
    page.get_by_test_id("stTextInput").filter(has_text=label).locator("input").fill(text)


def traces(page, title: str) -> list[dict]:
    """The plotly data of the chart with this title, read from the page."""
    return page.wait_for_function(CHART_TRACES, arg=title).json_value()


def _save_goal(page, target: str, first) -> None:
    """Save the MRR goal on the Goals & annotations page (already open)."""
    type_text(page, "Target", target)
    type_date(page, "Start month", first)
    page.get_by_role("button", name="Save goal").click()
    page.get_by_text("Goal saved.").wait_for()


def test_an_annotation_and_a_goal_show_on_the_mrr_charts_and_the_overview(private_url, goals_page):
    url, db = private_url
    page = goals_page
    with duckdb.connect(db, read_only=True) as con:
        first, _ = default_months(con)  # the Overview's default range
    day = add_months(first, 4) + dt.timedelta(days=14)

    page.goto(url)
    settle(page, "Overview")
    page.goto(url + "/goals")
    settle(page, "Goals & annotations")
    type_date(page, "Date", day)
    type_text(page, "Text", NOTE)
    page.get_by_role("button", name="Add annotation").click()
    page.get_by_text("Annotation added.").wait_for()

    _save_goal(page, "1", first)  # 1.00 a month: on track

    page.goto(url + "/")
    settle(page, "Overview")
    page.get_by_text("on track at the end of").first.wait_for()
    shown = traces(page, "MRR")
    marks = [t for t in shown if t["name"] == "Annotations"]
    assert marks and marks[0]["x"][0].startswith(day.isoformat()), shown
    assert marks[0]["text"] == ["price change &amp; 'annual' *plans*"]  # escaped: plotly shows it as typed
    pace = [t for t in shown if t["name"].startswith("Pace to the MRR goal")]
    assert pace and pace[0]["x"][-1].startswith(add_months(this_month(), 6).isoformat()), shown
    assert page.locator("b", has_text="price change").count() == 0 and page.locator("em", has_text="plans").count() == 0

    page.goto(url + "/mrr?currency=usd")
    settle(page, "MRR")
    assert any(t["name"] == "Annotations" for t in traces(page, "MRR by plan"))
    assert any(t["name"] == "Annotations" for t in traces(page, "MRR movements (click a month to drill down)"))

    page.goto(url + "/goals")
    settle(page, "Goals & annotations")
    _save_goal(page, "100000000", first)  # far out of reach: behind
    page.goto(url + "/")
    settle(page, "Overview")
    page.get_by_text("MRR goal").first.wait_for()
    assert page.get_by_text(": behind by ").count() >= 1
