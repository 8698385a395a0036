"""CMRR with subscription schedules: the next phase's MRR minus the subscription's
MRR now, with exact numbers (metrics/committed.py, docs/metrics.md#cmrr)."""
from etl.load import load_objects
from metrics.committed import cmrr
from metrics.params import Params
from tests.metrics.builders import Account, ts
from tests.metrics.test_figures import subscription


def schedule(id, customer, sub, status, phases, **fields):
    """A schedule in today's shape; `phases`: (start, end, [(price, quantity)], coupon or None)."""
    return {"id": id, "object": "subscription_schedule", "customer": customer, "subscription": sub,
            "status": status, "created": ts("2024-03-02"), "livemode": False, "end_behavior": "release",
            "current_phase": {"start_date": ts(phases[0][0]), "end_date": ts(phases[0][1])},
            "phases": [{"start_date": ts(start), "end_date": ts(end), "currency": "usd",
                        "discounts": [{"coupon": coupon, "discount": None, "promotion_code": None}]
                        if coupon else [],
                        "items": [{"price": price, "quantity": quantity, "discounts": []}
                                  for price, quantity in items]}
                       for start, end, items, coupon in phases],
            **fields}


def account():
    acct = Account()
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2024-03-15T10:00:00+00:00')")
    for price, amount in (("p100", 10000), ("p50", 5000), ("p20", 2000)):
        acct.price(price, amount)
    acct.price("y1200", 120000, interval="year")  # 10000 a month
    load_objects(acct.con, "coupons", [{"id": "c25", "object": "coupon", "percent_off": 25.0,
                                        "duration": "forever", "created": ts("2020-01-01"),
                                        "livemode": False}])
    setups = (("cus_1", "p50", 1, {}), ("cus_2", "p100", 2, {}), ("cus_3", "p20", 1, {}),
              ("cus_4", "p100", 1, {"cancel_at_period_end": True}), ("cus_5", "p20", 1, {}))
    for customer, price, quantity, fields in setups:
        acct.customer(customer)
        subscription(acct, f"sub_{customer}", customer, price, **fields)
        acct.invoice(customer, f"sub_{customer}",
                     [acct.line(price, "2024-03-01", "2024-04-01", quantity=quantity)])
    now = ("2024-03-01", "2024-04-01")
    load_objects(acct.con, "subscription_schedules", [
        # an upgrade at renewal: 5000 -> 10000
        schedule("sub_sched_1", "cus_1", "sub_cus_1", "active",
                 [(*now, [("p50", 1)], None), ("2024-04-01", "2024-05-01", [("p100", 1)], None)]),
        # a downgrade with a 25% coupon: 2 x 10000 -> 2 x 5000 x 0.75
        schedule("sub_sched_2", "cus_2", "sub_cus_2", "active",
                 [(*now, [("p100", 2)], None), ("2024-04-01", "2024-05-01", [("p50", 2)], "c25")]),
        # released: its next phase never comes
        schedule("sub_sched_3", "cus_3", None, "released",
                 [(*now, [("p20", 1)], None), ("2024-04-01", "2024-05-01", [("p100", 5)], None)],
                 released_at=ts("2024-03-05"), released_subscription="sub_cus_3"),
        # cancelling at period end and scheduled: the cancellation wins
        schedule("sub_sched_4", "cus_4", "sub_cus_4", "active",
                 [(*now, [("p100", 1)], None), ("2024-04-01", "2024-05-01", [("p50", 1)], None)]),
    ])
    # An older shape (API versions before 2020-08-27): `plans`, `renewal_behavior`, `coupon`.
    load_objects(acct.con, "subscription_schedules", [{
        "id": "sub_sched_5", "object": "subscription_schedule", "customer": "cus_5",
        "subscription": "sub_cus_5", "status": "active", "created": ts("2024-03-02"),
        "livemode": False, "renewal_behavior": "release", "renewal_interval": None,
        "current_phase": {"start_date": ts("2024-03-01"), "end_date": ts("2024-04-01")},
        "phases": [{"start_date": ts("2024-03-01"), "end_date": ts("2024-04-01"), "coupon": None,
                    "plans": [{"plan": "p20", "quantity": 1}]},
                   {"start_date": ts("2024-04-01"), "end_date": ts("2025-04-01"), "coupon": None,
                    "plans": [{"plan": {"id": "y1200", "object": "plan"}, "quantity": 1}]}]}],
        api_version="2019-05-16")
    return acct


def test_next_phases_raise_and_lower_mrr_released_and_cancelling_ones_do_not_count():
    row = cmrr(account().con, Params()).iloc[0]
    assert row["mrr"] == 39000  # 5000 + 20000 + 2000 + 10000 + 2000
    assert row["scheduled_cancellations"] == -10000  # cus_4
    # cus_1 +5000, cus_2 7500 - 20000 = -12500, cus_5 10000 - 2000 = +8000
    assert row["scheduled_phase_changes"] == 500
    assert (row["next_phases"], row["cancelling_subscriptions"]) == (3, 1)
    assert row["cmrr"] == 29500


