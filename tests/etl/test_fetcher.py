"""How fetch threads split a type's `created` windows (etl/fetcher.py)."""
import pytest

from etl.fetcher import MIN_SPLIT_PAGES, Fetcher
from etl.sync_jobs import BY_NAME, Job, Page, Window


@pytest.fixture
def fetcher():
    fetcher = Fetcher(client=None, workers=8, utc_now=None)  # splitting sends no request
    yield fetcher
    fetcher.stop()


def charges_job(*windows: Window) -> Job:
    return Job(BY_NAME["charges"], "run", "full", 0.0, "/v1/charges", list(windows),
               created_filter=True)


def window(lo: int, hi: int, pages_left: float) -> Window:
    w = Window(lo=lo, hi=hi)
    w.pages_left = pages_left
    return w


def page_down_to(oldest: int) -> Page:
    """A full page, newest first, of objects created one second apart."""
    created = list(range(oldest + 99, oldest - 1, -1))
    return Page(100, f"ch_{oldest}", True, None, created)


def test_only_the_biggest_window_of_a_type_splits(fetcher):
    # Every split ends in one more part-full page: splitting a window that will
    # end before the others only makes more of them.
    small, big = window(0, 10_000, 4 * MIN_SPLIT_PAGES), window(10_000, 50_000, 40)
    job = charges_job(small, big)
    assert fetcher._maybe_split(job, small, page_down_to(5_000)) is None
    split = fetcher._maybe_split(job, big, page_down_to(40_000))
    assert (split.lo, split.hi) == (10_000, 25_000)  # the older half of what is left
    assert big.lo == 25_000 and job.windows == [small, big, split]


def test_a_window_with_few_pages_left_does_not_split(fetcher):
    alone = window(0, 10_000, 2 * MIN_SPLIT_PAGES - 1)
    assert fetcher._maybe_split(charges_job(alone), alone, page_down_to(5_000)) is None
