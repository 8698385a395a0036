import shutil

import pytest

import tally_auth
from tally_auth import login
from tests.pages import apptest

DEMO = dict(customers=120, seed=7, months=24)


@pytest.fixture(autouse=True)
def no_prefetch(monkeypatch):
    """Background prefetch off: each test sees only what its own runs computed."""
    monkeypatch.setenv("TALLY_PREFETCH", "0")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """A small demo account, generated once for every dashboard test."""
    from etl.demo import generate_database
    path = tmp_path_factory.mktemp("dashboard") / "demo.duckdb"
    generate_database(str(path), **DEMO)
    return str(path)


@pytest.fixture
def dashboard_env(monkeypatch, demo_db):
    """The dashboard reading the shared demo account (read-only), as a signed-in viewer."""
    monkeypatch.setenv("TALLY_DB", demo_db)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    apptest.sign_in_as_viewer(monkeypatch)
    return demo_db


@pytest.fixture
def writable_db(monkeypatch, tmp_path, demo_db):
    """A private copy of the demo account, for tests that write (spend upload)."""
    path = tmp_path / "tally.duckdb"
    shutil.copyfile(demo_db, path)
    monkeypatch.setenv("TALLY_DB", str(path))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    apptest.sign_in_as_viewer(monkeypatch)
    return str(path)


@pytest.fixture
def signed_in(monkeypatch, writable_db):
    """Sign-in configured and `user` signed in (the page gate, data_writer and current_user see them)."""
    def as_user(user):
        monkeypatch.setattr(tally_auth, "authenticate", lambda: user)
        monkeypatch.setattr(login, "auth_configured", lambda: True)
        monkeypatch.setattr(login, "current_user", lambda: user)
        return writable_db
    return as_user
