"""The demo business has what real Stripe accounts have: grandfathered archived prices,
inline prices, monthly <-> yearly switches, seat changes, invoices with more than 10
lines, paused collection, uncollectible and voided invoices; and its ground truth
stays what the metrics compute (METRICS.md) for each of them."""
from fractions import Fraction

import duckdb
import orjson
import pytest

from etl.demo import generate_database, generate_objects
from etl.demo.catalog import PRICE_BY_ID
from etl.demo.clock import DEFAULT_NOW, add_months, complete_months, next_month_start_ts, to_ts
from etl.demo.simulate import LEGACY_SHARE, simulate_customer
from etl.demo.stripe_json import INLINE_MARKER
from etl.demo.truth import customer_truth
from metrics.mrr.chain_sql import mrr_ctes
from metrics.params import Params

RICH = dict(customers=150, seed=5, months=30)  # this seed has every case below
NOW = to_ts(DEFAULT_NOW)
START = add_months(NOW, -RICH["months"])
MONTHS = complete_months(START, NOW)


@pytest.fixture(scope="module")
def customers():
    return [simulate_customer(i, RICH["seed"], START, NOW) for i in range(RICH["customers"])]


@pytest.fixture(scope="module")
def objects():
    return list(generate_objects(**RICH))


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rich") / "rich.duckdb")
    generate_database(path, **RICH)
    con = duckdb.connect(path, read_only=True)
    yield con
    con.close()


def test_archived_prices_keep_billing_only_their_early_subscribers(customers, con):
    cutoff = START + int((NOW - START) * LEGACY_SHARE)
    legacy = [s for c in customers for s in c.subscriptions if not s.items[0].price.active]
    assert legacy and all(s.created < cutoff for s in legacy)
    # still billed on the archived price after it was archived, some of them until now
    assert any(i.created > cutoff and i.status == "paid" for s in legacy for i in s.invoices)
    assert con.execute("""
        SELECT count(*) FROM subscription_items si JOIN prices p ON p.id = si.price_id
        JOIN subscriptions s ON s.id = si.subscription_id
        WHERE NOT p.active AND s.status = 'active' AND p.product_id = 'prod_demo_team'
    """).fetchone()[0] > 0


def test_inline_prices_are_stored_but_not_in_the_catalog(objects, con):
    inline = [o for o in objects if o["object"] == "price" and o.get(INLINE_MARKER)]
    assert inline
    assert all(o["id"] not in PRICE_BY_ID and o["product"] == "prod_demo_workspace"
               and o["active"] is False and o["nickname"] is None for o in inline)
    used = {i["price"]["id"] for o in objects if o["object"] == "subscription"
            for i in o["items"]["data"]}
    assert {o["id"] for o in inline} <= used
    # the database holds what Stripe sends: the price, without the note for the fake
    stored = dict(con.execute("SELECT id, raw FROM prices WHERE product_id = 'prod_demo_workspace'")
                  .fetchall())
    assert set(stored) == {o["id"] for o in inline}
    assert not any(INLINE_MARKER in orjson.loads(raw) for raw in stored.values())


def test_some_invoices_have_more_lines_than_stripe_embeds(con):
    widest = con.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM invoice_lines "
                         "GROUP BY invoice_id)").fetchone()[0]
    assert widest > 10


def test_uncollectible_voided_and_paused_invoices(customers, objects):
    statuses = {o["status"] for o in objects if o["object"] == "invoice"}
    assert {"paid", "open", "uncollectible", "void"} <= statuses
    paused = [s for c in customers for s in c.subscriptions if s.pause]
    assert paused
    for sub in paused:
        _, first, resumes = sub.pause
        during = [i for i in sub.invoices if first <= i.created < resumes]
        assert during or first >= NOW  # (a pause can be scheduled for the next period)
        assert all(i.status == "void" and i.voided_at == i.created for i in during)
        assert sub.status != "canceled" or sub.ended_at >= first
    shown = [o for o in objects if o["object"] == "subscription" and o["pause_collection"]]
    assert shown and all(o["pause_collection"]["behavior"] == "void"
                         and o["pause_collection"]["resumes_at"] > NOW for o in shown)


