"""The demo customers carry realistic Stripe metadata that segments can use."""
from etl.demo import generate_objects
from etl.demo.customer_metadata import CHANNELS, INDUSTRIES, SALES_LED
from metrics.params import Params
from metrics.segments import segment_values

KEYS = {"channel", "industry", "company_size", "sales_motion"}


def test_every_customer_has_the_four_keys(demo_objects):
    customers = [o for o in demo_objects if o.get("object") == "customer"]
    assert customers and all(set(c["metadata"]) == KEYS for c in customers)
    channels = {v for weighted in CHANNELS.values() for v, _ in weighted}
    for c in customers:
        meta = c["metadata"]
        assert meta["channel"] in channels and meta["company_size"] in SALES_LED
        assert meta["industry"] in {v for v, _ in INDUSTRIES}
        assert meta["sales_motion"] in ("self-serve", "sales-led")
        assert meta["channel"] in {v for v, _ in CHANNELS[meta["sales_motion"]]}


def test_metadata_is_deterministic_by_seed():
    def metadata(seed):
        return [o["metadata"] for o in generate_objects(customers=20, seed=seed, months=6)
                if o.get("object") == "customer"]
    assert metadata(5) == metadata(5)
    assert metadata(5) != metadata(6)


def test_bigger_plans_bring_bigger_companies_sold_by_sales(demo_con):
    rows = demo_con.execute("""
        SELECT raw->'$.metadata'->>'sales_motion' AS motion, count(*) FROM customers GROUP BY ALL""").fetchall()
    counts = dict(rows)
    assert counts["self-serve"] > counts["sales-led"] > 0


def test_segment_values_lists_the_demo_keys(demo_con):
    found = segment_values(demo_con, Params())
    customer = found[found["object_type"] == "customer"]
    assert set(customer["key"]) == KEYS
    channel = customer[customer["key"] == "channel"]
    assert list(channel["objects"]) == sorted(channel["objects"], reverse=True)  # most common first
    assert channel["objects"].sum() == demo_con.execute("SELECT count(*) FROM customers").fetchall()[0][0]
