"""The first visit to any deep link on a fresh server opens that page (#13 item 12)."""
import os
import sys

import pytest

from tests.browser.helpers import settle, signed_out_visit
from tests.browser.server import ROOT, dashboard_server
from tests.support.servers import free_port, running

# Every URL the dashboard shows in the address bar (Overview, the default page, is at the root).
DEEP_LINKS = {"": "Overview", "mrr": "MRR", "customers": "Customers & retention",
              "forecast": "Forecast", "payments": "Payments", "refunds": "Refunds & disputes",
              "tax": "Tax", "acquisition": "Acquisition",
              "goals": "Goals & annotations", "data": "Data & export", "sync": "Sync"}


@pytest.mark.parametrize("path", DEEP_LINKS)
def test_the_first_visit_to_a_deep_link_on_a_fresh_server_opens_that_page(browser_db, browser, path):
    quiet = {"TALLY_PREFETCH": "0"}  # no background warming: eleven servers start here
    with dashboard_server({"TALLY_DB": browser_db, "STRIPE_API_KEY": "", **quiet}) as url:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/{path}")
        settle(page, DEEP_LINKS[path])
        assert page.get_by_text("Page not found").count() == 0
        assert page.url.split("?")[0] == f"{url}/{path}"
        context.close()


def test_a_signed_out_visitor_sees_no_page_names(browser_db, browser, tmp_path):
    with signed_out_visit(browser, browser_db, tmp_path, "mrr") as page:
        settle(page)
        assert page.get_by_text("Page not found").count() == 0
        assert page.get_by_test_id("stSidebarNav").count() == 0  # no page list before signing in


def test_plain_streamlit_run_lists_no_page_modules_to_a_signed_out_visitor(browser_db, browser, tmp_path):
    """Started as `streamlit run dashboard.py` (not tally_ui.serve), Streamlit's first run still
    looks for pages/*.py: it must find none, so no module names appear in the sidebar."""
    from tally_auth.passwords import hash_password
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[tally_auth.users.ada]\n'
                       f'password_hash = "{hash_password("not-used-here")}"\nrole = "viewer"\n')
    port = free_port()
    args = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets)]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TALLY_DB": browser_db, "STRIPE_API_KEY": "", "TALLY_PREFETCH": "0"}
    with running(args, url + "/_stcore/health", env=env, timeout=60):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/mrr")
        page.get_by_role("heading", name="Sign in to Tally").wait_for()
        settle(page)
        assert page.get_by_test_id("stSidebarNav").count() == 0
        assert page.get_by_text("mrr page").count() == 0
        context.close()
