"""In a real browser: every page loads cleanly, exports are safe, deep links show no data early."""
from __future__ import annotations

import csv
import datetime
import io
import re
import time

import duckdb
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import EVIL_ID, EVIL_NAME
from tests.browser.helpers import choose, data_elements, open_page, settle, signed_out_visit
from tests.browser.server import ARTIFACTS, dashboard_server
from tests.pages.apptest import PAGES


def test_every_page_loads_without_an_error_element(dashboard_url, page):
    page.set_viewport_size({"width": 1440, "height": 2400})  # tall: the screenshots show whole pages
    page.goto(dashboard_url)
    settle(page, "Overview")
    for title in PAGES:
        open_page(page, title)
        page.wait_for_timeout(500)  # let plotly draw before the screenshot
        page.screenshot(path=str(ARTIFACTS / f"page_{title.split()[0].lower()}.png"), full_page=True)
        assert page.get_by_test_id("stException").count() == 0, title
        assert page.get_by_test_id("stAlertContentError").count() == 0, title
    assert page.get_by_text("Demo data.").count() == 1


def test_the_overview_shows_kpis_and_charts(dashboard_url, page):
    page.goto(dashboard_url + "/overview?currency=native")
    settle(page, "Overview")
    # expect() waits: on a busy machine the cards were once still being drawn
    # when the second chart was up (CI counted 4 of 8)
    expect(page.get_by_test_id("stMetric")).to_have_count(8)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)


def _downloaded_csv(page, url: str, kind: str, name: str) -> list[dict]:
    """The rows of `name`.csv as the Data & export page downloads it (`kind`: Table or Metric)."""
    page.goto(url)
    settle(page, "Data & export")
    button = page.get_by_role("button", name=f"Download {name}.csv")
    for attempt in range(3):  # a rerun under the pick (freshness check, busy machine) may undo it
        choose(page, kind, name)
        try:
            button.wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    with page.expect_download() as download:
        button.click()
    return list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))


def test_table_csv_download_has_every_row_and_a_neutralised_formula(dashboard_url, browser_db, page):
    rows = _downloaded_csv(page, dashboard_url + "/data", "Table", "customers")
    con = duckdb.connect(browser_db, read_only=True)
    ids = {r[0] for r in con.execute("SELECT id FROM customers").fetchall()}
    con.close()
    assert {r["id"] for r in rows} == ids
    evil = next(r for r in rows if r["id"] == EVIL_ID)
    assert evil["name"] == "'" + EVIL_NAME
    assert not any(r["name"].startswith(("=", "+", "-", "@")) for r in rows if r["name"])


def test_metric_csv_download_is_in_major_units(dashboard_url, page):
    rows = _downloaded_csv(page, dashboard_url + "/data?currency=usd&from=2026-01&to=2026-03", "Metric", "mrr")
    assert [r["month"][:7] for r in rows] == ["2026-01", "2026-02", "2026-03"]
    assert all(r["currency"] == "usd" for r in rows)
    assert all(len(r["mrr"].split(".")[1]) == 2 for r in rows)  # rounded to cents, as the CLI writes
    assert all(abs(float(r["arr"]) - 12 * float(r["mrr"])) <= 0.065 for r in rows)  # each rounded alone


@pytest.mark.parametrize("path", ["mrr_page", "overview_page"])
def test_deep_link_to_a_fresh_server_shows_no_data_before_the_entry_point(browser_db, browser, tmp_path, path):
    """Sign-in is configured, so the entry point asks who you are; a page file run
    directly (Streamlit does that on a fresh server's first deep link) renders nothing."""
    from tally_auth.passwords import hash_password
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[tally_auth.users.ada]\n'
                       f'password_hash = "{hash_password("not-used-here")}"\nrole = "viewer"\n')
    with dashboard_server({"TALLY_DB": browser_db, "STRIPE_API_KEY": ""}, secrets=secrets) as url:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/{path}?currency=native")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # watch the whole start, not one instant
            assert data_elements(page) == 0
            assert page.get_by_text("Demo data").count() == 0
            page.wait_for_timeout(250)
        page.screenshot(path=str(ARTIFACTS / f"deep_link_{path}.png"), full_page=True)
        context.close()


def test_deep_link_through_the_entry_point_asks_to_sign_in(browser_db, browser, tmp_path):
    with signed_out_visit(browser, browser_db, tmp_path, "mrr?currency=native") as page:
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
        assert data_elements(page) == 0


def test_clicking_a_month_in_the_movements_chart_drills_down_to_it(dashboard_url, page):
    page.goto(dashboard_url)  # a session's first page: later deep links resolve normally
    settle(page, "Overview")
    page.goto(dashboard_url + "/mrr?currency=usd")
    settle(page, "MRR")
    chart = page.get_by_test_id("stPlotlyChart").nth(1)
    chart.locator(".barlayer .point path").first.wait_for()
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    # The tallest bar is the easiest target; bar traces come first in the figure's data.
    target = chart.locator(".js-plotly-plot").evaluate("""plot => {
        let best = null;
        plot.querySelectorAll('.barlayer .trace').forEach((trace, t) => {
            trace.querySelectorAll('.point path').forEach((bar, p) => {
                const r = bar.getBoundingClientRect();
                if (!best || r.height > best.h) best = {t, p, h: r.height, x: r.x + r.width / 2, y: r.y + r.height / 2};
            });
        });
        return {...best, month: plot.data[best.t].x[best.p]};
    }""")
    month = datetime.date.fromisoformat(str(target["month"])[:10]).strftime("%b %Y")
    caption = page.get_by_text(re.compile(r"^\w{3} \d{4}: \d+ customers"))
    if caption.inner_text().startswith(month):  # the default month: pick another first
        choose(page, "Month", next(m for m in ("Jan 2026", "Feb 2026") if m != month))
    page.mouse.click(target["x"], target["y"])
    page.get_by_text(re.compile(rf"^{month}: \d+ customers")).wait_for()
