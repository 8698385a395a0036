"""The dashboard works fully offline: a browser asks nothing of any host but the dashboard (#13 item 13)."""
from urllib.parse import urlsplit

from tests.browser.helpers import open_page, settle
from tests.pages.apptest import PAGES


def test_no_page_fetches_anything_from_the_internet(dashboard_url, page):
    dashboard = urlsplit(dashboard_url).netloc
    elsewhere, console_errors = [], []
    page.on("request", lambda request: elsewhere.append(request.url)
            if urlsplit(request.url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(request.url).netloc != dashboard else None)
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto(dashboard_url)
    settle(page, "Overview")
    for title in PAGES:
        open_page(page, title)
    page.wait_for_timeout(1000)  # the favicon and fonts load after the page
    assert elsewhere == []
    assert [text for text in console_errors if "ERR_NAME_NOT_RESOLVED" in text] == []
