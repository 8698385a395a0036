"""The page per customer in Chromium: opened by its address, and reached by a link in a table."""
import duckdb
from playwright.sync_api import expect

from tests.browser.helpers import settle


def most_charged(db: str) -> tuple[str, str, str]:
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute("""
            SELECT c.id, c.name, c.email FROM customers c JOIN charges ch ON ch.customer_id = c.id
            GROUP BY ALL ORDER BY count(*) DESC, c.id LIMIT 1""").fetchone()
    finally:
        con.close()


def test_the_address_opens_that_customers_page(browser_db, dashboard_url, page):
    customer_id, name, email = most_charged(browser_db)
    page.goto(f"{dashboard_url}/customer?id={customer_id}")
    settle(page, "Customer")
    page.get_by_text(f"{name} · {email}").wait_for()
    for block in ("MRR over time", "Subscriptions", "Invoices", "Payments", "Admin actions"):
        page.get_by_role("heading", name=block, exact=True).wait_for()
    assert page.get_by_test_id("stMetric").filter(has_text="Lifetime revenue").count() == 1
    assert page.get_by_test_id("stException").count() == 0


def test_an_unknown_customer_is_a_message_not_a_traceback(dashboard_url, page):
    page.goto(f"{dashboard_url}/customer?id=cus_not_here")
    settle(page, "Customer")
    page.get_by_text("No customer has the id in this page's address.").wait_for()
    assert page.get_by_test_id("stException").count() == 0


def link_cell_x(page, canvas, y: float) -> float:
    """Where the first link of a table row is: glide draws tables on a canvas, whose
    cursor turns into a pointer over a link."""
    box = canvas.bounding_box()
    for x in range(int(box["x"]) + 5, int(box["x"] + box["width"]), 8):
        page.mouse.move(x, y)
        page.wait_for_timeout(30)
        if canvas.evaluate("c => c.style.cursor") == "pointer":
            return x + 4
    raise AssertionError("no link in this table row")


def test_a_search_result_links_to_the_customers_page(browser_db, dashboard_url, page):
    customer_id, name, email = most_charged(browser_db)
    page.goto(f"{dashboard_url}/customers")
    settle(page, "Customers & retention")
    search = page.get_by_label("Name, email or customer id")
    search.wait_for(timeout=90_000)  # below the charts, which a busy machine draws slowly
    tables = page.get_by_test_id("stDataFrame")
    before = tables.count()
    search.fill(customer_id)  # the id matches one customer; an email may be part of another's
    page.keyboard.press("Enter")
    expect(tables).to_have_count(before + 2, timeout=60_000)  # the matches, then the match's timeline
    settle(page)
    results = tables.nth(before)
    results.scroll_into_view_if_needed()
    canvas = results.get_by_test_id("data-grid-canvas")
    row = canvas.bounding_box()["y"] + 36 + 17  # the first row, below the header
    with page.context.expect_page() as opened:  # a link column opens a new tab
        page.mouse.click(link_cell_x(page, canvas, row), row)
    customer = opened.value
    customer.wait_for_load_state()
    settle(customer, "Customer")
    assert customer.url.split("?")[0].endswith("/customer")
    assert f"id={customer_id}" in customer.url
    customer.get_by_text(f"{name} · {email}").wait_for()
