"""One small account whose every movement is known (see METRICS.md examples).

Price $50 a unit, monthly, invoices on the 1st, January to June 2024:
  A: 2 units Jan-Mar, 3 units Apr-Jun          -> new Jan, expansion Apr (+50)
  B: 2 units Jan-Feb, 1 unit Mar-Jun           -> new Jan, contraction Mar (-50)
  C: 1 unit Jan-Feb, none Mar, 1 unit Apr-Jun  -> new Jan, churn Mar, reactivation Apr
  D: 4 units Mar-Jun                           -> new Mar (+200)
  F: one period from Mar 5, canceled Mar 20    -> new and churned inside March
MRR (cents): Jan 25000, Feb 25000, Mar 35000, Apr-Jun 45000.
"""
from tests.metrics.builders import Account, ts


def build() -> Account:
    acct = Account()
    acct.price("unit", 5000)
    plan = {"A": [2, 2, 2, 3, 3, 3], "B": [2, 2, 1, 1, 1, 1], "C": [1, 1, 0, 1, 1, 1],
            "D": [0, 0, 4, 4, 4, 4]}
    for name, quantities in plan.items():
        customer, sub = f"cus_{name}", f"sub_{name}"
        acct.customer(customer, country="US" if name != "D" else "DE")
        acct.subscription(sub, customer)
        for index, quantity in enumerate(quantities):
            if quantity:
                start, end = f"2024-{index + 1:02d}-01", f"2024-{index + 2:02d}-01"
                acct.invoice(customer, sub, [acct.line("unit", start, end, quantity=quantity)])
    acct.customer("cus_F")
    acct.subscription("sub_F", "cus_F", status="canceled", ended_at=ts("2024-03-20"))
    acct.invoice("cus_F", "sub_F", [acct.line("unit", "2024-03-05", "2024-04-05")])
    return acct
