"""In a real browser: the clicked movement month stays highlighted; Stripe text never becomes markup."""
from __future__ import annotations

import re
import shutil

import duckdb
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.helpers import settle
from tests.browser.server import dashboard_server

EVIL_PRODUCT = '<a href="https://evil.example/login">'

BARS = """plot => Array.from(plot.querySelectorAll('.barlayer .trace')).map(trace =>
    Array.from(trace.querySelectorAll('.point path')).map(bar => {
        const r = bar.getBoundingClientRect();
        return {opacity: Number(getComputedStyle(bar).opacity), h: r.height,
                x: r.x + r.width / 2, y: r.y + r.height / 2};
    }))"""


def movements_chart(page):
    # A rerun may redraw the chart between finding and scrolling to it: find it again then.
    for _ in range(10):
        chart = page.get_by_test_id("stPlotlyChart").nth(1)
        try:
            chart.locator(".barlayer .point path").first.wait_for()
            chart.scroll_into_view_if_needed()
        except PlaywrightError:
            page.wait_for_timeout(500)
            continue
        page.wait_for_timeout(500)
        return chart.locator(".js-plotly-plot")
    raise AssertionError("the movements chart kept being redrawn")


def tallest_bar(traces, skip_month: int | None = None) -> tuple[int, dict]:
    """(month index, bar) of the tallest bar, outside one month if asked."""
    return max(((i, bar) for trace in traces for i, bar in enumerate(trace) if i != skip_month),
               key=lambda pair: pair[1]["h"])


def assert_only_month_is_bright(plot, month: int) -> None:
    # Waits: the rerun the click starts redraws the chart.
    for _ in range(40):
        traces = plot.evaluate(BARS)
        bright = {i for trace in traces for i, bar in enumerate(trace) if bar["opacity"] == 1}
        if bright == {month}:
            return
        plot.page.wait_for_timeout(250)
    raise AssertionError(f"bright months {bright}, expected only {month}")


def test_a_clicked_movement_month_stays_highlighted(dashboard_url, page):
    page.goto(dashboard_url)  # a session's first page: later deep links resolve normally
    settle(page, "Overview")
    page.goto(dashboard_url + "/mrr?currency=usd")
    settle(page, "MRR")
    plot = movements_chart(page)
    months = plot.evaluate("plot => plot.data[0].x")
    first, bar = tallest_bar(plot.evaluate(BARS))
    page.mouse.click(bar["x"], bar["y"])
    label = re.compile(r"^\w{3} \d{4}: \d+ customers")
    page.get_by_text(label).first.wait_for()
    assert_only_month_is_bright(movements_chart(page), first)

    plot = movements_chart(page)
    second, bar = tallest_bar(plot.evaluate(BARS), skip_month=first)
    page.mouse.click(bar["x"], bar["y"])
    month = re.compile(rf"^{_month_label(months[second])}: \d+ customers")
    page.get_by_text(month).wait_for()
    assert_only_month_is_bright(movements_chart(page), second)


def _month_label(value: str) -> str:
    import datetime
    return datetime.date.fromisoformat(str(value)[:10]).strftime("%b %Y")


@pytest.fixture(scope="module")
def evil_product_url(browser_db, tmp_path_factory):
    """The browser test account with its biggest plan renamed to a link."""
    path = tmp_path_factory.mktemp("evil_product") / "tally.duckdb"
    shutil.copyfile(browser_db, path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE products SET name = ? WHERE id = 'prod_demo_business'", [EVIL_PRODUCT])
    con.close()
    with dashboard_server({"TALLY_DB": str(path), "STRIPE_API_KEY": ""}) as url:
        yield url


def test_a_product_named_like_a_link_is_text_in_the_chart(evil_product_url, page):
    page.goto(evil_product_url)
    settle(page, "Overview")
    page.goto(evil_product_url + "/mrr?currency=usd")
    settle(page, "MRR")
    chart = page.get_by_test_id("stPlotlyChart").first
    legend = chart.locator(".legend")
    legend.get_by_text(EVIL_PRODUCT, exact=True).wait_for()  # shown as typed
    assert page.locator('a[href*="evil.example"]').count() == 0  # and not a link anywhere


TABLE_SCROLL = """table => { const s = table.querySelector('.dvn-scroller');
    const before = s.scrollLeft; s.scrollLeft = 100000; const moved = s.scrollLeft - before; s.scrollLeft = before;
    return {width: table.getBoundingClientRect().width, hidden: s.scrollWidth - s.clientWidth, moved}; }"""


def test_payments_tables_are_full_width_and_scroll_what_does_not_fit(dashboard_url, page):
    """Item 9: the failures and recovery tables sat in half a page with their right columns cut off."""
    page.set_viewport_size({"width": 1200, "height": 1400})
    page.goto(dashboard_url)
    settle(page, "Overview")
    page.goto(dashboard_url + "/payments?currency=native&from=2025-01")
    settle(page, "Payments")
    tables = page.get_by_test_id("stDataFrame")
    tables.first.locator(".dvn-scroller").wait_for()
    heading = page.get_by_role("heading", name="Payments", exact=True).first.bounding_box()["width"]
    shown = [tables.nth(i).evaluate(TABLE_SCROLL) for i in range(tables.count())]
    assert len(shown) >= 2, shown
    for table in shown:
        assert table["width"] >= 0.9 * heading, (table, heading)
        assert table["hidden"] <= 0 or table["moved"] > 0, table  # what does not fit scrolls into view
