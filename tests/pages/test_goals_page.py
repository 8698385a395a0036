"""Goals & annotations page: who may do what once sign-in is configured, the audit trail,
plain-word refusals, and the Overview's on track / behind line."""
import datetime as dt

import duckdb
import pytest

import tally_auth
from metrics.common import add_months, has_table, this_month
from metrics.currency import exponent
from tests.pages.apptest import goto, open_app, shown_text

VIEWER = tally_auth.User("vera", "vera@example.com", "viewer")
ADMIN = tally_auth.User("root", "root@example.com", "admin")
PAGE = "Goals & annotations"


def button(at, label):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r} among {[b.label for b in at.button]}"
    return found[0]


def labels(at):
    return {b.label for b in at.button}


def rows(db, sql):
    """The rows of `sql`; metrics create the goals and annotations tables with their first row,
    so a count of a table not created yet is 0."""
    con = duckdb.connect(db, read_only=True)
    try:
        for table in ("goals", "annotations"):
            if f"FROM {table}" in sql and not has_table(con, table):
                return [(0,)] if "count(*)" in sql else []
        return con.execute(sql).fetchall()
    finally:
        con.close()


def audit_rows(db):
    return rows(db.rsplit("/", 1)[0] + "/audit.duckdb",
                "SELECT actor, action, phase, outcome FROM audit_log ORDER BY seq")


def add_annotation(at, day, text):
    at.date_input(key="annotation_day").set_value(day)
    at.text_input(key="annotation_text").input(text)
    return button(at, "Add annotation").click().run()


def set_goal(at, target, start, end, kind="mrr"):
    at.selectbox(key="goal_metric").set_value(kind)
    at.text_input(key="goal_target").input(target)
    at.date_input(key="goal_start").set_value(start)
    at.date_input(key="goal_end").set_value(end)
    return button(at, "Save goal").click().run()


def test_a_viewer_adds_an_annotation_but_sets_no_goal_and_removes_nothing(signed_in):
    db = signed_in(VIEWER)
    at = goto(open_app(), PAGE)
    assert not at.exception and not at.error
    assert "Save goal" not in labels(at) and tally_auth.READ_ONLY_NOTE in shown_text(at)
    at = add_annotation(at, dt.date(2026, 3, 2), "launched annual plans")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Annotation added." in shown_text(at)
    assert rows(db, "SELECT day, text, created_by FROM annotations") == [
        (dt.date(2026, 3, 2), "launched annual plans", VIEWER.label)]
    assert audit_rows(db) == [(VIEWER.label, "add_annotation", "attempt", None),
                              (VIEWER.label, "add_annotation", "outcome", "succeeded")]
    assert "Remove annotation" not in labels(at) and "Remove goal" not in labels(at)


@pytest.mark.parametrize("text, problem", [
    ("", "Write a short text"),
    ("a" * 201, "200 characters or fewer"),
    ("<script>alert(1)</script>", "cannot contain < or >"),
    ("=SUM(A1)", "cannot start with"),
])
def test_bad_annotation_text_gets_one_line_and_nothing_is_stored(signed_in, text, problem):
    db = signed_in(VIEWER)
    at = add_annotation(goto(open_app(), PAGE), dt.date(2026, 3, 2), text)
    assert not at.exception
    assert [e.value for e in at.error] and problem in at.error[0].value
    assert rows(db, "SELECT count(*) FROM annotations") == [(0,)]
    assert at.text_input(key="annotation_text").value == text  # what was typed is not lost


def test_an_admin_sets_a_goal_and_the_overview_says_how_it_is_going(signed_in):
    db = signed_in(ADMIN)
    at = goto(open_app(), PAGE)
    start, end = add_months(this_month(), -12), add_months(this_month(), 6)
    at = set_goal(at, "1", start, end)  # 1.00 a month: every month is above the pace
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Goal saved." in shown_text(at)
    (kind, target, currency, start_month, target_month), = rows(
        db, "SELECT metric, target, currency, start_month, target_month FROM goals")
    assert (kind, target, start_month, target_month) == ("mrr", 10 ** exponent(currency), start, end)
    overview = goto(at, "Overview")
    assert any("MRR goal" in s.value and ": on track" in s.value for s in overview.success)
    at = set_goal(goto(overview, PAGE), "100000000", start, end)  # replaces it: far out of reach
    assert rows(db, "SELECT count(*) FROM goals") == [(1,)]
    overview = goto(at, "Overview")
    behind = [w.value for w in overview.warning if "MRR goal" in w.value]
    assert behind and ": behind by " in behind[0]
    actions = [action for _, action, phase, _ in audit_rows(db) if phase == "outcome"]
    assert actions == ["set_goal", "set_goal"]


def test_a_goal_in_the_past_is_refused(signed_in):
    db = signed_in(ADMIN)
    at = set_goal(goto(open_app(), PAGE), "5000", add_months(this_month(), -6), add_months(this_month(), -1))
    assert at.error and "is in the past" in at.error[0].value
    assert rows(db, "SELECT count(*) FROM goals") == [(0,)]


def test_an_admin_removes_an_annotation(signed_in):
    db = signed_in(ADMIN)
    at = add_annotation(goto(open_app(), PAGE), dt.date(2026, 1, 5), "price change")
    at = button(at, "Remove annotation").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Annotation removed." in shown_text(at)
    assert rows(db, "SELECT count(*) FROM annotations") == [(0,)]
    assert [a for _, a, phase, _ in audit_rows(db) if phase == "outcome"] == ["add_annotation",
                                                                              "delete_annotation"]


def test_without_sign_in_the_person_at_this_computer_may_do_both(writable_db):
    at = goto(open_app(), PAGE)  # sign-in not configured; AppTest counts as this computer
    at = add_annotation(at, dt.date(2026, 2, 1), "price change")
    at = set_goal(at, "250000", add_months(this_month(), -3), add_months(this_month(), 3), kind="arr")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert rows(writable_db, "SELECT count(*) FROM annotations") == [(1,)]
    assert rows(writable_db, "SELECT metric FROM goals") == [("arr",)]
