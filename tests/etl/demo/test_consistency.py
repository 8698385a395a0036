"""The generated account is internally consistent, the way a real Stripe account is."""
from collections import defaultdict

from etl.demo.clock import DEFAULT_NOW
from etl.schema import TABLES

NOW = int(DEFAULT_NOW.timestamp())
MONEY_KEYS = {"amount", "amount_due", "amount_paid", "amount_remaining", "amount_refunded",
              "amount_captured", "amount_received", "amount_requested", "subtotal", "total",
              "total_excluding_tax", "fee", "net", "unit_amount", "taxable_amount"}


def walk(value, path=""):
    if isinstance(value, dict):
        for key, child in value.items():
            yield path + "." + key, key, child
            yield from walk(child, path + "." + key)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child, path)


def test_every_invoice_line_price_exists(demo_con):
    missing = demo_con.execute("""
        SELECT count(*) FROM invoice_lines l LEFT JOIN prices p ON p.id = l.price_id
        WHERE p.id IS NULL""").fetchone()[0]
    assert missing == 0
    assert demo_con.execute("SELECT count(*) FROM invoice_lines").fetchone()[0] > 100


def test_lines_are_read_in_the_current_shape(demo_con):
    nulls = demo_con.execute("""
        SELECT count(*) FILTER (WHERE subscription_id IS NULL OR subscription_item_id IS NULL
                                OR price_id IS NULL OR product_id IS NULL OR kind <> 'subscription'
                                OR period_start IS NULL OR period_end IS NULL)
        FROM invoice_lines""").fetchone()[0]
    assert nulls == 0
    assert demo_con.execute("""SELECT count(*) FROM subscriptions
        WHERE current_period_start IS NULL OR customer_id IS NULL""").fetchone()[0] == 0
    assert demo_con.execute("SELECT count(*) FROM invoices WHERE subscription_id IS NULL").fetchone()[0] == 0


def test_regular_lines_tile_each_subscription_item(demo_con):
    """Regular licensed lines follow each other with no gap or overlap, except where a
    switch of billing interval cut a period short and credited its unused time;
    prorations sit inside one."""
    rows = demo_con.execute("""
        SELECT l.subscription_item_id, epoch(l.period_start)::BIGINT, epoch(l.period_end)::BIGINT,
               l.proration
        FROM invoice_lines l JOIN prices p ON p.id = l.price_id
        JOIN invoices i ON i.id = l.invoice_id
        WHERE p.usage_type = 'licensed'
        ORDER BY 1, 2, l.proration, 3""").fetchall()
    regular, prorations = defaultdict(list), []
    for item, start, end, proration in rows:
        (prorations.append((item, start, end)) if proration else regular[item].append((start, end)))
    spans = set(prorations)
    for item, periods in regular.items():
        for (_, prev_end), (start, _) in zip(periods, periods[1:]):
            assert start == prev_end or (item, start, prev_end) in spans, item
    assert prorations, "the sample should contain plan changes"
    for item, start, end in prorations:
        assert any(s <= start and end == e for s, e in regular[item]), item


def test_canceled_subscriptions_stop_billing(demo_con):
    late = demo_con.execute("""
        SELECT count(*) FROM invoice_lines l JOIN subscriptions s ON s.id = l.subscription_id
        WHERE s.ended_at IS NOT NULL AND l.period_start >= s.ended_at""").fetchone()[0]
    assert late == 0
    kinds = dict(demo_con.execute("""
        SELECT status, count(*) FROM subscriptions GROUP BY 1""").fetchall())
    assert kinds.get("canceled", 0) > 0 and kinds.get("active", 0) > 0


def test_charge_payment_intent_invoice_links_resolve(demo_con):
    assert demo_con.execute("""
        SELECT count(*) FROM charges c LEFT JOIN payment_intents pi ON pi.id = c.payment_intent_id
        WHERE pi.id IS NULL""").fetchone()[0] == 0
    assert demo_con.execute("""
        SELECT count(*) FROM payment_intents pi
        LEFT JOIN invoice_payments ip ON ip.payment_intent_id = pi.id
        LEFT JOIN invoices i ON i.id = ip.invoice_id
        LEFT JOIN charges c ON c.id = pi.latest_charge_id
        WHERE i.id IS NULL OR (pi.latest_charge_id IS NOT NULL AND c.id IS NULL)""").fetchone()[0] == 0
    # A paid invoice's payment received exactly what it asked for, by one succeeded charge.
    assert demo_con.execute("""
        SELECT count(*) FROM invoices i JOIN invoice_payments ip ON ip.invoice_id = i.id
        JOIN payment_intents pi ON pi.id = ip.payment_intent_id
        WHERE i.status = 'paid' AND (ip.status <> 'paid' OR ip.amount_paid <> i.amount_due
              OR pi.amount_received <> i.amount_due OR pi.status <> 'succeeded'
              OR (SELECT count(*) FROM charges c WHERE c.payment_intent_id = pi.id
                  AND c.status = 'succeeded') <> 1)""").fetchone()[0] == 0


def test_refunds_never_exceed_their_charge(demo_con):
    assert demo_con.execute("""
        SELECT count(*) FROM charges c
        LEFT JOIN (SELECT charge_id, sum(amount) AS refunded FROM refunds GROUP BY 1) r
          ON r.charge_id = c.id
        WHERE coalesce(r.refunded, 0) > c.amount OR coalesce(r.refunded, 0) <> c.amount_refunded
           OR (r.refunded > 0 AND c.status <> 'succeeded')""").fetchone()[0] == 0
    assert demo_con.execute("SELECT count(*) FROM refunds").fetchone()[0] > 0


