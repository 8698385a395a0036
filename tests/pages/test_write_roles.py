"""Shared-data writes (exchange rates, marketing spend, syncs): admins only once sign-in is configured."""
import duckdb

import tally_auth
from tests.pages.apptest import goto, open_app, shown_text

VIEWER = tally_auth.User("vera", "vera@example.com", "viewer")
ADMIN = tally_auth.User("root", "root@example.com", "admin")
SPEND_CSV = b"month,amount,currency,channel\n2026-01,1250.50,usd,podcasts\n"


def button_keys(at):
    return {b.key for b in at.button}


def audit_rows(db):
    con = duckdb.connect(str(db).rsplit("/", 1)[0] + "/audit.duckdb", read_only=True)
    try:
        return con.execute("SELECT actor, action, phase, outcome FROM audit_log ORDER BY seq").fetchall()
    finally:
        con.close()


def test_a_viewer_sees_exchange_rates_read_only(signed_in):
    signed_in(VIEWER)
    at = goto(open_app(), "Data & export")
    assert not at.exception
    assert "fx_save" not in button_keys(at)
    assert tally_auth.READ_ONLY_NOTE in shown_text(at)


def test_a_viewer_cannot_add_marketing_spend(signed_in):
    signed_in(VIEWER)
    at = goto(open_app(), "Acquisition")
    assert not at.exception
    assert not at.file_uploader
    assert not {"spend_import"} & button_keys(at)
    assert not [b for b in at.button if b.label == "Save spend"]
    assert tally_auth.READ_ONLY_NOTE in shown_text(at)


def test_a_viewer_cannot_start_a_sync(signed_in, monkeypatch):
    signed_in(VIEWER)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    at = goto(open_app(), "Sync")
    assert not at.exception
    assert "sync_now" not in button_keys(at) and not at.checkbox
    assert tally_auth.READ_ONLY_NOTE in shown_text(at)


def test_an_admin_saves_marketing_spend_and_the_audit_trail_says_who(signed_in):
    db = signed_in(ADMIN)
    at = goto(open_app(), "Acquisition")
    at.file_uploader(key="spend_csv").upload("spend.csv", SPEND_CSV, "text/csv").run()
    at.button(key="spend_import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Saved 1 row(s)" in shown_text(at)
    assert audit_rows(db) == [(ADMIN.label, "save_marketing_spend", "attempt", None),
                              (ADMIN.label, "save_marketing_spend", "outcome", "succeeded")]


def test_an_admin_sees_the_write_controls(signed_in, monkeypatch):
    signed_in(ADMIN)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    assert "fx_save" in button_keys(goto(open_app(), "Data & export"))
    assert "sync_now" in button_keys(goto(open_app(), "Sync"))
