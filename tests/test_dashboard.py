"""The entry point: who sees which pages, and the Streamlit settings shipped in the repo."""
import tomllib

import pytest

import tally_auth
from tests.pages.apptest import ROOT, open_app, page_titles


@pytest.fixture
def account(monkeypatch, tmp_path):
    """An account with no data: which pages exist does not depend on it."""
    from etl.load import connect
    path = tmp_path / "tally.duckdb"
    connect(str(path)).close()
    monkeypatch.setenv("TALLY_DB", str(path))
    monkeypatch.setenv("TALLY_PREFETCH", "0")
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    return path


@pytest.fixture
def as_user(monkeypatch, account):

    def sign_in(role: str, configured: bool):
        monkeypatch.setattr(tally_auth, "authenticate", lambda: tally_auth.User("someone", None, role))
        monkeypatch.setattr(tally_auth, "auth_configured", lambda: configured)
    return sign_in


def test_admins_get_the_admin_section(as_user):
    as_user("admin", configured=True)
    titles = page_titles(open_app())
    assert {"Refund a charge", "Cancel a subscription", "Audit trail"} <= set(titles)
    assert "Admin" not in titles


def test_viewers_get_no_admin_pages_when_sign_in_is_configured(as_user):
    as_user("viewer", configured=True)
    titles = page_titles(open_app())
    assert not {"Refund a charge", "Cancel a subscription", "Audit trail", "Admin"} & set(titles)
    assert "Overview" in titles and "Sync" in titles


def test_without_sign_in_the_admin_entry_explains_how_to_enable_it(as_user):
    as_user("viewer", configured=False)
    titles = page_titles(open_app())
    assert "Admin" in titles and "Refund a charge" not in titles


def test_nobody_signed_in_sees_nothing(monkeypatch, tmp_path):
    from etl.demo import generate_database
    db = str(tmp_path / "tally.duckdb")
    generate_database(db, customers=20, months=6)
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.setattr(tally_auth, "authenticate", lambda: None)
    at = open_app()
    assert not at.exception and not at.title
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")


def test_streamlit_config_is_local_private_and_without_builtin_export():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["disableDataExport"] is True
