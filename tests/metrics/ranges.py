"""The account shared by the range tests of the metrics and of the dashboard's export page."""
from etl.load import connect, load_objects
from tests.metrics.builders import Account, ts


def annual_only_db(path: str) -> str:
    """Two yearly customers; the newest invoice is March 2025, the sync ran on 20 Nov 2025."""
    acct = Account(connect(path))
    acct.price("year_1200", 120000, "year")
    acct.price("year_2400", 240000, "year")
    for name, price, start, end in (("a", "year_1200", "2025-03-01", "2026-03-01"),
                                    ("b", "year_2400", "2024-05-01", "2025-05-01")):
        acct.customer(f"cus_{name}")
        acct.subscription(f"sub_{name}", f"cus_{name}")
        acct.invoice(f"cus_{name}", f"sub_{name}", [acct.line(price, start, end)])
    load_objects(acct.con, "charges", [
        {"id": f"ch_{day}", "object": "charge", "amount": 1000, "currency": "usd",
         "status": "succeeded", "created": ts(day)}
        for day in ("2024-10-31", "2024-11-01", "2025-10-31", "2025-11-02")])
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2025-11-20T08:00:00+00:00')")
    acct.con.close()
    return path
