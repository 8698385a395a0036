import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import servers  # noqa: E402

# localstripe accepts any sk_ key; this one is obviously fake.
LOCALSTRIPE_KEY = "sk_test_tally_localstripe"


@pytest.fixture
def localstripe_url():
    """A fresh localstripe over real HTTP on 127.0.0.1 for one test."""
    with servers.localstripe() as base:
        yield base


@pytest.fixture
def localstripe_client(localstripe_url):
    import stripe
    return stripe.StripeClient(LOCALSTRIPE_KEY, base_addresses={"api": localstripe_url})


@pytest.fixture
def fake_stripe(tmp_path):
    """A fresh, empty fakestripe account over real HTTP on 127.0.0.1; yields its base URL.

    Fill it with fakestripe.testing.put_objects(base, [...]) (or serve() a JSONL
    directory directly); the API key is fakestripe.DEFAULT_API_KEY.
    """
    from fakestripe.testing import serve
    data = tmp_path / "fake_stripe_account"
    data.mkdir()
    with serve(data) as base:
        yield base
