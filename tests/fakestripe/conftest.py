import pytest

from fakestripe.testing import serve
from tests.fakestripe import account


@pytest.fixture(scope="module")
def account_url(tmp_path_factory):
    """The small hand-written account, served once per test module (read-only tests)."""
    data = account.write(tmp_path_factory.mktemp("fake_account"))
    with serve(data, now=account.NOW) as base:
        yield base
