"""Item 15 of issue #13, in a real browser against `python -m tally_ui.serve` (what `make run` serves):
frame protection, the Host allow-list against DNS rebinding, and a proxied visitor
without sign-in getting nothing."""
from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.helpers import settle
from tests.browser.server import CHROMIUM, CHROMIUM_ARGS, dashboard_server

NOT_LOCAL = "Tally without sign-in only serves this computer (localhost)."


@pytest.fixture(scope="module")
def served(browser_db):
    with dashboard_server({"TALLY_DB": browser_db, "STRIPE_API_KEY": ""}) as url:
        yield url


def test_every_answer_forbids_framing_by_other_sites(served):
    with urllib.request.urlopen(served + "/") as answer:
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'self'"


@pytest.fixture
def framing_site(served):
    """Another origin (its own port) whose page puts Tally in an iframe."""
    body = f'<html><body><iframe id="tally" src="{served}/" width="800" height="600"></iframe>'.encode()

    class Framing(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_site_cannot_show_tally_in_a_frame(served, framing_site, page):
    page.goto(served)  # Tally itself renders...
    settle(page, "Overview")
    page.goto(framing_site)  # ...but not inside another origin's page
    frame = page.frame_locator("#tally")
    page.wait_for_load_state("load")
    assert frame.get_by_test_id("stApp").count() == 0
    [child] = page.main_frame.child_frames
    assert not child.url.startswith(served)  # Chromium replaced the refused frame


@pytest.mark.parametrize("proxy_header", [{"X-Forwarded-For": "203.0.113.7"},
                                          {"Forwarded": "for=203.0.113.7;proto=http"}])
def test_a_visitor_through_a_proxy_gets_nothing_without_sign_in(served, browser, proxy_header):
    """A reverse proxy on this machine connects from 127.0.0.1 but says whom it forwards."""
    context = browser.new_context(extra_http_headers=proxy_header)
    page = context.new_page()
    page.goto(served)
    page.get_by_text(NOT_LOCAL).wait_for()
    assert page.get_by_role("heading", name="Overview").count() == 0
    context.close()


def test_a_rebinding_host_name_gets_no_connection(served, browser):
    """A hostile name resolving to 127.0.0.1 (DNS rebinding) may load the page, never the app."""
    port = served.rsplit(":", 1)[1]
    rebinding = browser.browser_type.launch(  # this Chromium resolves rebind.example to us
        executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP rebind.example 127.0.0.1"])
    try:
        page = rebinding.new_page()
        with page.expect_console_message(lambda m: "Unexpected response code: 403" in m.text,
                                         timeout=60_000):
            page.goto(f"http://rebind.example:{port}/")  # the app's WebSocket is refused
        assert page.get_by_role("heading", name="Overview").count() == 0
        page.goto(served)  # the same browser by the allowed name: the app works
        settle(page, "Overview")
    finally:
        rebinding.close()
