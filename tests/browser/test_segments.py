"""In a real browser: choosing a metadata segment in the sidebar changes the MRR and the URL."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import IDLE, pick_option, settle


def mrr_card(page) -> str:
    card = page.get_by_test_id("stMetric").filter(has_text="MRR").first
    return card.get_by_test_id("stMetricValue").inner_text()


def test_choosing_a_segment_in_the_sidebar_changes_the_mrr(dashboard_url, page):
    page.goto(dashboard_url + "/?currency=usd")
    settle(page, "Overview")
    everyone = mrr_card(page)
    sidebar = page.get_by_test_id("stSidebar")
    filters = sidebar.get_by_test_id("stExpander").filter(has_text="Filters")
    filters.get_by_text("Filters").first.click()
    box = sidebar.get_by_test_id("stMultiSelect").filter(has_text="Metadata")

    def open_list():
        box.locator("input").click()
        box.locator("input").fill("channel = organic")

    def in_url():
        expect(page).to_have_url(re.compile(r"where=customer\.channel%3Dorganic"), timeout=10_000)

    pick_option(page, open_list, "channel = organic", held=in_url)
    page.keyboard.press("Escape")
    page.locator(IDLE).wait_for()
    in_url()
    expect(page.get_by_test_id("stMetric").filter(has_text="MRR").first
           .get_by_test_id("stMetricValue")).not_to_have_text(everyone)
    organic = mrr_card(page)
    # the URL alone brings the same view back
    page.goto(dashboard_url + "/?currency=usd&where=customer.channel%3Dorganic")
    settle(page, "Overview")
    assert mrr_card(page) == organic != everyone
