"""The demo generator's own answers, to check the pages against."""
import duckdb


def truth(db: str, sql: str, params=()):
    """The demo generator's own answer (demo_truth_mrr), read independently of the metrics."""
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()
