import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import servers  # noqa: E402

# localstripe accepts any sk_ key; this one is obviously fake.
LOCALSTRIPE_KEY = "sk_test_tally_localstripe"

# What a user's shell or `make run` leaves behind must not change a test: the
# databases default to data/ (a demo there switches the dashboard to it) and an
# exported key switches it to "synced" mode. Tests that want them set them.
# TALLY_AUDIT_DB is unset: its default, next to TALLY_DB, is then outside data/ too.
DATABASE_VARIABLES = ("TALLY_DB", "TALLY_DEMO_DB")
UNSET_VARIABLES = ("TALLY_AUDIT_DB", "STRIPE_API_KEY", "STRIPE_API_BASE")


def _isolate(patch: pytest.MonkeyPatch, folder: Path) -> None:
    for name in DATABASE_VARIABLES:
        patch.setenv(name, str(folder / (name.removeprefix("TALLY_").lower() + ".duckdb")))
    for name in UNSET_VARIABLES:
        patch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def isolated_session_databases(tmp_path_factory):
    """Session fixtures (servers started once) see empty databases outside data/."""
    with pytest.MonkeyPatch.context() as patch:
        _isolate(patch, tmp_path_factory.mktemp("session-databases"))
        yield


@pytest.fixture(autouse=True)
def isolated_databases(monkeypatch, tmp_path_factory):
    """Each test starts with its own empty database paths, never data/ or another test's."""
    _isolate(monkeypatch, tmp_path_factory.mktemp("databases"))


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


@pytest.fixture
def metrics_cli():
    """`python -m metrics ...` in its own process, as a user runs it; returns what it printed."""
    def cli(*args) -> str:
        done = subprocess.run([sys.executable, "-m", "metrics", *args], cwd=ROOT, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout
    return cli


# Fixtures that start a process: a test that uses one starts a subprocess.
PROCESS_FIXTURES = frozenset({"localstripe_url", "localstripe_client", "fake_stripe", "account_url",
                              "dashboard_url", "metrics_cli"})
# What starts a process in a test module's source (its helpers included): every
# test of such a module is marked, since its helpers are shared by its tests.
PROCESS_SOURCE = re.compile(r"\bsubprocess\b|\bPopen\b|\bsys\.executable\b|\bserve\(|\blocalstripe\(|"
                            r"\brunning\(")
BROWSER_TESTS = ROOT / "tests" / "browser"


@functools.cache
def starts_processes(module: Path) -> bool:
    return PROCESS_SOURCE.search(module.read_text()) is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `browser` and `subprocess` tests, so `-m "not browser and not subprocess"` runs the rest."""
    for item in items:
        if item.path.is_relative_to(BROWSER_TESTS):
            item.add_marker(pytest.mark.browser)
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())) or starts_processes(item.path):
            item.add_marker(pytest.mark.subprocess)
