"""An open page says how fresh its data is and follows newly published data by itself,
keeping the user's filters (the updater publishes while nobody reloads)."""
import re
import shutil

from etl.store import open_working, publish
from tests.browser.helpers import settle
from tests.browser.server import dashboard_server


def test_an_open_page_picks_up_a_publish_without_losing_its_filters(browser_db, browser, tmp_path):
    db = str(tmp_path / "tally.duckdb")
    shutil.copyfile(browser_db, db)
    with dashboard_server({"TALLY_DB": db, "STRIPE_API_KEY": "", "TALLY_PREFETCH": "0"}) as url:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{url}/mrr?currency=native&country=US")
        settle(page, "MRR")
        page.get_by_text(re.compile(r"updated \d+ s ago")).first.wait_for()
        filtered_url = page.url
        assert "country=US" in filtered_url
        con = open_working(db)  # what the updater does: write the working copy, publish
        con.execute("INSERT OR REPLACE INTO tally_meta VALUES ('last_sync_at', '2031-02-03T04:05:00')")
        publish(con, db)
        con.close()
        page.get_by_text("Data as of 2031-02-03 04:05 UTC").first.wait_for()  # no reload
        assert page.url == filtered_url
        context.close()
