"""The Sync page warns, per currency, about invoice lines MRR cannot value."""
from etl.load import connect
from tests.metrics.builders import Account
from tests.pages.apptest import goto, open_app, shown_text


def add_line_with_unknown_price(db: str) -> None:
    """A paid yearly EUR line on a price the database lacks (an inline price a sync missed)."""
    con = connect(db)
    acct = Account(con)
    acct.price("price_known_eur", 120000, "year", currency="eur")
    acct.customer("cus_unknown_price")
    acct.subscription("sub_unknown_price", "cus_unknown_price")
    line = acct.line("price_known_eur", "2024-01-01", "2025-01-01")  # 366 days
    line["pricing"]["price_details"]["price"] = "price_inline_gone"
    acct.invoice("cus_unknown_price", "sub_unknown_price", [line])
    con.execute("DELETE FROM prices WHERE id = 'price_known_eur'")
    con.close()


def test_lines_with_unknown_prices_are_a_warning_with_the_mrr_they_affect(writable_db):
    add_line_with_unknown_price(writable_db)
    at = goto(open_app(), "Sync")
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    # 120000 x 30.4375 / 366 cents
    assert any("1 invoice lines with unknown prices (affecting about 99.80 EUR of MRR in 2024-01)"
               " — run a full sync" in w for w in warnings), warnings
    assert "left out of MRR" in shown_text(at)


def test_no_warning_when_every_price_is_known(dashboard_env):
    at = goto(open_app(), "Sync")
    assert not at.exception
    assert not any("unknown prices" in w.value for w in at.warning)
