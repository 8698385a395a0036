"""An audit trail that cannot be opened: a clear message on the admin pages, not a crash (#13 item 2)."""
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from tally_auth import tokens
from tally_auth.passwords import hash_password
from tests.conftest import ROOT


@pytest.fixture
def admin_with_broken_audit(monkeypatch, tmp_path, empty_published_db):
    db = empty_published_db
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be")  # unwritable even for root
    audit = blocker / "audit.duckdb"
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.setenv("TALLY_AUDIT_DB", str(audit))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")

    def open_page(url_path):
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
        at.secrets["tally_auth"] = {"users": {"ada": {"password_hash": hash_password("pw"), "role": "admin"}}}
        at.session_state["_tally_auth_token"] = tokens.issue("ada")
        at.run()
        at._page_hash = calc_hash(url_path)
        return at.run()
    return open_page, str(audit)


@pytest.mark.parametrize("url_path", ["refund", "cancel", "audit"])
def test_an_unwritable_audit_trail_is_one_clear_message(admin_with_broken_audit, url_path, caplog):
    open_page, audit = admin_with_broken_audit
    at = open_page(url_path)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith(f"The audit trail {audit} cannot be opened for writing")
    assert "TALLY_AUDIT_DB" in message and "admin actions are off" in message
    assert "Traceback" not in caplog.text
