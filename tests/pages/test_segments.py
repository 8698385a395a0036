"""Segments in the dashboard: metadata filters from and to the URL, saved segments, MRR split by a key."""
import json

import duckdb
import pytest

import tally_auth
from tally_auth import login
from tally_ui.widgets import card_money
from tests.pages.apptest import cards, goto, open_app
from tests.pages.demo_truth import truth

ADMIN = tally_auth.User("root", "root@example.com", "admin")
VIEWER = tally_auth.User("vera", "vera@example.com", "viewer")
PARTNER = "customer.channel=partner"


def truth_mrr(db, month, currency, channels):
    """The demo generator's own MRR for customers of these channels (read from the raw JSON here)."""
    return truth(db, f"""
        SELECT coalesce(sum(t.mrr), 0), count(DISTINCT t.customer_id)
        FROM demo_truth_mrr t JOIN customers c ON c.id = t.customer_id
        WHERE t.month = ? AND t.currency = ?
          AND json_extract_string(c.raw, '$.metadata.channel') IN ({", ".join("?" for _ in channels)})""",
                 [month, currency, *channels])[0]


def shown_currency(at) -> str:
    pickers = [w for w in at.segmented_control if w.key == "overview_currency"]
    return pickers[0].value if pickers else cards(at)["MRR"][0].split()[-1].lower()


def where_in_url(at) -> list[str]:
    value = at.query_params.get("where", [])
    return [value] if isinstance(value, str) else list(value)


def test_a_metadata_filter_comes_from_and_goes_to_the_url(dashboard_env):
    at = open_app({"currency": "native", "where": PARTNER})
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="f_where").value == [PARTNER]
    end, currency = at.selectbox(key="f_end").value, shown_currency(at)
    shown = cards(at)
    mrr, customers = truth_mrr(dashboard_env, end, currency, ["partner"])
    assert shown["MRR"][0] == card_money(mrr, currency)
    assert shown["Active customers"][0] == f"{customers:,}"
    everyone = open_app({"currency": "native"})
    assert cards(everyone)["Active customers"][0] != shown["Active customers"][0]
    at.multiselect(key="f_where").select("customer.channel=organic").run()
    assert sorted(where_in_url(at)) == ["customer.channel=organic", PARTNER]
    assert at.multiselect(key="f_where").value == [PARTNER, "customer.channel=organic"]
    at.multiselect(key="f_where").set_value([]).run()
    assert where_in_url(at) == []


def test_an_unknown_metadata_value_in_the_url_is_dropped(dashboard_env):
    at = open_app({"where": "customer.channel=<script>"})
    assert not at.exception and at.multiselect(key="f_where").value == []


@pytest.fixture
def as_admin(monkeypatch, writable_db):
    monkeypatch.setattr(tally_auth, "authenticate", lambda: ADMIN)
    monkeypatch.setattr(login, "auth_configured", lambda: True)
    monkeypatch.setattr(login, "current_user", lambda: ADMIN)
    return writable_db


def audit_rows(db):
    con = duckdb.connect(str(db).rsplit("/", 1)[0] + "/audit.duckdb", read_only=True)
    try:
        return con.execute("SELECT actor, action, object_id, phase, outcome FROM audit_log ORDER BY seq").fetchall()
    finally:
        con.close()


def test_a_saved_segment_is_offered_and_applied(as_admin):
    at = open_app({"currency": "native", "where": PARTNER})
    partner_cards = cards(at)
    at.text_input(key="f_segment_name").input("Partner deals").run()
    at.button(key="f_segment_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Saved the segment “Partner deals”." in [s.value for s in at.success]
    assert audit_rows(as_admin) == [(ADMIN.label, "save_segment", "Partner deals", "attempt", None),
                                    (ADMIN.label, "save_segment", "Partner deals", "outcome", "succeeded")]
    # a new session: plain URL, everyone; picking the saved segment applies its filters
    fresh = open_app({"currency": "native"})
    assert fresh.selectbox(key="f_saved_segment").options == ["—", "Partner deals"]
    assert cards(fresh)["MRR"][0] != partner_cards["MRR"][0]
    fresh.selectbox(key="f_saved_segment").set_value("Partner deals").run()
    assert fresh.multiselect(key="f_where").value == [PARTNER]
    assert where_in_url(fresh) == [PARTNER]
    assert cards(fresh)["MRR"][0] == partner_cards["MRR"][0]


def test_a_bad_segment_name_is_one_message_and_nothing_is_saved(as_admin):
    at = open_app({"where": PARTNER})
    at.text_input(key="f_segment_name").input("=HYPERLINK(1)").run()
    at.button(key="f_segment_save").click().run()
    assert [e.value for e in at.error] == ["A segment name cannot start with = + - @ or contain < or >."]
    assert "f_saved_segment" not in {s.key for s in at.selectbox}


def test_a_viewer_can_filter_but_not_save(monkeypatch, dashboard_env):
    monkeypatch.setattr(login, "auth_configured", lambda: True)
    monkeypatch.setattr(login, "current_user", lambda: VIEWER)
    at = open_app({"where": PARTNER})
    assert at.multiselect(key="f_where").value == [PARTNER]
    assert "f_segment_save" not in {b.key for b in at.button}


def test_mrr_splits_by_a_metadata_key(dashboard_env):
    at = goto(open_app({"currency": "usd"}), "MRR")
    split = at.segmented_control(key="mrr_split")
    assert {"channel", "industry", "company_size", "sales_motion"} <= set(split.options)
    split.set_value("channel").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["title"]["text"] == "MRR by channel"
    assert {trace["name"] for trace in spec["data"]} == {"organic", "paid_search", "referral", "partner",
                                                         "outbound"}