def switches(customers):
    """(customer, subscription, switch invoice): an invoice that credits the old interval
    and bills the new one's first period."""
    for c in customers:
        for sub in c.subscriptions:
            for inv in sub.invoices:
                if inv.billing_reason == "subscription_update" and not all(
                        line.proration for line in inv.lines):
                    yield c, sub, inv


def test_interval_switches_credit_the_old_period_by_its_own_length(customers):
    found = set()
    for _customer, sub, inv in switches(customers):
        lines = {line.id: line for i in sub.invoices for line in i.lines}
        for credit in (line for line in inv.lines if line.proration):
            credited = lines[credit.credits[1]]
            assert not credited.proration and credited.price == credit.price
            assert credit.full_period == credited.end - credited.start  # METRICS.md rule (1)
            assert credit.amount < 0 and credit.end == credited.end
        new = [line for line in inv.lines if not line.proration]
        old_months, new_months = inv.lines[0].price.months, new[0].price.months
        assert {old_months, new_months} == {1, 12}
        found.add((old_months, new_months))
    assert found == {(1, 12), (12, 1)}


def test_a_switch_counts_the_new_interval_from_the_switch(customers):
    """Between the switch and the old period's end the credit cancels the old line, so
    MRR is the new price's monthly value (no tax inside prices, no coupon)."""
    checked = 0
    for c, sub, inv in switches(customers):
        if sub.discount or (c.tax_rate and c.tax_rate.inclusive) or len(sub.invoices) < 2:
            continue
        at, old_end = inv.lines[0].start, inv.lines[0].end
        # until the next change, if any (it may switch back)
        old_end = min([old_end] + [i.created for i in sub.invoices
                                   if i.created > at and i.billing_reason == "subscription_update"])
        new = sum(Fraction(line.amount, line.price.months) for line in inv.lines if not line.proration)
        truth = {month: mrr for month, _, _, mrr in customer_truth(c, MONTHS)}
        for month in MONTHS:
            if at < next_month_start_ts(month) <= old_end and month in truth:
                assert truth[month] == pytest.approx(float(new), abs=0.01), (c.id, month)
                checked += 1
    assert checked


def test_seat_changes_keep_a_grandfathered_price(customers):
    kept = [inv for c in customers for s in c.subscriptions for inv in s.invoices
            if inv.billing_reason == "subscription_update"
            and all(line.proration and not line.price.active for line in inv.lines)]
    assert kept and all(inv.lines[0].price == inv.lines[1].price for inv in kept)


def test_seat_changes_are_prorated(customers):
    seats = [inv for c in customers for s in c.subscriptions for inv in s.invoices
             if inv.billing_reason == "subscription_update" and len(inv.lines) == 2
             and all(line.proration for line in inv.lines)
             and inv.lines[0].price == inv.lines[1].price
             and inv.lines[0].quantity != inv.lines[1].quantity]
    assert seats


def test_metrics_equal_the_truth_on_this_account(con):
    """Every case above, valued by metrics/ from the loaded JSON, as the generator meant."""
    first, last = con.execute("SELECT min(month), max(month) FROM demo_truth_mrr").fetchone()
    mine = con.execute(mrr_ctes(Params(), last) + f"""
        SELECT period AS month, customer_id, mrr FROM customer_points
        WHERE period BETWEEN DATE '{first}' AND DATE '{last}'""").df()
    truth = con.execute("SELECT month, customer_id, mrr FROM demo_truth_mrr").df()
    both = mine.merge(truth, on=["month", "customer_id"], how="outer", suffixes=("", "_truth"),
                      indicator=True)
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"].head()
    assert (both["mrr"] - both["mrr_truth"]).abs().max() < 0.01


def test_credit_from_a_negative_invoice_pays_the_next_ones(customers):
    """A downgrade or a switch to monthly can leave an invoice below zero: Stripe keeps
    the credit on the customer's balance, later invoices use it, voiding gives it back."""
    used = 0
    for c in customers:
        balance = 0
        for inv in (i for s in c.subscriptions for i in s.invoices):
            assert inv.starting_balance == balance, (c.id, inv.id)
            assert inv.amount_due == max(inv.totals.total + balance, 0)
            used += balance < 0 and inv.amount_due < inv.totals.total
            balance = balance if inv.status == "void" else inv.ending_balance
        assert c.balance == balance
    assert used