def test_schedule_rows_keep_both_shapes():
    con = account().con
    assert con.execute("SELECT id, subscription_id, status, end_behavior, current_phase_start "
                       "FROM subscription_schedules WHERE id IN ('sub_sched_3', 'sub_sched_5') "
                       "ORDER BY id").fetchall() == [
        ("sub_sched_3", None, "released", "release", con.execute(
            f"SELECT to_timestamp({ts('2024-03-01')})::TIMESTAMP").fetchone()[0]),
        ("sub_sched_5", "sub_cus_5", "active", "release", con.execute(
            f"SELECT to_timestamp({ts('2024-03-01')})::TIMESTAMP").fetchone()[0])]
    assert con.execute("SELECT phase, price_id, quantity FROM subscription_schedule_phase_items "
                       "WHERE schedule_id = 'sub_sched_5' ORDER BY phase").fetchall() == [
        (0, "p20", 1), (1, "y1200", 1)]


def test_a_schedule_reloaded_replaces_its_phases():
    acct = account()
    load_objects(acct.con, "subscription_schedules", [
        schedule("sub_sched_1", "cus_1", "sub_cus_1", "active",
                 [("2024-03-01", "2024-04-01", [("p50", 1)], None),
                  ("2024-04-01", "2024-05-01", [("p50", 3)], None)])])
    assert acct.con.execute("SELECT count(*) FROM subscription_schedule_phase_items "
                            "WHERE schedule_id = 'sub_sched_1'").fetchone()[0] == 2
    row = cmrr(acct.con, Params()).iloc[0]
    assert row["scheduled_phase_changes"] == 10000 - 12500 + 8000  # cus_1 now +10000


def test_one_customers_cmrr():
    acct = account()
    row = cmrr(acct.con, Params(extra={"customer_id": "cus_2"})).iloc[0]
    assert (row["mrr"], row["scheduled_phase_changes"], row["cmrr"]) == (20000, -12500, 7500)


def test_inclusive_tax_rates_of_a_phase_are_not_mrr():
    acct = account()
    load_objects(acct.con, "tax_rates", [{"id": "txr_in", "object": "tax_rate", "percentage": 25.0,
                                          "inclusive": True, "created": ts("2020-01-01"),
                                          "livemode": False}])
    upgrade = schedule("sub_sched_1", "cus_1", "sub_cus_1", "active",
                       [("2024-03-01", "2024-04-01", [("p50", 1)], None),
                        ("2024-04-01", "2024-05-01", [("p100", 1)], None)])
    upgrade["phases"][1]["default_tax_rates"] = [{"id": "txr_in", "object": "tax_rate"}]
    load_objects(acct.con, "subscription_schedules", [upgrade])
    row = cmrr(acct.con, Params()).iloc[0]
    assert row["scheduled_phase_changes"] == (8000 - 5000) - 12500 + 8000  # 10000 holds 2000 of tax


def test_a_plan_filter_sees_a_phase_move_a_subscription_out_of_and_into_the_plan():
    acct = Account()
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2024-03-15T10:00:00+00:00')")
    acct.price("basic", 5000, product="prod_basic")
    acct.price("pro", 10000, product="prod_pro")
    acct.customer("cus_1")
    subscription(acct, "sub_1", "cus_1", "basic")
    acct.invoice("cus_1", "sub_1", [acct.line("basic", "2024-03-01", "2024-04-01")])
    load_objects(acct.con, "subscription_schedules", [
        schedule("sub_sched_1", "cus_1", "sub_1", "active",
                 [("2024-03-01", "2024-04-01", [("basic", 1)], None),
                  ("2024-04-01", "2024-05-01", [("pro", 1)], None)])])
    every = cmrr(acct.con, Params()).iloc[0]
    assert (every["mrr"], every["scheduled_phase_changes"], every["cmrr"]) == (5000, 5000, 10000)
    basic = cmrr(acct.con, Params(plans=("prod_basic",))).iloc[0]
    assert (basic["mrr"], basic["scheduled_phase_changes"], basic["cmrr"]) == (5000, -5000, 0)
    pro = cmrr(acct.con, Params(plans=("prod_pro",))).iloc[0]  # no MRR now: the phase alone
    assert (pro["mrr"], pro["scheduled_phase_changes"], pro["cmrr"], pro["next_phases"]) == (0, 10000, 10000, 1)


def test_a_schedule_not_started_yet_adds_its_first_phase():
    acct = account()
    acct.customer("cus_6")
    load_objects(acct.con, "subscription_schedules", [
        schedule("sub_sched_6", "cus_6", None, "not_started",
                 [("2024-04-01", "2025-04-01", [("y1200", 2)], None)], current_phase=None)])
    row = cmrr(acct.con, Params()).iloc[0]
    assert (row["scheduled_phase_changes"], row["next_phases"]) == (500 + 20000, 4)