def test_invoice_totals_add_up(demo_con):
    assert demo_con.execute("""
        SELECT count(*) FROM invoices i JOIN (
            SELECT invoice_id, sum(amount) AS amount, sum(discount_amount) AS discount,
                   sum(tax_amount - inclusive_tax_amount) AS exclusive_tax
            FROM invoice_lines GROUP BY 1) l ON l.invoice_id = i.id
        WHERE i.subtotal <> l.amount OR i.total <> l.amount - l.discount + l.exclusive_tax
           OR i.amount_due <> greatest(i.total + json_extract(i.raw, '$.starting_balance')::BIGINT, 0)
        """).fetchone()[0] == 0
    assert demo_con.execute("""
        SELECT count(*) FROM invoice_line_taxes t JOIN invoice_lines l
          ON l.invoice_id = t.invoice_id AND l.id = t.line_id
        WHERE t.amount <> l.tax_amount""").fetchone()[0] == 0


def test_balance_transactions_carry_fees(demo_con):
    assert demo_con.execute("""
        SELECT count(*) FROM charges c LEFT JOIN balance_transactions b ON b.id = c.balance_transaction_id
        WHERE c.status = 'succeeded' AND (b.id IS NULL OR b.amount <> c.amount OR b.fee <= 0
              OR b.net <> b.amount - b.fee OR b.source_id <> c.id)""").fetchone()[0] == 0


def test_payments_fail_in_realistic_ways(demo_con):
    codes = {r[0] for r in demo_con.execute(
        "SELECT DISTINCT failure_code FROM charges WHERE status = 'failed'").fetchall()}
    assert "card_declined" in codes and len(codes) >= 3
    outcomes = {r[0] for r in demo_con.execute("SELECT DISTINCT outcome_type FROM charges").fetchall()}
    assert {"authorized", "issuer_declined"} <= outcomes
    ended = dict(demo_con.execute("""SELECT status, count(*) FROM invoices
        WHERE marked_uncollectible_at IS NOT NULL OR voided_at IS NOT NULL GROUP BY 1""").fetchall())
    assert "uncollectible" in ended and ended.keys() <= {"uncollectible", "void"}


def test_amounts_are_integer_minor_units(demo_objects):
    for obj in demo_objects:
        for path, key, value in walk(obj):
            if key in MONEY_KEYS and value is not None:
                assert isinstance(value, int) and not isinstance(value, bool), (obj["id"], path)


def test_nothing_happens_after_now_and_events_cover_30_days(demo_objects):
    for obj in demo_objects:
        assert obj["created"] <= NOW, obj["id"]
    events = [o for o in demo_objects if o["object"] == "event"]
    assert events and all(NOW - 30 * 86400 <= e["created"] for e in events)
    assert {"invoice.paid", "customer.subscription.created"} <= {e["type"] for e in events}


def test_objects_use_the_current_api_shape(demo_objects):
    by_type = defaultdict(list)
    for obj in demo_objects:
        by_type[obj["object"]].append(obj)
    for inv in by_type["invoice"]:
        assert not {"charge", "paid", "payment_intent", "subscription", "tax"} & inv.keys()
        assert inv["parent"]["subscription_details"]["subscription"].startswith("sub_")
        for line in inv["lines"]["data"]:
            assert line["object"] == "line_item" and "price" not in line
            assert line["pricing"]["price_details"]["price"].startswith("price_")
    for sub in by_type["subscription"]:
        assert "current_period_start" not in sub
        assert all("current_period_end" in i for i in sub["items"]["data"])
    for charge in by_type["charge"]:
        assert "invoice" not in charge and charge["payment_intent"].startswith("pi_")
    assert all("invoice" not in pi for pi in by_type["payment_intent"])


# Columns only older API shapes fill (the current API moved or dropped these fields).
OLD_SHAPE_ONLY = {("invoices", "charge_id"), ("invoices", "payment_intent_id"),
                  ("invoice_lines", "price_interval"), ("invoice_lines", "price_interval_count"),
                  ("invoice_lines", "price_usage_type"), ("invoice_payments", "charge_id"),
                  ("charges", "invoice_id"), ("payment_intents", "invoice_id")}


def test_every_column_the_loader_reads_is_filled(demo_con):
    """Each table is present and each typed column has values, except old-shape-only ones."""
    empty = set()
    for table in TABLES.values():
        counts = demo_con.execute("SELECT count(*), " + ", ".join(
            f'count("{c.name}")' for c in table.columns) + f" FROM {table.name}").fetchone()
        assert counts[0] > 0, table.name
        empty |= {(table.name, c.name) for c, n in zip(table.columns, counts[1:]) if n == 0}
    rare = {("invoices", "voided_at"), ("payment_intents", "cancellation_reason")}  # voids only
    assert OLD_SHAPE_ONLY <= empty <= OLD_SHAPE_ONLY | rare


def test_every_object_is_written_once(demo_con):
    """The demo inserts without upserting (a fresh file, ids unique by construction):
    a repeated key would be a duplicate row where a sync would have kept one."""
    for table in TABLES.values():
        key = ", ".join(table.key)
        repeated = demo_con.execute(f"SELECT {key}, count(*) FROM {table.name} GROUP BY ALL "
                                    "HAVING count(*) > 1 LIMIT 3").fetchall()
        assert repeated == [], table.name
    repeated = demo_con.execute("""SELECT invoice_id, line_id, tax_rate_id, count(*)
        FROM invoice_line_taxes GROUP BY ALL HAVING count(*) > 1 LIMIT 3""").fetchall()
    assert repeated == []
