"""The Sync page runs a real sync against the local fake Stripe and reports in plain words."""
import duckdb

from tests.pages.apptest import goto, open_app, shown_text, sign_in_as_viewer

CUSTOMERS = [{"id": f"cus_sync{i}", "object": "customer", "created": 1767225600 + i, "livemode": False,
              "name": f"Customer {i}", "email": f"c{i}@example.com"} for i in range(3)]


def use_fake_stripe(monkeypatch, tmp_path, base, key):
    monkeypatch.setenv("TALLY_DB", str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("STRIPE_API_KEY", key)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    sign_in_as_viewer(monkeypatch)


def test_sync_now_fills_the_database_and_says_so(monkeypatch, tmp_path, fake_stripe):
    from fakestripe import DEFAULT_API_KEY
    from fakestripe.testing import put_objects
    put_objects(fake_stripe, CUSTOMERS)
    use_fake_stripe(monkeypatch, tmp_path, fake_stripe, DEFAULT_API_KEY)
    at = goto(open_app(), "Sync")
    assert "No data yet" in shown_text(at)
    at.button(key="sync_now").click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Sync finished" in shown_text(at)
    objects = at.dataframe[-1].value.set_index("object type")
    assert objects.loc["customers", "fetched"] == len(CUSTOMERS)
    assert objects.loc["customers", "last run"] == "done"
    con = duckdb.connect(str(tmp_path / "tally.duckdb"), read_only=True)
    assert sorted(r[0] for r in con.execute("SELECT id FROM customers").fetchall()) == [c["id"] for c in CUSTOMERS]
    con.close()


def test_a_rejected_key_is_one_plain_line_without_the_key(monkeypatch, tmp_path, fake_stripe, caplog):
    wrong = "sk_test_wrong_key_0123456789"
    use_fake_stripe(monkeypatch, tmp_path, fake_stripe, wrong)
    at = goto(open_app(), "Sync")
    caplog.clear()
    at.button(key="sync_now").click().run(timeout=120)
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("Sync failed")
    assert wrong not in shown_text(at) and "Traceback" not in shown_text(at)
    # An expected failure is one log line too: no traceback in the terminal, never the key.
    logged = [r for r in caplog.records if r.name.startswith("tally")]
    assert [r.getMessage().count("\n") for r in logged] == [0] and "401" in logged[0].getMessage()
    assert logged[0].exc_info is None and wrong not in caplog.text
