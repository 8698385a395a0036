import duckdb

from etl.demo import generate_database
from etl.schema import TABLES

CHECKED = sorted(TABLES) + ["invoice_line_taxes", "demo_truth_mrr", "marketing_spend", "tally_meta"]


def checksums(path: str) -> dict[str, tuple]:
    con = duckdb.connect(path, read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*), sum(hash(x)) FROM {t} x").fetchone() for t in CHECKED}
    finally:
        con.close()


def test_same_seed_gives_identical_tables(tmp_path):
    first, second, other = (str(tmp_path / name) for name in ("a.duckdb", "b.duckdb", "c.duckdb"))
    generate_database(first, customers=60, seed=11, months=24)
    generate_database(second, customers=60, seed=11, months=24)
    generate_database(other, customers=60, seed=12, months=24)
    a, b, c = checksums(first), checksums(second), checksums(other)
    assert a == b
    assert a["invoices"][0] > 0 and a["demo_truth_mrr"][0] > 0
    assert a["invoices"] != c["invoices"]


def test_regenerating_replaces_the_database(tmp_path):
    path = str(tmp_path / "demo.duckdb")
    generate_database(path, customers=80, seed=1, months=24)
    generate_database(path, customers=50, seed=1, months=24)
    con = duckdb.connect(path, read_only=True)
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 50
    assert con.execute("SELECT value FROM tally_meta WHERE key = 'demo_customers'").fetchone()[0] == "50"


def test_worker_processes_give_the_same_database(tmp_path, monkeypatch):
    from etl.demo import batches
    monkeypatch.setattr(batches, "CUSTOMERS_PER_TASK", 7)  # many small tasks, in order
    alone, helped = str(tmp_path / "alone.duckdb"), str(tmp_path / "helped.duckdb")
    generate_database(alone, customers=50, seed=4, months=24, parallel=False)
    seen = []
    generate_database(helped, customers=50, seed=4, months=24, parallel=True,
                      progress=lambda done, total: seen.append((done, total)))
    assert checksums(alone) == checksums(helped)
    assert seen[-1] == (50, 50)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
