"""The page per customer (/customer?id=cus_...) on the small demo account, and the links to it."""
import duckdb
import pytest

from tally_ui.widgets import card_money
from tests.pages.apptest import cards, goto, open_app, shown_text


def one(db: str, sql: str, params=()):
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()[0]
    finally:
        con.close()


@pytest.fixture
def paying(dashboard_env):
    """The demo customer with the most paid charges, and what the database says of it."""
    return one(dashboard_env, """
        SELECT c.id, c.email, lower(ch.currency), count(*),
               sum(ch.amount) - coalesce((SELECT sum(r.amount) FROM refunds r JOIN charges x ON x.id = r.charge_id
                                          WHERE x.customer_id = c.id AND r.status = 'succeeded'), 0)
        FROM customers c JOIN charges ch ON ch.customer_id = c.id AND ch.status = 'succeeded'
        GROUP BY c.id, c.email, lower(ch.currency) ORDER BY count(*) DESC, c.id LIMIT 1""")


def customer_page(query):
    return goto(open_app(query), "Customer")


def test_the_page_tells_the_customers_story(dashboard_env, paying):
    customer_id, email, currency, charges, lifetime = paying
    at = customer_page({"id": customer_id, "currency": "native"})
    assert not at.exception
    assert email in at.text[0].value and customer_id in at.text[0].value
    assert cards(at)["Lifetime revenue"][0] == card_money(lifetime, currency)
    tables = {frozenset(d.value.columns): d.value for d in at.dataframe}
    payments = next(v for k, v in tables.items() if "charge_id" in k and "attempt" in k)
    assert len(payments[payments["status"] == "Succeeded"]) == charges  # codes shown in words
    subscriptions = next(v for k, v in tables.items() if "cancellation_reason" in k)
    expected = one(dashboard_env, "SELECT count(DISTINCT id) FROM subscriptions WHERE customer_id = ?",
                   [customer_id])[0]
    assert subscriptions["subscription_id"].nunique() == expected
    assert "No admin actions on this customer." in shown_text(at)


def test_an_unknown_id_is_one_clear_message(dashboard_env):
    at = customer_page({"id": "cus_nobody_**bold**"})
    assert not at.exception
    assert [w.value for w in at.warning][-1] == (
        "No customer has the id in this page's address. Check the link, or find the customer on "
        "Customers & retention.")
    assert "nobody" not in shown_text(at)  # the address is not echoed as markdown
    assert not at.dataframe


def test_no_id_says_how_to_get_here(dashboard_env):
    at = customer_page({})
    assert not at.exception
    assert "Open a customer from any table of customers" in shown_text(at)


def test_the_mrr_drilldown_links_each_customer_to_its_page(dashboard_env):
    at = goto(open_app({"currency": "native"}), "MRR")
    drill = at.dataframe[-1].value
    assert (drill["customer_page"] == "customer?id=" + drill["customer_id"]).all()


def test_the_customer_search_links_to_the_page(dashboard_env, paying):
    at = goto(open_app({"currency": "native"}), "Customers & retention")
    at.text_input(key="customer_search").input(paying[1]).run()
    links = [d.value for d in at.dataframe if "customer_page" in d.value.columns]
    assert f"customer?id={paying[0]}" in set(links[-1]["customer_page"])


def test_admin_actions_on_the_customers_objects_are_listed(dashboard_env, paying, tmp_path, monkeypatch):
    from tally_admin.audit import AuditLog
    audit_db = tmp_path / "audit.duckdb"
    monkeypatch.setenv("TALLY_AUDIT_DB", str(audit_db))
    charge = one(dashboard_env, "SELECT id FROM charges WHERE customer_id = ? ORDER BY id LIMIT 1", [paying[0]])[0]
    log = AuditLog(str(audit_db))
    for object_id in (charge, "ch_of_someone_else"):
        log.outcome(actor="ann@example.com", action="refund", object_id=object_id, key=f"k-{object_id}",
                    params={"amount": 100}, outcome="succeeded", message="Refunded 1.00")
    at = customer_page({"id": paying[0], "currency": "native"})
    actions = at.dataframe[-1].value
    assert actions["object_id"].tolist() == [charge]
    assert actions["actor"].tolist() == ["ann@example.com"]


def test_a_cohorts_customers_link_to_their_pages(dashboard_env):
    at = goto(open_app({"currency": "native"}), "Customers & retention")
    assert not [d for d in at.dataframe if "cohort_mrr" in d.value.columns]  # nothing until a cohort is picked
    picker = at.selectbox(key="cohort_pick")
    cohort = picker.options[0]
    at = picker.select(cohort).run()
    cohort = at.selectbox(key="cohort_pick").value
    members = next(d.value for d in at.dataframe if "cohort_mrr" in d.value.columns)
    assert len(members) and (members["customer_page"] == "customer?id=" + members["customer_id"]).all()
    expected = one(dashboard_env, """
        SELECT count(*) FROM (SELECT customer_id FROM demo_truth_mrr WHERE mrr > 0 GROUP BY customer_id
                              HAVING min(month) = ?)""", [cohort])[0]
    assert len(members) == expected


def test_a_name_with_markup_is_plain_text(writable_db):
    from etl.load import load_objects
    from etl.store import open_working, publish
    con = open_working(writable_db)
    load_objects(con, "customers", [{"id": "cus_markup", "object": "customer", "created": 1767225600,
                                     "name": "**Big** <b>Co</b>", "email": "[x](http://evil.example)",
                                     "livemode": False}])
    publish(con, writable_db)
    con.close()
    at = customer_page({"id": "cus_markup"})
    assert not at.exception
    assert at.text[0].value.startswith("**Big** <b>Co</b> · [x](http://evil.example)")  # st.text: never markdown
