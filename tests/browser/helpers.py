"""Small Playwright helpers for the dashboard's browser tests."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tally_auth.passwords import hash_password
from tests.browser.server import ARTIFACTS, dashboard_server

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


@contextmanager
def patient(page, last_screenshot: str):
    """`page`, patient (the machine is shared: not flaky), and a screenshot of what it showed
    last in tests/artifacts (git-ignored) for a failing run."""
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        page.screenshot(path=str(ARTIFACTS / last_screenshot), full_page=True)


def admin_secrets(folder: Path, user: str, password: str) -> Path:
    """A secrets.toml with one admin user (ada@example.com), for dashboard_server(secrets=...)."""
    return user_secrets(folder, user, password, "admin", 'email = "ada@example.com"\n')


def user_secrets(folder: Path, user: str, password: str, role: str, more: str = "") -> Path:
    secrets = folder / "secrets.toml"
    secrets.write_text(f'[tally_auth.users.{user}]\npassword_hash = "{hash_password(password)}"\n'
                       f'role = "{role}"\n{more}')
    return secrets


@contextmanager
def signed_out_visit(browser, db: str, folder: Path, path: str):
    """A visitor who has not signed in opening `path` on a dashboard that has sign-in configured;
    yields the page once it asks to sign in."""
    secrets = user_secrets(folder, "ada", "not-used-here", "viewer")
    with dashboard_server({"TALLY_DB": db, "STRIPE_API_KEY": ""}, secrets=secrets) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name="Sign in to Tally").wait_for()
        try:
            yield page
        finally:
            context.close()


def settle(page, title: str | None = None) -> None:
    """Wait for the page's heading and for the script run to finish."""
    if title:
        page.get_by_role("heading", name=title, exact=True).first.wait_for()
    page.locator(IDLE).wait_for()


def open_page(page, title: str) -> None:
    """Click a page in the sidebar navigation (long navigations fold their last sections)."""
    nav = page.get_by_test_id("stSidebarNav")
    more = nav.get_by_text(re.compile(r"^View \d+ more$"))
    if more.count():
        more.click()
    nav.get_by_text(title, exact=True).click()
    settle(page, title)


def pick_option(page, open_list, option: str, tries: int = 3, held=None) -> None:
    """Open a dropdown with `open_list()` and click `option` in it. A rerun of the
    page (the 5 s freshness check, a busy machine finishing a background job)
    can close an open list under the click, or send the widget's old value back
    just after it: then wait for the run and try again. `held()`, when given,
    says whether the pick took effect (it may wait; False or an AssertionError
    means no)."""
    for attempt in range(tries):
        page.locator(IDLE).wait_for()
        open_list()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            continue
        page.locator(IDLE).wait_for()
        if held is None or _holds(held) or attempt == tries - 1:
            return


def _holds(held) -> bool:
    try:
        return held() is not False
    except AssertionError:
        return False


def choose(page, label: str, option: str) -> None:
    """Pick an option of an st.selectbox by its label."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    pick_option(page, box.click, option,
                held=lambda: expect(box).to_contain_text(option, timeout=5_000))


def data_elements(page) -> int:
    """Metric cards, tables and charts on the page: what "showing data" means here."""
    return sum(page.get_by_test_id(test_id).count()
               for test_id in ("stMetric", "stDataFrame", "stPlotlyChart", "stTable"))
