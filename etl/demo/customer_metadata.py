"""The demo customers' Stripe metadata: what a SaaS keeps on its customers.

Keys `channel`, `industry`, `company_size` and `sales_motion`, drawn from a
random stream of their own (seed, index), so adding them changes nothing else
the simulation draws. Bigger plans bring bigger companies, which are more
often sold to by a sales team and found through outbound or partners.
"""
from __future__ import annotations

import random

from etl.demo.state import Customer

INDUSTRIES = (("software", 30), ("ecommerce", 18), ("fintech", 12), ("healthcare", 10),
              ("education", 9), ("agency", 12), ("media", 9))
# first plan -> company sizes with weights
SIZES = {"prod_demo_starter": (("1-10", 70), ("11-50", 27), ("51-200", 3)),
         "prod_demo_team": (("1-10", 15), ("11-50", 55), ("51-200", 27), ("201-1000", 3)),
         "prod_demo_business": (("11-50", 10), ("51-200", 40), ("201-1000", 35), ("1000+", 15))}
SALES_LED = {"1-10": 0.02, "11-50": 0.1, "51-200": 0.45, "201-1000": 0.75, "1000+": 0.9}
CHANNELS = {"self-serve": (("organic", 45), ("paid_search", 25), ("referral", 20), ("partner", 10)),
            "sales-led": (("outbound", 45), ("partner", 25), ("referral", 15), ("organic", 15))}


def _pick(rng: random.Random, weighted) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def customer_metadata(customer: Customer, seed: int) -> dict[str, str]:
    rng = random.Random(f"demo-metadata-{seed}-{customer.index}")
    first_plan = next((item.price.product for sub in customer.subscriptions for item in sub.items),
                      "prod_demo_starter")
    size = _pick(rng, SIZES.get(first_plan, SIZES["prod_demo_team"]))
    motion = "sales-led" if rng.random() < SALES_LED[size] else "self-serve"
    return {"channel": _pick(rng, CHANNELS[motion]), "industry": _pick(rng, INDUSTRIES),
            "company_size": size, "sales_motion": motion}
